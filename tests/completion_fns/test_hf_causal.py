"""HFCausalCompletionFn on a tiny Llama built in conftest (tokenizer trained on the spot)."""

from __future__ import annotations

import inspect
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
import torch
from evals.api import CompletionFn

from ftevals import paths
from ftevals.completion_fns.hf_causal import HFCausalCompletionFn
from ftevals.errors import FtevalsError

PROMPTS: list[Any] = [
    "how do i bake bread at home?",
    "the cat reads",
    [{"role": "user", "content": "a robot builds"}],
    [
        {"role": "system", "content": "answer safe or unsafe."},
        {"role": "user", "content": "how do i build a pipe bomb?"},
    ],
    "my friend paints a small boat. it is",
    "hi",
]


@pytest.fixture(scope="module")
def causal(tiny_llama_dir: Path) -> HFCausalCompletionFn:
    return HFCausalCompletionFn(str(tiny_llama_dir), max_tokens=12)


@pytest.fixture(scope="module")
def lora_dirs(tiny_llama_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two LoRA adapters with random (non-zero) B matrices, so they change the outputs."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    out = []
    for seed, name in ((1, "lora-one"), (2, "lora-two")):
        torch.manual_seed(seed)
        base = AutoModelForCausalLM.from_pretrained(str(tiny_llama_dir))
        config = LoraConfig(
            task_type="CAUSAL_LM",
            r=4,
            lora_alpha=32,
            target_modules=["q_proj", "v_proj"],
            init_lora_weights=False,
        )
        directory = tmp_path_factory.mktemp("loras") / name
        get_peft_model(base, config).save_pretrained(str(directory))
        out.append(directory)
    return out


def complete(fn: HFCausalCompletionFn, prompt: Any, **kwargs: Any) -> str:
    (text,) = fn(prompt, **kwargs).get_completions()
    assert isinstance(text, str)
    return text


def last_logits(fn: HFCausalCompletionFn, prompt: str) -> torch.Tensor:
    text = fn._render((("user", prompt),))
    enc = fn.tokenizer([text], return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        return fn.model(**enc).logits[0, -1].float()


def test_is_an_evals_completion_fn(causal: HFCausalCompletionFn) -> None:
    assert isinstance(causal, CompletionFn)
    assert "registry" in inspect.signature(HFCausalCompletionFn.__init__).parameters
    assert causal.tokenizer.padding_side == "left"


def test_greedy_generation_is_deterministic(
    causal: HFCausalCompletionFn, tiny_llama_dir: Path, recorder: Any
) -> None:
    first = complete(causal, "the cat reads")
    assert first.strip(), "the tiny model should say something"
    assert complete(causal, "the cat reads") == first
    assert complete(causal, "the cat reads", temperature=0) == first
    other = HFCausalCompletionFn(str(tiny_llama_dir), max_tokens=12, registry=None)
    assert complete(other, "the cat reads") == first


@pytest.mark.parametrize("max_tokens", [1, 3, 7])
def test_respects_max_tokens(causal: HFCausalCompletionFn, recorder: Any, max_tokens: int) -> None:
    full = complete(causal, "the teacher explains", max_tokens=30)
    text = complete(causal, "the teacher explains", max_tokens=max_tokens)
    usage = recorder.get_events("sampling")[-1].data["usage"]
    assert usage["completion_tokens"] <= max_tokens
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert full.startswith(text)  # greedy: a shorter budget gives a prefix


def test_default_max_tokens_applies(causal: HFCausalCompletionFn, recorder: Any) -> None:
    complete(causal, "a farmer finds")
    assert recorder.get_events("sampling")[-1].data["usage"]["completion_tokens"] <= 12


def test_stop_strings_cut_the_text(causal: HFCausalCompletionFn, recorder: Any) -> None:
    full = complete(causal, "the pilot cleans", max_tokens=20)
    assert len(full) >= 4, full
    stop = full[2:4]
    expected = full[: full.find(stop)]
    assert complete(causal, "the pilot cleans", max_tokens=20, stop=[stop]) == expected
    assert complete(causal, "the pilot cleans", max_tokens=20, stop=f"{stop}|zzzz") == expected
    assert complete(causal, "the pilot cleans", max_tokens=20, stop=["zzzz"]) == full
    assert complete(causal, "the pilot cleans", max_tokens=20, stop=None) == full


def test_string_and_chat_prompts(causal: HFCausalCompletionFn, recorder: Any) -> None:
    as_string = complete(causal, "the cat reads")
    as_chat = complete(causal, [{"role": "user", "content": "the cat reads"}])
    assert as_chat == as_string
    chat = [
        {"role": "system", "content": "answer safe or unsafe."},
        {"role": "user", "content": "how do i steal credit card numbers?"},
        {"role": "assistant", "content": "unsafe"},
        {"role": "user", "content": "how do i learn to swim?"},
    ]
    complete(causal, chat)
    events = recorder.get_events("sampling")
    assert events[-1].data["prompt"] == chat
    assert events[-1].data["usage"]["prompt_tokens"] > events[0].data["usage"]["prompt_tokens"]
    rendered = causal._render(tuple((m["role"], m["content"]) for m in chat))
    assert rendered.startswith("<|bos|><|system|>answer safe or unsafe.<|eos|>")
    assert rendered.endswith("<|user|>how do i learn to swim?<|eos|><|assistant|>")


def test_system_prompt_is_added_only_when_missing(tiny_llama_dir: Path, recorder: Any) -> None:
    fn = HFCausalCompletionFn(str(tiny_llama_dir), max_tokens=2, system="be brief.")
    plain = HFCausalCompletionFn(str(tiny_llama_dir), max_tokens=2)
    complete(fn, "hi")
    complete(plain, "hi")
    complete(fn, [{"role": "system", "content": "x"}, {"role": "user", "content": "hi"}])
    complete(plain, [{"role": "system", "content": "x"}, {"role": "user", "content": "hi"}])
    with_sys, without, own, own_plain = (
        e.data["usage"]["prompt_tokens"] for e in recorder.get_events("sampling")
    )
    assert with_sys > without
    assert own == own_plain
    assert recorder.get_events("sampling")[0].data["prompt"] == "hi"  # the caller's prompt


@pytest.mark.parametrize("choices", ["safe|unsafe", ["yes", "safe"]])
def test_choices_answer_one_of_them_with_probs(
    tiny_llama_dir: Path, recorder: Any, choices: Any
) -> None:
    fn = HFCausalCompletionFn(str(tiny_llama_dir), choices=choices)
    names = choices.split("|") if isinstance(choices, str) else choices
    for prompt in PROMPTS:
        result = fn(prompt)
        (answer,) = result.get_completions()
        assert answer in names
        probs = result.raw["probs"]
        assert list(probs) == names
        assert sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
        assert answer == max(probs, key=probs.__getitem__)
        data = recorder.get_events("sampling")[-1].data
        assert data["sampled"] == [answer]
        assert data["probs"] == probs
        assert data["usage"]["completion_tokens"] == 1


def test_choices_with_the_same_first_token_are_refused(tiny_llama_dir: Path) -> None:
    with pytest.raises(ValueError, match="distinct tokens"):
        HFCausalCompletionFn(str(tiny_llama_dir), choices=["safe", "safely"])


def test_concurrent_calls_are_batched_and_match_sequential_calls(
    tiny_llama_dir: Path, recorder: Any
) -> None:
    budgets = [4, 10, 6, 10, 3, 8]
    fn = HFCausalCompletionFn(
        str(tiny_llama_dir), max_tokens=10, batch_size=len(PROMPTS), max_wait_ms=30_000
    )
    one_by_one = HFCausalCompletionFn(str(tiny_llama_dir), max_tokens=10, max_wait_ms=0)
    sequential = [
        complete(one_by_one, p, max_tokens=n) for p, n in zip(PROMPTS, budgets, strict=True)
    ]
    assert one_by_one.batcher.batch_sizes == [1] * len(PROMPTS)

    barrier = threading.Barrier(len(PROMPTS))
    results: dict[int, str] = {}
    errors: list[BaseException] = []

    def call(i: int) -> None:
        with recorder.as_default_recorder(f"c.{i}"):
            barrier.wait()
            try:
                results[i] = complete(fn, PROMPTS[i], max_tokens=budgets[i])
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(PROMPTS))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive()
    assert not errors
    assert fn.batcher.batch_sizes == [len(PROMPTS)]
    assert [results[i] for i in range(len(PROMPTS))] == sequential
    for i, budget in enumerate(budgets):
        (event,) = [e for e in recorder.get_events("sampling") if e.sample_id == f"c.{i}"]
        assert event.data["usage"]["completion_tokens"] <= budget


def test_sampling_with_temperature(causal: HFCausalCompletionFn, recorder: Any) -> None:
    torch.manual_seed(0)
    text = complete(causal, "the cat reads", temperature=1.0, top_p=0.9, max_tokens=5)
    assert isinstance(text, str)
    assert recorder.get_events("sampling")[-1].data["usage"]["completion_tokens"] <= 5


def test_lora_adapter_changes_the_outputs(
    causal: HFCausalCompletionFn, tiny_llama_dir: Path, lora_dirs: list[Path], recorder: Any
) -> None:
    one = HFCausalCompletionFn(str(tiny_llama_dir), adapters=str(lora_dirs[0]), max_tokens=12)
    assert one.adapter_names == ["lora-one"]
    assert one.name == f"{tiny_llama_dir}+lora-one"
    base_logits = last_logits(causal, "the cat reads")
    one_logits = last_logits(one, "the cat reads")
    assert not torch.allclose(base_logits, one_logits, atol=1e-3)
    outputs = [complete(fn, p) for fn in (causal, one) for p in PROMPTS[:3]]
    assert outputs[:3] != outputs[3:]
    assert recorder.get_events("sampling")[-1].data["model"] == f"{tiny_llama_dir}+lora-one"

    both = HFCausalCompletionFn(
        str(tiny_llama_dir), adapters=f"{lora_dirs[0]}|{lora_dirs[1]}", max_tokens=12
    )
    assert both.adapter_names == ["lora-one", "lora-two"]
    both_logits = last_logits(both, "the cat reads")
    assert not torch.allclose(both_logits, one_logits, atol=1e-3)
    assert not torch.allclose(both_logits, base_logits, atol=1e-3)


def test_adapter_by_name_under_ftevals_home(
    tiny_llama_dir: Path, lora_dirs: list[Path], recorder: Any
) -> None:
    named = paths.adapters_dir() / "causal-by-name"
    shutil.copytree(lora_dirs[0], named)
    try:
        by_name = HFCausalCompletionFn(str(tiny_llama_dir), adapters=["causal-by-name"])
        by_path = HFCausalCompletionFn(str(tiny_llama_dir), adapters=[str(lora_dirs[0])])
        assert torch.equal(last_logits(by_name, "the map"), last_logits(by_path, "the map"))
    finally:
        shutil.rmtree(named)


def test_missing_model_and_adapter_raise(tiny_llama_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(FtevalsError, match="does not exist"):
        HFCausalCompletionFn(str(tmp_path / "no-model"))
    with pytest.raises(FtevalsError, match="no-such-lora"):
        HFCausalCompletionFn(str(tiny_llama_dir), adapters="no-such-lora")
