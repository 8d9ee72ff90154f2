#!/usr/bin/env bash
# Install everything the tests need (Debian packages, then the project into .venv) and run
# ruff, mypy, the import contracts and the whole pytest suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/system-deps.sh
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
echo "== ruff"
.venv/bin/ruff check holysheep_tui tests bench scripts
echo "== mypy"
.venv/bin/mypy
echo "== import contracts"
.venv/bin/lint-imports
echo "== pytest"
TERM="${TERM:-xterm-256color}" .venv/bin/pytest "$@"
