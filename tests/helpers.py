"""Small helpers shared by tests (no fixtures with hidden state)."""

from __future__ import annotations

import difflib
import os
import re
import socket
import subprocess
import sys
import string
import time
import urllib.request
from pathlib import Path
from typing import Iterable

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``python -m spectool_app ARGS`` in a fresh process from the project root."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "spectool_app", *args], cwd=ROOT, env=full_env,
        capture_output=True, text=True, timeout=timeout,
    )


def wait_for_http(url: str, timeout: float = 90) -> int:
    """Poll ``url`` until it answers; returns the HTTP status. Raises TimeoutError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def placeholders(template: str) -> set[str]:
    """The ``{field}`` names a format template uses."""
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def closest(phrasing: str, others: Iterable[str]) -> float:
    """How near ``phrasing`` comes to any of ``others`` (difflib ratio on lowercased letters and digits)."""
    def bare(text: str) -> str:
        return re.sub(r"[\W_]+", "", text.lower())
    return max((difflib.SequenceMatcher(None, bare(phrasing), bare(o)).ratio() for o in others), default=0.0)
