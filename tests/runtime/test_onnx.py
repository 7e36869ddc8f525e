"""backend=onnx: the merged classifier exported once, cached, and run with ONNX Runtime."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
from fakes.prompts import CLASSIFIER_TEXTS

from ftevals import paths
from ftevals.completion_fns.hf_classifier import HFClassifierCompletionFn
from ftevals.errors import FtevalsError
from ftevals.runtime import onnx as _onnx

TEXTS = CLASSIFIER_TEXTS  # the same prompts for the torch and ONNX backends


@pytest.fixture(scope="module")
def torch_fn(minilm_adapter: Path) -> HFClassifierCompletionFn:
    return HFClassifierCompletionFn(adapter=str(minilm_adapter), calibrated=False)


@pytest.fixture(scope="module")
def onnx_fp32(minilm_adapter: Path) -> HFClassifierCompletionFn:
    return HFClassifierCompletionFn(adapter=str(minilm_adapter), backend="onnx", calibrated=False)


def _exports() -> list[Path]:
    return sorted((paths.home() / "onnx").glob("*/model.onnx"))


def test_onnx_float32_matches_the_torch_model(
    torch_fn: HFClassifierCompletionFn, onnx_fp32: HFClassifierCompletionFn
) -> None:
    assert onnx_fp32.model is None  # the torch model is not kept
    assert onnx_fp32.onnx is not None
    assert onnx_fp32.onnx.path in _exports()
    assert set(onnx_fp32.onnx.input_names) <= set(_onnx.INPUTS)
    ours, reference = onnx_fp32.predict_batch(TEXTS), torch_fn.predict_batch(TEXTS)
    for (label_a, probs_a, n_a), (label_b, probs_b, n_b) in zip(ours, reference, strict=True):
        assert n_a == n_b
        assert label_a == label_b
        assert max(abs(probs_a[k] - probs_b[k]) for k in probs_a) < 1e-3


def test_the_exported_graph_has_fused_bert_layers(onnx_fp32: HFClassifierCompletionFn) -> None:
    import onnx

    assert onnx_fp32.onnx is not None
    ops = [node.op_type for node in onnx.load(str(onnx_fp32.onnx.path)).graph.node]
    assert "SkipLayerNormalization" in ops
    # MiniLM's 6 layers: 5 fused, the last one computed for [CLS] only (not fused)
    assert ops.count("Attention") == 5


def test_cls_only_last_layer_gives_the_full_layers_first_position(minilm_adapter: Path) -> None:
    import torch

    from ftevals.runtime.loading import load_classifier

    model, tokenizer, _ = load_classifier(minilm_adapter)
    model = model.merge_and_unload()
    model.set_attn_implementation("eager")
    enc = tokenizer(["a short one", "a much longer prompt with padding after it"], padding=True)
    batch = {k: torch.tensor(v) for k, v in enc.items()}
    layers = model.bert.encoder.layer
    last = layers[-1]
    with torch.inference_mode():
        full = model(**batch).logits
        layers[-1] = _onnx.cls_only_layer(last)
        cls_only = model(**batch).logits
    layers[-1] = last
    assert cls_only.shape == full.shape
    assert torch.allclose(cls_only, full, atol=1e-5)
    # the export swaps the layer in for tracing and puts the original back
    _onnx.export(model, tokenizer, minilm_adapter.parent / "trace-check.onnx")
    assert model.bert.encoder.layer[-1] is last


def test_onnx_int8_stays_close_to_float32(
    minilm_adapter: Path, onnx_fp32: HFClassifierCompletionFn
) -> None:
    import onnx

    fast = HFClassifierCompletionFn(
        adapter=str(minilm_adapter), backend="onnx", quantize="int8", calibrated=False
    )
    assert fast.onnx is not None and onnx_fp32.onnx is not None
    assert fast.onnx.path != onnx_fp32.onnx.path  # its own cache entry
    ops = {node.op_type for node in onnx.load(str(fast.onnx.path)).graph.node}
    assert ops & {"DynamicQuantizeMatMul", "MatMulInteger", "QAttention"}
    for (_, probs_a, _), (_, probs_b, _) in zip(
        onnx_fp32.predict_batch(TEXTS), fast.predict_batch(TEXTS), strict=True
    ):
        assert max(abs(probs_a[k] - probs_b[k]) for k in probs_a) < 0.05


def test_a_second_load_reuses_the_cached_export(
    minilm_adapter: Path, onnx_fp32: HFClassifierCompletionFn, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert onnx_fp32.onnx is not None
    before = onnx_fp32.onnx.path.stat().st_mtime_ns

    def no_export(*args: Any) -> None:
        raise AssertionError("exported again")

    monkeypatch.setattr(_onnx, "export_cached", no_export)
    again = HFClassifierCompletionFn(adapter=str(minilm_adapter), backend="onnx")
    assert again.onnx is not None
    assert again.onnx.path == onnx_fp32.onnx.path
    assert again.onnx.path.stat().st_mtime_ns == before


def test_cache_key_follows_the_adapter_weights_and_options(
    minilm_adapter: Path, tmp_path: Path
) -> None:
    key = _onnx.cache_key(minilm_adapter, "base", "none")
    assert _onnx.cache_key(minilm_adapter, "base", "none") == key
    assert _onnx.cache_key(minilm_adapter, "base", "int8") != key
    assert _onnx.cache_key(minilm_adapter, "other-base", "none") != key
    changed = tmp_path / minilm_adapter.name
    shutil.copytree(minilm_adapter, changed)
    weights = changed / "adapter_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # one bit of one weight
    weights.write_bytes(bytes(data))
    assert _onnx.cache_key(changed, "base", "none") != key
    # calibration lives in ftevals.json but does not change the graph
    meta = json.loads((minilm_adapter / "ftevals.json").read_text(encoding="utf-8"))
    meta["calibration"] = {"temperature": 2.0}
    recal = tmp_path / "recalibrated"
    shutil.copytree(minilm_adapter, recal)
    (recal / "ftevals.json").write_text(json.dumps(meta), encoding="utf-8")
    assert _onnx.cache_key(recal, "base", "none") == key


def test_a_failed_export_leaves_nothing_behind(tmp_path: Path, minilm_adapter: Path) -> None:
    class Broken:
        config = type("Config", (), {"model_type": "bert"})()

        def eval(self) -> None:
            pass

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("cannot trace this")

    target = paths.home() / "onnx-failed" / "clf-abc" / "model.onnx"
    from ftevals.runtime.loading import load_tokenizer

    with pytest.raises(FtevalsError, match="could not export this bert classifier"):
        _onnx.export_cached(Broken(), load_tokenizer(minilm_adapter), target, "none")
    assert not target.parent.exists()
    assert list(target.parent.parent.iterdir()) == []  # no half-written temporary folder


def test_concurrent_calls_run_batches_in_parallel_and_match(
    onnx_fp32: HFClassifierCompletionFn, minilm_adapter: Path, recorder: Any
) -> None:
    fn = HFClassifierCompletionFn(
        adapter=str(minilm_adapter), backend="onnx", workers=2, batch_size=2, calibrated=False
    )
    assert fn.batcher.workers == 2
    expected = onnx_fp32.predict_batch(TEXTS)
    barrier = threading.Barrier(len(TEXTS))
    answers: dict[int, Any] = {}

    def call(i: int) -> None:
        with recorder.as_default_recorder(f"t.dev.{i}"):
            barrier.wait()
            answers[i] = fn(TEXTS[i])

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(TEXTS))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive()
    assert sum(fn.batcher.batch_sizes) == len(TEXTS)
    assert max(fn.batcher.batch_sizes) <= 2
    for i, (label, probs, _) in enumerate(expected):
        assert answers[i].get_completions() == [label]
        assert answers[i].raw["probs"]["unsafe"] == pytest.approx(probs["unsafe"], abs=1e-4)
    # a direct batch of several chunks is split over the workers, order kept
    fn.chunk = 3
    assert [row[0] for row in fn.predict_batch(TEXTS)] == [row[0] for row in expected]


def test_unknown_backend_is_refused(minilm_adapter: Path) -> None:
    with pytest.raises(FtevalsError, match="backend must be one of torch, onnx"):
        HFClassifierCompletionFn(adapter=str(minilm_adapter), backend="tensorrt")


def test_chunks_keep_similar_lengths_together() -> None:
    from ftevals.runtime.classifier import chunks

    lengths = [10, 50, 11, 12, 52, 9, 100, 10]
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    parts = chunks(order, lengths, size=3, slack=1.25)
    assert sorted(i for part in parts for i in part) == list(range(len(lengths)))
    assert all(len(part) <= 3 for part in parts)
    for part in parts:
        assert max(lengths[i] for i in part) <= min(lengths[i] for i in part) * 1.25 + 4
    assert [[lengths[i] for i in part] for part in parts] == [
        [9, 10, 10],
        [11, 12],
        [50, 52],
        [100],
    ]
    assert len(chunks(order, lengths, size=16, slack=float("inf"))) == 1
