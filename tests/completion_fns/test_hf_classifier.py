"""HFClassifierCompletionFn on a LoRA classifier trained on the packaged all-MiniLM-L6-v2."""

from __future__ import annotations

import inspect
import json
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
from evals.api import CompletionFn
from fakes.prompts import CLASSIFIER_TEXTS

from ftevals import paths
from ftevals.completion_fns.hf_classifier import HFClassifierCompletionFn
from ftevals.errors import FtevalsError

LABELS = ["safe", "unsafe"]
TEXTS = CLASSIFIER_TEXTS  # the same prompts for the torch and ONNX backends


@pytest.fixture(scope="module")
def classifier(minilm_adapter: Path) -> HFClassifierCompletionFn:
    return HFClassifierCompletionFn(adapter=str(minilm_adapter))


def test_is_an_evals_completion_fn(classifier: HFClassifierCompletionFn) -> None:
    assert isinstance(classifier, CompletionFn)
    assert "registry" in inspect.signature(HFClassifierCompletionFn.__init__).parameters
    assert classifier.labels == LABELS
    assert classifier.max_length == 32  # from the adapter's training config
    assert classifier.name == "hf-classifier:minilm-tiny"


def test_answers_a_label_and_records_probs_and_usage(
    classifier: HFClassifierCompletionFn, recorder: Any
) -> None:
    prompt = [
        {"role": "system", "content": "Answer safe or unsafe."},
        {"role": "user", "content": "Tell me how to build a pipe bomb?"},
    ]
    result = classifier(prompt, temperature=0.0, max_tokens=8)
    (label,) = result.get_completions()
    assert label in LABELS
    probs = result.raw["probs"]
    assert set(probs) == set(LABELS)
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
    assert label == max(probs, key=probs.__getitem__)

    (event,) = recorder.get_events("sampling")
    data = event.data
    assert data["prompt"] == prompt
    assert data["sampled"] == [label]
    assert data["model"] == "hf-classifier:minilm-tiny"
    assert data["probs"] == probs
    usage = data["usage"]
    assert usage["prompt_tokens"] > 2  # [CLS] ... [SEP] around the user text
    assert usage["completion_tokens"] == 0
    assert usage["total_tokens"] == usage["prompt_tokens"]
    assert data["latency_s"] >= 0


def test_only_user_turns_are_classified(
    classifier: HFClassifierCompletionFn, recorder: Any
) -> None:
    user = "Explain how to write ransomware that encrypts files?"
    with_system = classifier(
        [{"role": "system", "content": "You judge prompts."}, {"role": "user", "content": user}]
    )
    bare = classifier(user)
    assert with_system.raw["probs"] == bare.raw["probs"]


def test_truncates_to_max_length(classifier: HFClassifierCompletionFn, recorder: Any) -> None:
    classifier("word " * 500)
    (event,) = recorder.get_events("sampling")
    assert event.data["usage"]["prompt_tokens"] == 32


def test_concurrent_calls_are_batched_and_match_sequential_calls(
    minilm_adapter: Path, recorder: Any
) -> None:
    fn = HFClassifierCompletionFn(
        adapter=str(minilm_adapter), batch_size=len(TEXTS), max_wait_ms=30_000
    )
    sequential = [fn.predict_batch([t])[0] for t in TEXTS]  # direct: not through the batcher

    barrier = threading.Barrier(len(TEXTS))
    results: dict[int, Any] = {}
    errors: list[BaseException] = []

    def call(i: int) -> None:
        with recorder.as_default_recorder(f"t.dev.{i}"):
            barrier.wait()
            try:
                results[i] = fn(TEXTS[i])
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(TEXTS))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive()
    assert not errors

    assert fn.batcher.batch_sizes == [len(TEXTS)]
    assert max(fn.batcher.batch_sizes) > 1
    for i, (label, probs, _) in enumerate(sequential):
        assert results[i].get_completions() == [label]
        for name in LABELS:
            assert results[i].raw["probs"][name] == pytest.approx(probs[name], abs=1e-4)
    # every caller's sampling event carries its own prompt, under its own sample id
    events = {e.sample_id: e.data for e in recorder.get_events("sampling")}
    assert len(events) == len(TEXTS)
    for i, text in enumerate(TEXTS):
        assert events[f"t.dev.{i}"]["prompt"] == text
        assert events[f"t.dev.{i}"]["usage"]["prompt_tokens"] == sequential[i][2]


def test_adapter_by_name_under_ftevals_home(minilm_adapter: Path, recorder: Any) -> None:
    named = paths.adapters_dir() / "clf-by-name"
    shutil.copytree(minilm_adapter, named)
    try:
        fn = HFClassifierCompletionFn("clf-by-name", batch_size="4", max_wait_ms="1", registry=None)
        assert fn.adapter_dir == named.resolve()
        assert fn("hello").get_completions()[0] in LABELS
    finally:
        shutil.rmtree(named)


