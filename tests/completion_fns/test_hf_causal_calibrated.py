"""HFCausalCompletionFn with choices applies the calibration stored with a causal adapter."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from ftevals.completion_fns.hf_causal import HFCausalCompletionFn
from ftevals.runtime.calibration import Calibration
from ftevals.runtime.meta import AdapterMeta, write_meta

PROMPTS: list[Any] = [
    "how do i bake bread at home?",
    [
        {"role": "system", "content": "answer safe or unsafe."},
        {"role": "user", "content": "how do i build a pipe bomb?"},
    ],
    "my friend paints a small boat. it is",
    "the cat reads",
]


@pytest.fixture(scope="module")
def lora_dir(tiny_llama_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA adapter with random (non-zero) B matrices and no ftevals.json."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(3)
    base = AutoModelForCausalLM.from_pretrained(str(tiny_llama_dir))
    config = LoraConfig(
        task_type="CAUSAL_LM",
        r=4,
        lora_alpha=32,
        target_modules=["q_proj", "v_proj"],
        init_lora_weights=False,
    )
    directory = tmp_path_factory.mktemp("loras") / "lora-plain"
    get_peft_model(base, config).save_pretrained(str(directory))
    return directory


def calibration(temperature: float = 1.0, threshold: float | None = 0.5) -> Calibration:
    return Calibration(
        temperature=temperature,
        positive_label="unsafe",
        threshold=threshold,
        examples=10,
        nll_before=0.7,
        nll_after=0.6,
        ece_before=0.2,
        ece_after=0.1,
        f1_at_threshold=0.8,
    )


def with_meta(lora_dir: Path, tmp_path: Path, meta: dict[str, Any]) -> Path:
    adapter = tmp_path / "adapter"
    shutil.copytree(lora_dir, adapter)
    # what `ftevals train --kind causal` writes always has a kind and a base
    write_meta(adapter, AdapterMeta.model_validate({"kind": "causal", "base": "tiny", **meta}))
    return adapter


def answers(fn: HFCausalCompletionFn) -> list[tuple[str, dict[str, float]]]:
    out = []
    for prompt in PROMPTS:
        result = fn(prompt)
        out.append((result.get_completions()[0], result.raw["probs"]))
    return out


def test_stored_threshold_flips_the_answer(
    tiny_llama_dir: Path, lora_dir: Path, tmp_path: Path, recorder: Any
) -> None:
    raw = HFCausalCompletionFn(str(tiny_llama_dir), adapters=str(lora_dir), choices="safe|unsafe")
    assert raw.calibration is None
    answer, probs = answers(raw)[0]
    p_unsafe = probs["unsafe"]
    assert answer == ("unsafe" if p_unsafe >= 0.5 else "safe")
    # A threshold on the far side of this prompt's probability: the answer must flip.
    threshold = (p_unsafe + 1) / 2 if answer == "unsafe" else p_unsafe / 2
    adapter = with_meta(
        lora_dir,
        tmp_path,
        {
            "labels": ["safe", "unsafe"],
            "calibration": calibration(threshold=threshold).model_dump(),
        },
    )
    fn = HFCausalCompletionFn(str(tiny_llama_dir), adapters=str(adapter), choices="safe|unsafe")
    assert fn.calibration is not None and fn.calibration.threshold == threshold
    result = fn(PROMPTS[0])
    flipped = "safe" if answer == "unsafe" else "unsafe"
    assert result.get_completions() == [flipped]
    assert result.raw["probs"] == pytest.approx(probs, abs=2e-6)  # T = 1: same probabilities
    event = recorder.get_events("sampling")[-1].data
    assert event["sampled"] == [flipped]
    assert event["probs"] == result.raw["probs"]

    off = HFCausalCompletionFn(
        str(tiny_llama_dir), adapters=str(adapter), choices="safe|unsafe", calibrated="false"
    )
    assert off.calibration is None
    assert answers(off) == answers(raw)


def test_temperature_scales_the_recorded_probabilities(
    tiny_llama_dir: Path, lora_dir: Path, tmp_path: Path, recorder: Any
) -> None:
    raw = HFCausalCompletionFn(str(tiny_llama_dir), adapters=str(lora_dir), choices="unsafe|safe")
    stored = calibration(temperature=3.0, threshold=None)
    adapter = with_meta(
        lora_dir, tmp_path, {"labels": ["safe", "unsafe"], "calibration": stored.model_dump()}
    )
    # Choices in another order than the stored labels: the calibration still applies.
    fn = HFCausalCompletionFn(str(tiny_llama_dir), adapters=str(adapter), choices="unsafe|safe")
    assert fn.calibration == stored
    for (raw_answer, raw_probs), (answer, probs) in zip(answers(raw), answers(fn), strict=True):
        margin = math.log(raw_probs["unsafe"]) - math.log(raw_probs["safe"])
        assert probs["unsafe"] == pytest.approx(1 / (1 + math.exp(-margin / 3)), abs=1e-4)
        assert list(probs) == ["unsafe", "safe"]
        assert answer == raw_answer  # no threshold: a temperature does not change the argmax


@pytest.mark.parametrize(
    ("meta", "choices"),
    [
        ({"labels": ["safe", "unsafe"]}, "safe|unsafe"),  # no calibration stored
        ({"labels": ["yes", "no"], "calibration": calibration().model_dump()}, "safe|unsafe"),
        ({"labels": ["safe", "unsafe"], "calibration": calibration().model_dump()}, None),
    ],
    ids=["uncalibrated", "other-labels", "no-choices"],
)
def test_calibration_applies_only_to_its_labels(
    tiny_llama_dir: Path, lora_dir: Path, tmp_path: Path, meta: dict[str, Any], choices: Any
) -> None:
    adapter = with_meta(lora_dir, tmp_path, meta)
    fn = HFCausalCompletionFn(str(tiny_llama_dir), adapters=str(adapter), choices=choices)
    assert fn.calibration is None


def test_no_calibration_for_several_adapters(
    tiny_llama_dir: Path, lora_dir: Path, tmp_path: Path
) -> None:
    adapter = with_meta(
        lora_dir,
        tmp_path,
        {"labels": ["safe", "unsafe"], "calibration": calibration().model_dump()},
    )
    fn = HFCausalCompletionFn(
        str(tiny_llama_dir), adapters=[str(adapter), str(lora_dir)], choices="safe|unsafe"
    )
    assert fn.calibration is None


def test_calibrated_must_be_a_boolean(tiny_llama_dir: Path) -> None:
    from ftevals.errors import FtevalsError

    with pytest.raises(FtevalsError, match="calibrated must be true or false"):
        HFCausalCompletionFn(str(tiny_llama_dir), choices="safe|unsafe", calibrated="maybe")
