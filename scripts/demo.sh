#!/usr/bin/env bash
# The offline end-to-end demo behind `make demo`. Every step is an `ftevals` command a
# user can run by hand; outputs go to demo-out/ (and the adapter to the ftevals home).
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
FT=.venv/bin/ftevals
OUT=demo-out
step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "${*:2}"; "${@:2}"; }

rm -rf "$OUT/run"
mkdir -p "$OUT"
start=$(date +%s)

step "1/5 split the project's labelled prompts (hash-based, 30% test)" \
  $FT convert data/prompt-safety/prompts.jsonl --to chat --split 0.3 --out "$OUT/data"

step "2/5 turn the test split into evals samples for the registry eval prompt-safety" \
  $FT convert "$OUT/data/test.jsonl" --to samples --out registry/data/prompt-safety/test.v1.jsonl

step "3/5 train a LoRA safety classifier on all-MiniLM-L6-v2 (registered as ftevals/minilm-safety)" \
  $FT train --kind classifier --base minilm --data "$OUT/data/train.jsonl" --name minilm-safety \
  --epochs 5 --lr 2e-3

step "4/5 evaluate four models with the real evals engine" \
  $FT run --models ftevals/minilm-safety,ftevals/smollm2-135m,ftevals/smollm2-135m-choice,ftevals/keyword-guard \
  --evals prompt-safety --out "$OUT/run"

step "5/5 compare the runs" \
  $FT compare "$OUT/run" --json "$OUT/report.json" --csv "$OUT/csv" --html "$OUT/report.html"

echo
echo "demo finished in $(( $(date +%s) - start )) s. Report files:"
echo "  $OUT/report.html (plots, opens offline)  $OUT/report.json  $OUT/csv/*.csv"
echo "  evals logs: $OUT/run/*.jsonl   manifest: $OUT/run/manifest.json"
