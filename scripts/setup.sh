#!/usr/bin/env bash
# Idempotent set-up: a CJK font for figures, Debian's fortunes-zh (chapter 6's Tang poems), a virtual
# environment in .venv, PyTorch (CPU build unless one is already installed), and dlbook with its extras.
#   DLBOOK_VENV        where the venv lives (default: .venv in the repository)
#   DLBOOK_TORCH_SPEC  the torch requirement to install when torch is missing
#                      (default: torch==2.13.0, the CPU build on the project machines)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${DLBOOK_VENV:-$root/.venv}
python=${PYTHON:-python3}

apt_updated=
apt_install() {  # as root, where apt-get exists: install Debian packages (one index update per run)
  [ -n "$apt_updated" ] || { apt-get update -qq >/dev/null; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; }

have_cjk_font() { fc-list :lang=zh 2>/dev/null | grep -q .; }
if ! have_cjk_font; then
  if can_apt; then
    echo "setup: installing a CJK font (fonts-wqy-microhei) for Chinese figure labels"
    apt_install fonts-wqy-microhei
  else
    echo "setup: no CJK font found; install one (e.g. fonts-wqy-microhei or fonts-noto-cjk)" >&2
    exit 1
  fi
fi

# Debian's fortunes-zh: the Tang poems that chapter 6's character language model trains on.
tang_poems=/usr/share/games/fortunes/tang300
if [ ! -f "$tang_poems" ]; then
  if can_apt; then
    echo "setup: installing fortunes-zh (the Tang poems of chapter 6, $tang_poems)"
    apt_install fortunes-zh
  else
    echo "setup: $tang_poems not found; install Debian's fortunes-zh" \
         "(sudo apt-get install fortunes-zh): chapter 6 trains on its Tang poems" >&2
    exit 1
  fi
fi

# Headless Chromium and its driver for the browser check of the built site (scripts/browser_check.py).
# Without them the check is skipped outside CI and fails in CI (CI set).
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  if can_apt; then
    echo "setup: installing chromium and chromium-driver for the browser check"
    apt_install chromium chromium-driver
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
