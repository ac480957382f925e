#!/usr/bin/env bash
# Idempotent set-up: a CJK font for figures, a virtual environment in .venv,
# PyTorch (CPU build unless one is already installed), and dlbook with its extras.
#   DLBOOK_VENV        where the venv lives (default: .venv in the repository)
#   DLBOOK_TORCH_SPEC  the torch requirement to install when torch is missing
#                      (default: torch==2.13.0, the CPU build on the project machines)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${DLBOOK_VENV:-$root/.venv}
python=${PYTHON:-python3}

have_cjk_font() { fc-list :lang=zh 2>/dev/null | grep -q .; }
if ! have_cjk_font; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing a CJK font (fonts-wqy-microhei) for Chinese figure labels"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei >/dev/null
  else
    echo "setup: no CJK font found; install one (e.g. fonts-wqy-microhei or fonts-noto-cjk)" >&2
    exit 1
  fi
fi

# Headless Chromium and its driver for the browser check of the built site (scripts/browser_check.py).
# Without them the check is skipped outside CI and fails in CI (CI set).
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing chromium and chromium-driver for the browser check"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    echo "setup: chromium/chromedriver not found: the browser check of the built book is skipped" \
         "(an error in CI); install them with: sudo apt-get install chromium chromium-driver" >&2
  fi
fi

if [ ! -x "$venv/bin/python" ]; then
  echo "setup: creating $venv"
  "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)

if ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
  spec=${DLBOOK_TORCH_SPEC:-torch==2.13.0}
  echo "setup: installing $spec"
  "${pip[@]}" install "$spec"
fi

stamp="$venv/.dlbook-installed"
if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ]; then
  echo "setup: installing dlbook[book,test] (editable)"
  "${pip[@]}" install -e "$root[book,test]"
  touch "$stamp"
fi
