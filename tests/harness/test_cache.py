"""The per-sample cache: keys, hits that re-record sampling, failures, crash-safe file."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from evals.base import RunSpec
from evals.record import LocalRecorder, record_sampling

from ftevals.errors import InputError
from ftevals.harness.cache import CachedCompletionResult, CachingCompletionFn, SampleCache
from ftevals.harness.registry import fn_spec, harness_registry_class

SPEC = {"name": "fake", "completion_args": {}}


class _Result:
    def __init__(self, text: str) -> None:
        self.text = text

    def get_completions(self) -> list[str]:
        return [self.text]


class FakeFn:
    """Answers 'answer-<call number>'; records a sampling event unless told otherwise."""

    def __init__(self, fail: bool = False, raise_error: bool = False) -> None:
        self.calls: list[tuple[Any, dict[str, Any]]] = []
        self.fail = fail
        self.raise_error = raise_error
        self.labels = ["safe", "unsafe"]

    def __call__(self, prompt: Any, **kwargs: Any) -> _Result:
        self.calls.append((prompt, kwargs))
        if self.raise_error:
            raise RuntimeError("provider down")
        text = f"answer-{len(self.calls)}"
        extra = {"failed": True, "error": "HTTP 503 after 3 retries"} if self.fail else {}
        record_sampling(prompt=prompt, sampled=[text], model="fake", latency_s=0.5, **extra)
        return _Result(text)


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[LocalRecorder]:
    spec = RunSpec(
        completion_fns=["fake"],
        eval_name="t.dev.v0",
        base_eval="t",
        split="dev",
        run_config={},
        created_by="",
    )
    yield LocalRecorder(str(tmp_path / "log.jsonl"), spec)


def _sampling(rec: LocalRecorder) -> list[dict[str, Any]]:
    return [event.data for event in rec.get_events("sampling")]


def test_hit_after_restart_makes_no_call_and_rerecords_sampling(
    tmp_path: Path, recorder: LocalRecorder
) -> None:
    path = tmp_path / "c.cache"
    first = FakeFn()
    wrapper = CachingCompletionFn(first, SPEC, SampleCache(path))
    prompt = [{"role": "user", "content": "hi"}]
    with recorder.as_default_recorder("t.dev.0"):
        result = wrapper(prompt, temperature=0.0)
    assert result.get_completions() == ["answer-1"] and len(first.calls) == 1
    assert wrapper.labels == ["safe", "unsafe"]  # attributes of the wrapped fn stay reachable
    wrapper.cache.close()
    assert len(path.read_text().splitlines()) == 1

    second = FakeFn()  # a new process: new fn, cache read back from the file
    cache = SampleCache(path)
    again = CachingCompletionFn(second, SPEC, cache)
    with recorder.as_default_recorder("t.dev.0"):
        hit = again(prompt, temperature=0.0)
    assert isinstance(hit, CachedCompletionResult)
    assert hit.get_completions() == ["answer-1"] and second.calls == []
    assert cache.hits == 1 and cache.stored == 0
    original, replay = _sampling(recorder)
    assert replay == {**original, "cached": True}


def test_key_covers_sample_prompt_params_spec_and_repeats(
    tmp_path: Path, recorder: LocalRecorder
) -> None:
    path = tmp_path / "c.cache"
    with recorder.as_default_recorder("t.dev.0"):
        fn = FakeFn()
        wrapper = CachingCompletionFn(fn, SPEC, SampleCache(path))
        assert [wrapper("p").get_completions()[0] for _ in range(2)] == ["answer-1", "answer-2"]
        wrapper.cache.close()

        fresh = FakeFn()
        replay = CachingCompletionFn(fresh, SPEC, SampleCache(path))
        # the two identical calls of the sample keep their own answers, in order
        assert [replay("p").get_completions()[0] for _ in range(2)] == ["answer-1", "answer-2"]
        assert fresh.calls == []
        replay("p")  # a third identical call was never answered
        replay("p", temperature=1.0)  # other parameters
        replay("q")  # another prompt
        assert len(fresh.calls) == 3
        other_args = {**SPEC, "completion_args": {"x": "1"}}
        CachingCompletionFn(fresh, other_args, SampleCache(path))("p")
        assert len(fresh.calls) == 4
    with recorder.as_default_recorder("t.dev.1"):
        CachingCompletionFn(fresh, SPEC, SampleCache(path))("p")  # another sample
    assert len(fresh.calls) == 5


def test_adapter_weights_are_part_of_the_key(tmp_path: Path, recorder: LocalRecorder) -> None:
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    weights = adapter / "adapter_model.safetensors"
    weights.write_bytes(b"v1")
    fn = FakeFn()
    fn.adapter_dir = adapter  # type: ignore[attr-defined]  # as HFClassifierCompletionFn has
    path = tmp_path / "c.cache"
    with recorder.as_default_recorder("t.dev.0"):
        CachingCompletionFn(fn, SPEC, SampleCache(path))("p")
        CachingCompletionFn(fn, SPEC, SampleCache(path))("p")
        assert len(fn.calls) == 1
        weights.write_bytes(b"v2 retrained")
        CachingCompletionFn(fn, SPEC, SampleCache(path))("p")
    assert len(fn.calls) == 2


def test_adapter_config_and_calibration_are_part_of_the_key(
    tmp_path: Path, recorder: LocalRecorder
) -> None:
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_model.safetensors").write_bytes(b"weights")
    config = adapter / "adapter_config.json"
    config.write_text('{"r": 8}', encoding="utf-8")
    meta = adapter / "ftevals.json"
    meta.write_text('{"kind": "classifier", "calibration": {"temperature": 1.0}}', "utf-8")
    fn = FakeFn()
    fn.adapter_dir = adapter  # type: ignore[attr-defined]
    path = tmp_path / "c.cache"
    with recorder.as_default_recorder("t.dev.0"):
        CachingCompletionFn(fn, SPEC, SampleCache(path))("p")
        config.write_text('{"r": 16}', encoding="utf-8")  # same weights, another model
        CachingCompletionFn(fn, SPEC, SampleCache(path))("p")
        meta.write_text('{"kind": "classifier", "calibration": {"temperature": 2.0}}', "utf-8")
        CachingCompletionFn(fn, SPEC, SampleCache(path))("p")
        CachingCompletionFn(fn, SPEC, SampleCache(path))("p")  # unchanged: a hit
    assert len(fn.calls) == 3


def test_failed_calls_are_not_cached(tmp_path: Path, recorder: LocalRecorder) -> None:
    path = tmp_path / "c.cache"
    with recorder.as_default_recorder("t.dev.0"):
        failing = CachingCompletionFn(FakeFn(fail=True), SPEC, SampleCache(path))
        failing("p")
        assert failing.cache.stored == 0
        raising = CachingCompletionFn(FakeFn(raise_error=True), SPEC, SampleCache(path))
        with pytest.raises(RuntimeError, match="provider down"):
            raising("p")
        assert raising.cache.stored == 0
        fn = FakeFn()
        CachingCompletionFn(fn, SPEC, SampleCache(path))("p")
    assert len(fn.calls) == 1  # nothing was cached, so the call is made
    assert len(path.read_text().splitlines()) == 1  # only the answered call


def test_truncated_last_line_is_dropped_and_corrupt_line_is_an_error(
    tmp_path: Path, recorder: LocalRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "c.cache"
    with recorder.as_default_recorder("t.dev.0"):
        CachingCompletionFn(FakeFn(), SPEC, SampleCache(path))("p")
        good = path.read_text()
        path.write_text(good + good[:40])  # a kill in the middle of the second write
        with caplog.at_level(logging.WARNING):
            cache = SampleCache(path)
        assert cache.dropped_tail and len(cache) == 1 and "truncated" in caplog.text
        fn = FakeFn()
        CachingCompletionFn(fn, SPEC, cache)("q")
        cache.close()
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and all(json.loads(line)["format"] == 1 for line in lines)
    path.write_text(lines[0] + "\n{not json\n" + lines[1] + "\n")
    with pytest.raises(InputError) as info:
        SampleCache(path)
    assert info.value.line == 2 and "c.cache:2" in str(info.value)


def test_harness_registry_wraps_fns_with_their_spec(tmp_path: Path) -> None:
    from ftevals.completion_fns.keyword import KeywordGuardCompletionFn
    from ftevals.paths import project_registry

    registry = harness_registry_class()(sample_cache=SampleCache(tmp_path / "c.cache"))
    registry.add_registry_paths([str(project_registry())])
    fn = registry.make_completion_fn("ftevals/keyword-guard", positive="flag")
    assert isinstance(fn, CachingCompletionFn)
    assert isinstance(fn.inner, KeywordGuardCompletionFn) and fn.positive == "flag"
    assert fn.fn_spec["cls"] == "ftevals.completion_fns.keyword:KeywordGuardCompletionFn"
    assert fn.fn_spec["completion_args"] == {"positive": "flag"}
    assert "registry" not in fn.fn_spec["args"] and fn.fn_spec["adapters"] == []
    assert fn_spec(registry, "gpt-4", {}) == {"name": "gpt-4", "completion_args": {}}
    plain = harness_registry_class()()
    plain.add_registry_paths([str(project_registry())])
    assert isinstance(plain.make_completion_fn("ftevals/keyword-guard"), KeywordGuardCompletionFn)
