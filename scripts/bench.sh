#!/usr/bin/env bash
# Install what the benchmarks need (Debian packages such as tmux, then the project into .venv) and run
# the whole suite: writes bench/RESULTS.md and bench/results.json. Extra arguments go to bench/run.py
# (e.g. --quick, --only startup).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/system-deps.sh
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
TERM="${TERM:-xterm-256color}" .venv/bin/python bench/run.py "$@"
