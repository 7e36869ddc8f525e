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

# The guard's data (recipe guard, docs/safety-classifier.md): data/guard-train (written to
# docs/safety-policy.md), the project's train split and public prompt sets from the installed
# packages and ../shared/data, de-duplicated by paraphrase; any training item that matches a
# test item is left out. Tests: the frozen guard test sets and the held-out sources.
# Without ../shared/data, train on the project's prompts alone.
TESTS=""
printf '\n\033[1m== %s\033[0m\n$ %s\n' "3/6 the guard's training and test data (recipe guard)" \
  "$FT data build guard --out $OUT/registry"
if $FT data build guard --out "$OUT/registry"; then
  TRAIN="$OUT/registry/data/guard/train.chat.jsonl"
  TESTS=guard-prompt-safety.requests.v1,guard-prompt-safety.content.v1
  TESTS+=,guard-prompt-safety.heldout.v1,guard-prompt-safety.lookalikes.v1
else
  echo "(recipe guard unavailable, see above: training on the project's prompts only)"
  TRAIN="$OUT/data/train.jsonl"
fi

step "4/6 train the guard: a LoRA classifier on all-MiniLM-L6-v2, calibrated on a validation split (ftevals/minilm-safety)" \
  $FT train --kind classifier --base minilm --data "$TRAIN" --name minilm-safety \
  --epochs 1 --lr 2e-3 --val-fraction 0.15 --max-fpr 0.05

RUNS=("$OUT/run")
# The zero-shot SmolLM2 models (ftevals/smollm2-135m, ftevals/smollm2-135m-choice) are left
# out to keep the demo within 10 minutes; run them with the same command.
step "5/6 evaluate the guard and the keyword baseline with the real evals engine" \
  $FT run --models ftevals/minilm-safety,ftevals/keyword-guard \
  --evals prompt-safety --out "$OUT/run"
if [ -n "$TESTS" ]; then
  rm -rf "$OUT/guard"
  step "5b/6 the guard and the keyword baseline on the guard test sets (requests, content) and the held-out sources" \
    $FT run --registry "$OUT/registry" --models ftevals/minilm-safety,ftevals/keyword-guard \
    --evals "$TESTS" --out "$OUT/guard"
  RUNS+=("$OUT/guard")
fi

step "6/6 compare the runs" \
  $FT compare "${RUNS[@]}" --by source --by category \
  --json "$OUT/report.json" --csv "$OUT/csv" --html "$OUT/report.html"

echo
echo "demo finished in $(( $(date +%s) - start )) s. Report files:"
echo "  $OUT/report.html (plots, opens offline)  $OUT/report.json  $OUT/csv/*.csv"
echo "  evals logs: $OUT/run/*.jsonl   manifest: $OUT/run/manifest.json"
