#!/usr/bin/env bash
# Time `make install` into a fresh venv and report its size.
#     bash bench/setup_time.sh
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(mktemp -d)/venv
start=$(date +%s.%N)
make install VENV="$venv" > /dev/null
end=$(date +%s.%N)
printf 'make install (fresh venv): %.0f s\n' "$(echo "$end - $start" | bc)"
printf 'venv size: %s\n' "$(du -sh "$venv" | cut -f1)"
"$venv/bin/python" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"
rm -rf "$(dirname "$venv")"
