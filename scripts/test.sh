#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the test suite. Extra arguments go to pytest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup.sh"
venv=${DLBOOK_VENV:-$root/.venv}
cd "$root"
export MPLBACKEND=Agg PYTHONHASHSEED=0
"$venv/bin/python" -m pytest "$@"
