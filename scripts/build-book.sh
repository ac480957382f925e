#!/usr/bin/env bash
# Set up (scripts/setup.sh) and build the HTML book into _build/html, executing every page:
# the zh and en editions as two sites (_build/html/zh, _build/html/en) and a landing page.
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
export DLBOOK_BOOK_BUILD=1  # dlbook.plotting.figure glues figures for {glue:figure} instead of showing them
start=$(date +%s)
# two editions (zh, en), each a site in its own language, and the landing page: see scripts/editions.py
"$venv/bin/python" "$root/scripts/editions.py" "$venv/bin/jupyter-book" "$book" "$@"
echo "book: built $book/_build/html/index.html in $(( $(date +%s) - start )) s"
# the site in headless Chromium: console errors, failed requests, math, images, mirror links, search
"$venv/bin/python" "$root/scripts/browser_check.py" "$book/_build/html"
