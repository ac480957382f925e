#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the test suite. Extra arguments go to pytest.
# The tests are spread over the cores by pytest-xdist (one worker per core; work stealing evens out the
# long chapter runs of the broken-library test). `-n 0` runs them all in this process instead.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup.sh"
venv=${DLBOOK_VENV:-$root/.venv}
cd "$root"
export MPLBACKEND=Agg PYTHONHASHSEED=0
"$venv/bin/python" -m pytest -p no:cacheprovider -n auto --dist worksteal "$@"
