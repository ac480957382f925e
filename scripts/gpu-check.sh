#!/usr/bin/env bash
# The GPU check to run when a CUDA machine is at hand (CI has none): the gpu-marked tests, then every
# chapter's cells, whose torch parts pick CUDA through dlbook.devices.best_device().
# Prints the card and the date so the result can be recorded. Assumes scripts/setup.sh has run
# with a CUDA build of torch.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-$root/.venv/bin/python}
cd "$root"
date -u
"$py" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print('card:', torch.cuda.get_device_name(0), '| torch', torch.__version__)" || exit 1
status=0
"$py" -m pytest -q -m gpu -p no:cacheprovider || status=1
export DLBOOK_CACHE_DIR=off
for page in book/en/0[1-9]_*.md; do
  start=$SECONDS
  "$py" scripts/pages.py "$page" > /tmp/gpu-check-page.log 2>&1 || { status=1; tail -20 /tmp/gpu-check-page.log; }
  echo "$(tail -1 /tmp/gpu-check-page.log) in $((SECONDS - start)) s"
done
exit $status
