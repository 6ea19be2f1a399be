#!/usr/bin/env bash
# Every benchmark with its baseline beside it, one table of ratios (bench/run_all.py explains).
#   bench/run_all.sh            # the README figures (about 6 minutes on the 2-core machine, wheel built)
#   bench/run_all.sh --quick    # smaller inputs, a look
#   bench/run_all.sh --only table code
# Needs the project's venv with the wheel installed (bash scripts/test.sh makes both).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  echo "no .venv: run bash scripts/test.sh first (it builds the wheel and installs it there)" >&2
  exit 2
fi
exec .venv/bin/python bench/run_all.py "$@"
