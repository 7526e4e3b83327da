"""SpecTool's configuration: one frozen dataclass, defaults in code, ``SPECTOOL_*`` overrides.

Every field can be overridden by an environment variable named ``SPECTOOL_<FIELD>``
(upper case), e.g. ``SPECTOOL_DB_URL=postgresql://...``. No configuration framework.
This module knows nothing about models, tasks or the UI.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EXIT_INTERRUPTED = 130  # exit code of a command or bench worker stopped by Ctrl-C (the shell's code for it)


def _default_data_dir() -> Path:
    """``/data`` on a Hugging Face Space (persistent storage), else ``<project>/data``."""
    space_dir = Path("/data")
    if space_dir.is_dir() and os.access(space_dir, os.W_OK):
        return space_dir / "spectool"
    return PROJECT_ROOT / "data"


@dataclass(frozen=True)
class Config:
    """Settings shared by the CLI, the benchmark and the app."""

    data_dir: str = str(_default_data_dir())  # where the database and run artifacts live
    db_url: str = ""  # SQLAlchemy URL; "" means an SQLite file <data_dir>/spectool.db
    preset: str = "embedded"  # model preset: "embedded" (offline checkpoints) or "qwen3"
    host: str = "127.0.0.1"  # where `python app.py` serves
    port: int = 7860  # Gradio's usual port

    @property
    def database_url(self) -> str:
        """The effective SQLAlchemy URL."""
        return self.db_url or f"sqlite:///{Path(self.data_dir) / 'spectool.db'}"


def _coerce(raw: str, current: object, name: str) -> object:
    if isinstance(current, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(current, int):
        try:
            return int(raw)
        except ValueError as exc:
            raise ValueError(f"SPECTOOL_{name.upper()} must be an integer, got {raw!r}") from exc
    return raw


def load_config(**overrides: object) -> Config:
    """Defaults, then ``SPECTOOL_*`` environment variables, then explicit ``overrides``."""
    config = Config()
    env_values: dict[str, object] = {}
    for f in fields(Config):
        raw = os.environ.get(f"SPECTOOL_{f.name.upper()}")
        if raw is not None:
            env_values[f.name] = _coerce(raw, getattr(config, f.name), f.name)
    unknown = set(overrides) - {f.name for f in fields(Config)}
    if unknown:
        allowed = ", ".join(f.name for f in fields(Config))
        raise ValueError(f"unknown config field(s) {sorted(unknown)}; allowed: {allowed}")
    return replace(config, **env_values, **overrides)
