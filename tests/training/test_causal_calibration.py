"""Causal label classifiers: calibration of the first-token logits stored with the adapter."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from ftevals.converters.formats import read_rows
from ftevals.converters.split import split_key
from ftevals.errors import FtevalsError
from ftevals.runtime.calibration import Calibration
from ftevals.training.common import validation_side
from ftevals.training.config import TrainConfig
from ftevals.training.train import train

LORA = {"target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]}


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def chat(user: str, answer: str) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "system", "content": "Answer safe or unsafe."},
            {"role": "user", "content": user},
            {"role": "assistant", "content": answer},
        ]
    }


def config_for(data: Path, out: Path, base: Path, **overrides: Any) -> TrainConfig:
    values: dict[str, Any] = {
        "data": str(data),
        "out": str(out),
        "kind": "causal",
        "base": str(base),
        "max_steps": 30,
        "batch_size": 8,
        "learning_rate": 1e-2,
        "max_length": 64,
        "val_fraction": 0.3,
        "lora": LORA,
    }
    return TrainConfig(**(values | overrides))


def read_meta(adapter: Path) -> dict[str, Any]:
    meta: dict[str, Any] = json.loads((adapter / "ftevals.json").read_text())
    return meta


@pytest.fixture(scope="module")
def label_config(
    tiny_llama_dir: Path, tiny_chat_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> TrainConfig:
    return config_for(tiny_chat_data, tmp_path_factory.mktemp("calibrated") / "a", tiny_llama_dir)


@pytest.fixture(scope="module")
def label_adapter(label_config: TrainConfig) -> Path:
    return train(label_config, progress=False)


def validation_rows(config: TrainConfig) -> list[Any]:
    rows = read_rows(Path(config.data), "chat", None, None)
    return [row for row in rows if validation_side(split_key(row), config)]


def test_label_dataset_stores_a_calibration(label_adapter: Path, label_config: TrainConfig) -> None:
    meta = read_meta(label_adapter)
    assert meta["labels"] == ["safe", "unsafe"]
    calibration = Calibration.model_validate(meta["calibration"])
    val = validation_rows(label_config)
    assert calibration.examples == meta["train"]["validation_examples"] == len(val)
    assert {row.answer() for row in val} == {"safe", "unsafe"}
    assert calibration.positive_label == "unsafe"
    assert calibration.threshold is not None and 0 < calibration.threshold < 1
    assert calibration.nll_after <= calibration.nll_before + 1e-9


def test_calibration_was_fitted_on_the_logits_hf_causal_reads(
    label_adapter: Path, label_config: TrainConfig, tiny_llama_dir: Path, recorder: Any
) -> None:
    """The stored NLL at T = 1 and F1 at the threshold are reproduced by the completion fn on
    the validation rows: training and inference read the same first-token logits."""
    from ftevals.completion_fns.hf_causal import HFCausalCompletionFn

    calibration = Calibration.model_validate(read_meta(label_adapter)["calibration"])
    kwargs = {"adapters": str(label_adapter), "choices": "safe|unsafe"}
    raw = HFCausalCompletionFn(str(tiny_llama_dir), calibrated="false", **kwargs)
    calibrated = HFCausalCompletionFn(str(tiny_llama_dir), **kwargs)
    assert raw.calibration is None
    assert calibrated.calibration == calibration

    nll, tp, fp, fn = 0.0, 0, 0, 0
    val = validation_rows(label_config)
    for row in val:
        prompt, answer = row.prompt_messages(), row.answer()
        nll -= math.log(raw(prompt).raw["probs"][answer])
        said = calibrated(prompt).get_completions()[0]
        tp += said == answer == "unsafe"
        fp += said == "unsafe" != answer
        fn += said == "safe" != answer
    assert nll / len(val) == pytest.approx(calibration.nll_before, abs=1e-3)
    assert 2 * tp / (2 * tp + fp + fn) == pytest.approx(calibration.f1_at_threshold)


def test_free_text_answers_get_no_calibration(tiny_llama_dir: Path, tmp_path: Path) -> None:
    rows = [chat(f"how do i make item {i}?", f"you make item {i} with care.") for i in range(20)]
    data = write_jsonl(tmp_path / "free.jsonl", rows)
    meta = read_meta(
        train(config_for(data, tmp_path / "a", tiny_llama_dir, max_steps=2), progress=False)
    )
    assert meta["train"]["validation_examples"] > 0
    assert "labels" not in meta
    assert "calibration" not in meta


def test_calibration_off_or_without_validation(
    tiny_llama_dir: Path, tiny_chat_data: Path, tmp_path: Path
) -> None:
    off = config_for(tiny_chat_data, tmp_path / "off", tiny_llama_dir, max_steps=2, calibrate=False)
    meta = read_meta(train(off, progress=False))
    assert meta["labels"] == ["safe", "unsafe"]
    assert "calibration" not in meta
    no_val = config_for(
        tiny_chat_data, tmp_path / "nv", tiny_llama_dir, max_steps=2, val_fraction=0
    )
    meta = read_meta(train(no_val, progress=False))
    assert meta["labels"] == ["safe", "unsafe"]
    assert "calibration" not in meta


def test_labels_sharing_a_first_token_get_no_calibration(
    tiny_llama_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rows = [chat(f"how do i do thing {i}?", "safely" if i % 2 else "safe") for i in range(20)]
    data = write_jsonl(tmp_path / "shared.jsonl", rows)
    meta = read_meta(
        train(config_for(data, tmp_path / "a", tiny_llama_dir, max_steps=2), progress=False)
    )
    assert meta["labels"] == ["safe", "safely"]
    assert "calibration" not in meta
    assert "do not start with distinct tokens" in caplog.text


def test_positive_label_must_be_a_label_before_training(
    tiny_llama_dir: Path, tiny_chat_data: Path, tmp_path: Path
) -> None:
    config = config_for(tiny_chat_data, tmp_path / "a", tiny_llama_dir, positive_label="harmful")
    with pytest.raises(FtevalsError, match="positive_label 'harmful' is not one of"):
        train(config, progress=False)
    assert not (tmp_path / "a").exists()
