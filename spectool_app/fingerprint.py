"""Short digests of the weights a bench runs with, so that a resumed bench cannot mix models.

A bench can take many sittings; between two of them someone may retrain the target or the
verifier. ``bench_fingerprints`` names what each role ran with: a digest of its folder's files
when it was loaded from a folder, else its name (a hub id or a served model, whose weights are
not ours to read). ``changed_roles`` compares a plan's fingerprints with the current ones.
eval-verifiers records ``model_fingerprints`` so that ``--update`` cannot merge two targets.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Mapping, Optional

WHOLE_FILE_LIMIT = 64 * 2**20  # files up to this size are hashed in full
EDGE_BYTES = 2**20  # of larger files (multi-GB weights): size, first and last MiB


def folder_digest(folder: str | Path, whole_file_limit: int = WHOLE_FILE_LIMIT) -> str:
    """``sha256:<16 hex>`` over the names, sizes and contents of the files directly in ``folder``.

    Files larger than ``whole_file_limit`` contribute their first and last MiB only, so that a
    16 GB checkpoint is fingerprinted in milliseconds; any retraining changes both ends.
    """
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(folder).iterdir() if p.is_file()):
        size = path.stat().st_size
        digest.update(f"{path.name}\0{size}\0".encode())
        with path.open("rb") as handle:
            if size <= whole_file_limit:
                digest.update(handle.read())
            else:
                digest.update(handle.read(EDGE_BYTES))
                handle.seek(size - EDGE_BYTES)
                digest.update(handle.read(EDGE_BYTES))
    return "sha256:" + digest.hexdigest()[:16]


def source_fingerprint(source: Optional[str], fallback: str) -> str:
    """The folder digest when ``source`` is a folder, else ``fallback`` (a name or hub id)."""
    if source and Path(source).is_dir():
        return folder_digest(source)
    return fallback


def model_fingerprints(models: Mapping[str, Any]) -> dict[str, str]:
    """Role -> fingerprint of chat models: loaded ones (their ``source`` folder or hub id, else
    their ``name``) or preset specs (strings: a folder, a hub id or an ``openai:`` spec)."""
    prints = {}
    for role, model in models.items():
        if isinstance(model, str):
            prints[role] = source_fingerprint(model, model)
        else:
            source = getattr(model, "source", None)  # a hub id here matches the preset spec it came from
            prints[role] = source_fingerprint(source, str(source or getattr(model, "name", role)))
    return prints


def bench_fingerprints(models: Mapping[str, Any], verifier_folder: Optional[str | Path]) -> dict[str, str]:
    """Role -> fingerprint for the chat models (see :func:`model_fingerprints`) and the trained
    verifier folder (``"absent"`` when there is none)."""
    prints = model_fingerprints(models)
    if verifier_folder is not None and Path(verifier_folder).is_dir():
        prints["verifier"] = folder_digest(verifier_folder)
    else:
        prints["verifier"] = "absent"
    return prints


def changed_roles(planned: Mapping[str, str], current: Mapping[str, str]) -> list[str]:
    """Roles whose fingerprint differs (or appeared or vanished) between a plan and now."""
    return sorted(role for role in set(planned) | set(current) if planned.get(role) != current.get(role))
