#!/usr/bin/env bash
# Set up (scripts/setup.sh) and build the HTML book into _build/html, executing every page.
# Exits non-zero if any cell raises or Sphinx warns (-W). Extra arguments go to jupyter-book.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup.sh"
venv=${DLBOOK_VENV:-$root/.venv}
# Results shared by the zh and en pages; keyed on the dlbook source, so stale entries are never used.
export DLBOOK_CACHE_DIR=${DLBOOK_CACHE_DIR:-$root/_build/dlbook-cache}
export MPLBACKEND=Agg PYTHONHASHSEED=0
start=$(date +%s)
"$venv/bin/jupyter-book" build "$root" --builder html -W --keep-going "$@"
echo "book: built $root/_build/html/index.html in $(( $(date +%s) - start )) s"
