#!/usr/bin/env bash
# Set up (scripts/setup.sh) and build the HTML book into _build/html, executing every page.
# Exits non-zero if any cell raises or Sphinx warns (-W). Extra arguments go to jupyter-book.
#   DLBOOK_BOOK_ROOT  the book to build (default: this repository; the tests build trimmed copies)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup.sh"
venv=${DLBOOK_VENV:-$root/.venv}
# Results shared by the zh and en pages; keyed on the dlbook source, so stale entries are never used.
book=${DLBOOK_BOOK_ROOT:-$root}
export DLBOOK_CACHE_DIR=${DLBOOK_CACHE_DIR:-$book/_build/dlbook-cache}
export PYTHONHASHSEED=0  # no MPLBACKEND here: the kernels need their inline backend
start=$(date +%s)
"$venv/bin/jupyter-book" build "$book" --builder html -W --keep-going "$@"
echo "book: built $book/_build/html/index.html in $(( $(date +%s) - start )) s"