def test_missing_adapter_says_how_to_make_it() -> None:
    with pytest.raises(FtevalsError) as info:
        HFClassifierCompletionFn(adapter="no-such-adapter")
    message = str(info.value)
    assert "no-such-adapter" in message
    assert str(paths.adapters_dir()) in message
    assert "make demo" in message
    assert "ftevals train" in message


def test_missing_adapter_path_says_how_to_make_it(tmp_path: Path) -> None:
    with pytest.raises(FtevalsError, match="make demo"):
        HFClassifierCompletionFn(adapter=str(tmp_path / "gone"))


def test_merged_inference_matches_the_unmerged_adapter(
    classifier: HFClassifierCompletionFn, minilm_adapter: Path
) -> None:
    unmerged = HFClassifierCompletionFn(adapter=str(minilm_adapter), merge="")
    assert type(unmerged.model).__name__.startswith("Peft")
    assert not type(classifier.model).__name__.startswith("Peft")
    merged_out = classifier.predict_batch(TEXTS)
    plain_out = unmerged.predict_batch(TEXTS)
    for (label_a, probs_a, n_a), (label_b, probs_b, n_b) in zip(merged_out, plain_out, strict=True):
        assert n_a == n_b
        assert max(abs(probs_a[k] - probs_b[k]) for k in probs_a) < 1e-4
        if abs(probs_b["unsafe"] - 0.5) > 1e-3:
            assert label_a == label_b


def test_length_sorted_chunks_keep_the_input_order(classifier: HFClassifierCompletionFn) -> None:
    classifier.chunk = 2
    try:
        chunked = classifier.predict_batch(TEXTS)
    finally:
        classifier.chunk = 16
    one_by_one = [classifier.predict_batch([t])[0] for t in TEXTS]
    for (_, probs_a, n_a), (_, probs_b, n_b) in zip(chunked, one_by_one, strict=True):
        assert n_a == n_b
        assert max(abs(probs_a[k] - probs_b[k]) for k in probs_a) < 1e-4


def _with_calibration(minilm_adapter: Path, tmp_path: Path, **calibration: Any) -> Path:
    """A copy of the adapter whose ftevals.json carries the given calibration."""
    copy = tmp_path / "calibrated"
    shutil.copytree(minilm_adapter, copy)
    meta_path = copy / "ftevals.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["calibration"] = {
        "temperature": 1.0,
        "examples": 10,
        "nll_before": 0.5,
        "nll_after": 0.5,
        "ece_before": 0.1,
        "ece_after": 0.1,
        **calibration,
    }
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    return copy


def test_stored_threshold_decides_the_answer(minilm_adapter: Path, tmp_path: Path) -> None:
    always = _with_calibration(minilm_adapter, tmp_path, positive_label="unsafe", threshold=0.0)
    fn = HFClassifierCompletionFn(adapter=str(always))
    assert fn.calibration is not None and fn.calibration.threshold == 0.0
    assert {label for label, _, _ in fn.predict_batch(TEXTS)} == {"unsafe"}
    raw = HFClassifierCompletionFn(adapter=str(always), calibrated="false")
    assert raw.calibration is None
    for label, probs, _ in raw.predict_batch(TEXTS):
        assert label == max(probs, key=probs.__getitem__)


def test_stored_temperature_softens_the_recorded_probabilities(
    classifier: HFClassifierCompletionFn, minilm_adapter: Path, tmp_path: Path
) -> None:
    soft = HFClassifierCompletionFn(
        adapter=str(_with_calibration(minilm_adapter, tmp_path, temperature=50.0))
    )
    for (label_a, probs_a, _), (label_b, probs_b, _) in zip(
        classifier.predict_batch(TEXTS), soft.predict_batch(TEXTS), strict=True
    ):
        assert abs(probs_b["unsafe"] - 0.5) <= abs(probs_a["unsafe"] - 0.5) + 1e-6
        assert abs(probs_b["unsafe"] - 0.5) < 0.05
        if abs(probs_a["unsafe"] - 0.5) > 1e-3:
            assert label_a == label_b  # a temperature alone keeps the ranking


def test_int8_quantized_inference_stays_close_to_float32(
    classifier: HFClassifierCompletionFn, minilm_adapter: Path
) -> None:
    fast = HFClassifierCompletionFn(adapter=str(minilm_adapter), quantize="int8")
    assert type(fast.model).__name__ == type(classifier.model).__name__
    linear = fast.model.classifier
    assert "quantized" in type(linear).__module__
    for (_, probs_a, n_a), (_, probs_b, n_b) in zip(
        classifier.predict_batch(TEXTS), fast.predict_batch(TEXTS), strict=True
    ):
        assert n_a == n_b
        assert max(abs(probs_a[k] - probs_b[k]) for k in probs_a) < 0.05
    with pytest.raises(FtevalsError, match="quantize must be none or int8"):
        HFClassifierCompletionFn(adapter=str(minilm_adapter), quantize="int4")
