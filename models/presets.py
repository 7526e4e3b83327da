"""Named model line-ups (drafter, target, verifier base) and the spec strings that load them.

A *spec* names one model: a local folder, a hub id (``Qwen/Qwen3-8B``, loaded from the local
cache unless ``SPECTOOL_ALLOW_DOWNLOAD=1``), or ``openai:<base_url>#<model>`` for an
OpenAI-compatible server. Presets:

- ``embedded``: the tiny checkpoints under ``models/embedded/{drafter,target}`` (built by
  ``python -m spectool_app train-defaults``);
- ``qwen3``: Qwen3-1.7B drafter, Qwen3-8B target, Qwen3-4B as the verifier's base model.

``SPECTOOL_PRESET`` picks the preset; ``SPECTOOL_DRAFTER`` / ``SPECTOOL_TARGET`` override one
role with a spec. This module does not know how a verifier is built from its base model: it
only hands out the spec (``preset_specs(...)["verifier_base"]``).
"""

from __future__ import annotations

import os
from pathlib import Path

from models.base import ChatModel, ModelUnavailableError

EMBEDDED_DIR = Path(__file__).with_name("embedded")  # where train-defaults writes the checkpoints
TRAIN_COMMAND = "python -m spectool_app train-defaults"
OPENAI_PREFIX = "openai:"
CHAT_ROLES = ("drafter", "target")  # roles load_preset returns as ChatModels
ROLE_ENV = {"drafter": "SPECTOOL_DRAFTER", "target": "SPECTOOL_TARGET"}
DEFAULT_PRESET = "embedded"

PRESETS: dict[str, dict[str, str | None]] = {
    "embedded": {
        "drafter": str(EMBEDDED_DIR / "drafter"),
        "target": str(EMBEDDED_DIR / "target"),
        "verifier_base": None,  # the embedded verifier is not built from a chat model
    },
    "qwen3": {
        "drafter": "Qwen/Qwen3-1.7B",
        "target": "Qwen/Qwen3-8B",
        "verifier_base": "Qwen/Qwen3-4B",
    },
}


def preset_name(name: str | None = None) -> str:
    """``name``, else ``SPECTOOL_PRESET``, else ``embedded``; unknown names raise ValueError."""
    chosen = name or os.environ.get("SPECTOOL_PRESET") or DEFAULT_PRESET
    if chosen not in PRESETS:
        raise ValueError(f"unknown model preset {chosen!r}; valid presets: {', '.join(sorted(PRESETS))}")
    return chosen


def preset_specs(name: str | None = None) -> dict[str, str | None]:
    """The spec of every role in a preset, after ``SPECTOOL_DRAFTER`` / ``SPECTOOL_TARGET`` overrides."""
    specs = dict(PRESETS[preset_name(name)])
    for role, variable in ROLE_ENV.items():
        if os.environ.get(variable):
            specs[role] = os.environ[variable]
    return specs


def _is_embedded(spec: str) -> bool:
    try:
        return Path(spec).resolve().is_relative_to(EMBEDDED_DIR.resolve())
    except OSError:
        return False


def _display(spec: str) -> str:
    return f"embedded/{Path(spec).name}" if _is_embedded(spec) else spec


def check_available(spec: str, role: str) -> None:
    """Fail fast, before any loading, when an embedded checkpoint has not been built.

    Raises:
        ModelUnavailableError: naming ``python -m spectool_app train-defaults``.
    """
    if spec.startswith(OPENAI_PREFIX) or not _is_embedded(spec):
        return
    if not (Path(spec) / "config.json").is_file():
        variable = ROLE_ENV.get(role, "SPECTOOL_" + role.upper())
        raise ModelUnavailableError(
            f"the embedded {role} checkpoint is missing ({_display(spec)}); build it with "
            f"`{TRAIN_COMMAND}`, or set {variable} to a local model folder, a hub id or "
            "openai:<base_url>#<model> (or choose SPECTOOL_PRESET=qwen3)"
        )


def load_model(spec: str, role: str = "model", preset: str | None = None) -> ChatModel:
    """Load one ChatModel from a spec (local folder, hub id or ``openai:<base_url>#<model>``).

    Raises:
        ValueError: a malformed ``openai:`` spec.
        ModelUnavailableError: the weights are missing; the message says how to provide them.
    """
    if spec.startswith(OPENAI_PREFIX):
        url, sep, model = spec[len(OPENAI_PREFIX) :].partition("#")
        if not sep or not url or not model:
            raise ValueError(f"bad {role} spec {spec!r}; expected openai:<base_url>#<model>")
        from models.openai_chat import OpenAIChatModel

        return OpenAIChatModel(url, model)
    check_available(spec, role)
    from models.transformers_chat import TransformersChatModel

    try:
        return TransformersChatModel(spec, name=f"{role}:{_display(spec)}")
    except ModelUnavailableError as exc:
        where = f"preset {preset!r}, " if preset else ""
        raise ModelUnavailableError(f"{where}{role}: {exc}") from exc


def load_preset(name: str | None = None) -> dict[str, ChatModel]:
    """Load the drafter and the target of a preset (see module docstring).

    Args:
        name: preset name; None reads ``SPECTOOL_PRESET`` (default ``embedded``).

    Returns:
        ``{"drafter": ChatModel, "target": ChatModel}``.

    Raises:
        ValueError: unknown preset (the message lists the valid ones) or a malformed spec.
        ModelUnavailableError: a role's weights are missing.
    """
    chosen = preset_name(name)
    specs = preset_specs(chosen)
    for role in CHAT_ROLES:
        check_available(str(specs[role]), role)
    return {role: load_model(str(specs[role]), role, chosen) for role in CHAT_ROLES}
