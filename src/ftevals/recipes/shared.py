"""A prompt-safety set from the shared public data: AdvBench (unsafe) + dolly (safe).

Read from ``../shared/data`` beside the repository root (``$FTEVALS_SHARED_DATA`` overrides
it), never copied into the repository. The 520 AdvBench harmful behaviours are ``unsafe``;
the 387 dolly instructions (with their context, when they have one) are ``safe``. A
deterministic hash split (the converters' :func:`~ftevals.converters.split.split_rows`, 30%
test) gives an independent prompt-safety test set and a chat training file with the same
system prompt as the project's own prompt-safety data.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

from ftevals.converters import Row, read_rows, split_rows
from ftevals.errors import FtevalsError
from ftevals.paths import project_registry
from ftevals.recipes.base import Built, Recipe, user_sample
from ftevals.recipes.evals import classify_sample, prompt_safety_system

ADVBENCH = "advbench_harmful_behaviors.csv"
DOLLY = "dolly_safety_only.jsonl"
TEST_FRACTION = 0.3
SEED = "advbench-dolly"


def shared_data_dir() -> Path:
    """``$FTEVALS_SHARED_DATA``, else ``../shared/data`` from the repository root."""
    override = os.environ.get("FTEVALS_SHARED_DATA")
    folder = Path(override) if override else project_registry().parents[1] / "shared" / "data"
    missing = [name for name in (ADVBENCH, DOLLY) if not (folder / name).is_file()]
    if missing:
        raise FtevalsError(
            f"shared data not found: {', '.join(str(folder / m) for m in missing)} "
            "(the recipe reads ../shared/data beside the repository; set FTEVALS_SHARED_DATA "
            "to the folder holding those files)"
        )
    return folder


def _labelled(rows: list[Row], label: str, text_of: Any) -> tuple[list[Row], int]:
    """Rows as system + user + assistant(label) chat rows; (rows, empty count)."""
    out, empty = [], 0
    for row in rows:
        text = text_of(row).strip()
        if not text:
            empty += 1
            continue
        messages = [
            {"role": "system", "content": prompt_safety_system()},
            {"role": "user", "content": text},
            {"role": "assistant", "content": label},
        ]
        meta = {"source": Path(row.source).name, "line": row.line}
        out.append(Row(messages, meta, row.line, row.source))
    return out, empty


def _dolly_text(row: Row) -> str:
    context = str(row.metadata.get("context") or "").strip()
    instruction = str(row.messages[-1]["content"]).strip()
    return f"{instruction}\n\n{context}" if context and instruction else instruction


def read_advbench_dolly(folder: Path) -> Built:
    advbench = read_rows(folder / ADVBENCH, "csv", text_field="1", header=False, labels=False)
    dolly = read_rows(folder / DOLLY, "fields", text_field="instruction", labels=False)
    unsafe, empty_unsafe = _labelled(advbench, "unsafe", lambda r: r.messages[-1]["content"])
    safe, empty_safe = _labelled(dolly, "safe", _dolly_text)
    skipped = Counter({"empty prompt": empty_unsafe + empty_safe})
    train, test = split_rows(unsafe + safe, TEST_FRACTION, SEED)
    generation: list[dict[str, Any]] = []
    classify: list[dict[str, Any]] = []
    for row in test:
        text, label = row.messages[1]["content"], row.messages[2]["content"]
        meta = {**row.metadata, "label": label}
        generation.append(user_sample(text, meta))
        classify.append(classify_sample(text, label, row.metadata))
    return Built(
        splits={"test": generation},
        classify={"test": classify},
        extra_files={"train.chat.jsonl": [{"messages": row.messages} for row in train]},
        skipped={k: v for k, v in skipped.items() if v},
        files=[folder / ADVBENCH, folder / DOLLY],
    )


RECIPES = [
    Recipe(
        name="advbench-dolly",
        description=(
            "Independent prompt-safety set: AdvBench harmful behaviours (unsafe) and dolly "
            "instructions (safe), 30% hash-split test set plus a chat training file"
        ),
        licence="AdvBench: MIT (Zou et al. 2023); databricks-dolly-15k subset: CC BY-SA 3.0",
        citation="Zou et al. 2023 (AdvBench); Databricks 2023 (dolly-15k); both via "
        "LLMs-Finetuning-Safety",
        source=None,
        locate=shared_data_dir,
        reader=read_advbench_dolly,
        evals=("prompt-safety",),
    ),
]
