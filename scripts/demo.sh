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

step "1/6 split the project's labelled prompts (hash-based, 30% test)" \
  $FT convert data/prompt-safety/prompts.jsonl --to chat --split 0.3 --out "$OUT/data"

step "2/6 turn the test split into evals samples for the registry eval prompt-safety" \
  $FT convert "$OUT/data/test.jsonl" --to samples --out registry/data/prompt-safety/test.v1.jsonl

# Training data split by source (recipe safety-classifier): the project's train split plus
# public prompt sets from the installed packages and ../shared/data; held-out sources only
# for testing. Without ../shared/data, train on the project's prompts alone.
HELDOUT=""
printf '\n\033[1m== %s\033[0m\n$ %s\n' "3/6 training and held-out test data, split by source" \
  "$FT data build safety-classifier --out $OUT/registry"
if $FT data build safety-classifier --out "$OUT/registry"; then
  TRAIN="$OUT/registry/data/safety-classifier/train.chat.jsonl"
  HELDOUT=safety-classifier-prompt-safety.heldout.v1,safety-classifier-prompt-safety.lookalikes.v1
else
  echo "(recipe safety-classifier unavailable, see above: training on the project's prompts only)"
  TRAIN="$OUT/data/train.jsonl"
fi

step "4/6 train a LoRA safety classifier on all-MiniLM-L6-v2, calibrated on a validation split (ftevals/minilm-safety)" \
  $FT train --kind classifier --base minilm --data "$TRAIN" --name minilm-safety \
  --epochs 3 --lr 2e-3 --val-fraction 0.15 --max-fpr 0.05

RUNS=("$OUT/run")
step "5/6 evaluate four models with the real evals engine" \
  $FT run --models ftevals/minilm-safety,ftevals/smollm2-135m,ftevals/smollm2-135m-choice,ftevals/keyword-guard \
  --evals prompt-safety --out "$OUT/run"
if [ -n "$HELDOUT" ]; then
  rm -rf "$OUT/heldout"
  step "5b/6 the classifier and the keyword baseline on the held-out sources and look-alikes" \
    $FT run --registry "$OUT/registry" --models ftevals/minilm-safety,ftevals/keyword-guard \
    --evals "$HELDOUT" --out "$OUT/heldout"
  RUNS+=("$OUT/heldout")
fi

step "6/6 compare the runs" \
  $FT compare "${RUNS[@]}" --json "$OUT/report.json" --csv "$OUT/csv" --html "$OUT/report.html"

echo
echo "demo finished in $(( $(date +%s) - start )) s. Report files:"
echo "  $OUT/report.html (plots, opens offline)  $OUT/report.json  $OUT/csv/*.csv"
echo "  evals logs: $OUT/run/*.jsonl   manifest: $OUT/run/manifest.json"
