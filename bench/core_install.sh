#!/usr/bin/env bash
# The core install (`pip install ftevals`, no extras) in a fresh venv: its size, that torch is
# absent, that every module imports (or names its missing extra) without touching the
# environment or the network, and a remote eval through plain `oaieval` and `ftevals run`
# against the loopback fake OpenAI server.
#     bash bench/core_install.sh [VENV_DIR]      (default: a temporary directory, removed)
#     REUSE=1 bash bench/core_install.sh VENV_DIR   (skip the install: checks only)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
keep=${1:-}
venv=${keep:-$(mktemp -d)/venv}
work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
  if [ -z "$keep" ]; then rm -rf "$(dirname "$venv")"; fi
}
trap cleanup EXIT
export PIP_DISABLE_PIP_VERSION_CHECK=1 HF_HUB_OFFLINE=1

if [ "${REUSE:-0}" = 1 ] && [ -x "$venv/bin/ftevals" ]; then
  echo "reusing $venv"
else
  start=$(date +%s.%N)
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet --no-deps evals==3.0.1.post1
  "$venv/bin/python" -m pip install --quiet -e "$root"
  end=$(date +%s.%N)
  printf 'core install (pip, evals --no-deps, ftevals -e, no extras): %.0f s\n' \
    "$(echo "$end - $start" | bc)"
  printf 'venv size with evals bundled eval data: %s\n' "$(du -sh "$venv" | cut -f1)"
  "$venv/bin/python" scripts/prune_evals_data.py
fi
printf 'venv size (core, evals data pruned): %s\n' "$(du -sh "$venv" | cut -f1)"
pyc=$(find "$venv" -name __pycache__ -type d -prune -print0 | du -csh --files0-from=- | tail -1 | cut -f1)
printf '  of which byte-compiled .pyc (pip compiles at install): %s\n' "$pyc"
printf 'packages: %s\n' "$("$venv/bin/python" -m pip list --format=freeze | wc -l)"
echo "largest:"
du -sm "$venv"/lib/python3*/site-packages/* | sort -rn | head -8 | sed 's/^/  /'

"$venv/bin/python" - <<'EOF'
import importlib.util

heavy = ["torch", "transformers", "peft", "onnxruntime", "accelerate", "fastapi", "langchain_core",
         "matplotlib"]
present = [m for m in heavy if importlib.util.find_spec(m) is not None]
print("heavy packages present:", ", ".join(present) or "none")
assert not present, present
EOF
"$venv/bin/python" tests/import_probe.py --allow-missing-extras

# A remote eval through the fake server (any key; it answers "unsafe").
"$venv/bin/python" tests/fakes/openai_server.py --answer unsafe > "$work/server.out" &
server_pid=$!
for _ in $(seq 100); do
  grep -q READY "$work/server.out" 2>/dev/null && break
  sleep 0.1
done
base_url=$(awk '/READY/ {print $2}' "$work/server.out")
args="base_url=$base_url,model=fake-model"
export OPENAI_API_KEY=sk-bench-not-a-real-key
cd "$work"
"$venv/bin/oaieval" openai-compatible prompt-safety --max_samples 10 \
  --registry_path "$("$venv/bin/ftevals" registry-path)" --completion_args "$args" \
  --record_path "$work/oaieval.jsonl" > "$work/oaieval.out" 2>&1 \
  || { tail -20 "$work/oaieval.out"; exit 1; }
echo "plain oaieval: $(grep -c '"type": "match"' "$work/oaieval.jsonl") samples answered"
unset OPENAI_API_KEY  # ftevals run needs no key for a server that takes none
"$venv/bin/ftevals" run --models openai-compatible --evals prompt-safety --max-samples 10 \
  --completion-args "$args" --out "$work/run" > "$work/run.out" 2>&1 \
  || { tail -20 "$work/run.out"; exit 1; }
"$venv/bin/ftevals" compare "$work/run" --csv "$work/csv" > "$work/compare.out" \
  || { tail -20 "$work/compare.out"; exit 1; }
echo "ftevals run + compare --csv:"
head -6 "$work/compare.out" | sed 's/^/  /'
echo "compare --html without the plots extra (exit 2, one line):"
if "$venv/bin/ftevals" compare "$work/run" --html "$work/r.html" > /dev/null 2> "$work/html.err"; then
  echo "  unexpected success"; exit 1
fi
sed 's/^/  /' "$work/html.err"
"$venv/bin/python" -c "import sys, ftevals.harness.run; assert 'torch' not in sys.modules"
echo "torch imported by ftevals run: no"
