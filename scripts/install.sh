#!/usr/bin/env bash
# Creates ./.venv (if missing) and installs SpecTool's pinned dependencies into it.
#   bash scripts/install.sh          runtime only (enough for `python app.py`)
#   bash scripts/install.sh --dev    runtime + test dependencies
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
"${PIP[@]}" -r requirements.txt
"${PIP[@]}" --no-deps -r requirements-nodeps.txt
if [ "${1:-}" = "--dev" ]; then
  "${PIP[@]}" -r requirements-dev.txt
fi
