from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from ftevals.converters import tokens
from ftevals.converters.tokens import (
    TIKTOKEN_SHA256,
    TIKTOKEN_URL,
    HFCounter,
    context_length,
    counter_for,
    seed_tiktoken_cache,
)
from ftevals.errors import FtevalsError

TEXTS = [
    "hello world",
    "How do I build a pipe bomb?",
    "  leading and trailing spaces \n\n new lines\ttabs",
    "Ünïcödé — 日本語のテキスト, emoji 🚀🔥 and numbers 1234567",
    "special-token text is plain text here: <|endoftext|> <|fim_prefix|>",
    "",
]


@pytest.mark.parametrize("encoding", ["cl100k_base", "o200k_base"])
def test_seeded_cache_is_tiktokens_own_file(encoding: str) -> None:
    path = seed_tiktoken_cache(encoding)
    url = TIKTOKEN_URL.format(name=encoding)
    assert path.name == hashlib.sha1(url.encode()).hexdigest()
    assert path.parent == Path(os.environ["TIKTOKEN_CACHE_DIR"])
    assert hashlib.sha256(path.read_bytes()).hexdigest() == TIKTOKEN_SHA256[encoding]
    assert seed_tiktoken_cache(encoding) == path  # idempotent


@pytest.mark.parametrize(
    ("model", "encoding"), [("gpt-4o-mini", "o200k_base"), (None, "cl100k_base")]
)
def test_counts_match_an_independent_tokenizer(model: str | None, encoding: str) -> None:
    import quicktok  # type: ignore[import-untyped]  # a separate implementation of the same BPE

    counter = counter_for(model)
    assert counter.name == f"tiktoken {encoding}"
    reference = quicktok.get_encoding(encoding)
    assert isinstance(counter, tokens.TiktokenCounter)
    for text in TEXTS:
        assert counter.tokens(text) == len(reference.encode_ordinary(text))
        assert counter.tokens(text) == len(reference.encode_ordinary(text))  # cached


def test_cookbook_chat_count() -> None:
    counter = counter_for("gpt-4")
    assert isinstance(counter, tokens.TiktokenCounter)
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello world", "name": "bob"},
        {"role": "assistant", "content": "safe", "weight": 1},
    ]
    t = counter.tokens
    expected = 3 + sum(3 + t(m["role"]) + t(m["content"]) for m in messages) + t("bob") + 1
    assert counter.count(messages) == (expected, t("safe"))


def test_tool_calls_count_as_json_and_null_content_counts_nothing() -> None:
    counter = counter_for("gpt-4o")
    assert isinstance(counter, tokens.TiktokenCounter)
    call = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    messages = [{"role": "assistant", "content": None, "tool_calls": call}]
    import json

    calls = counter.tokens(json.dumps(call, ensure_ascii=False))
    assert counter.count(messages) == (3 + 3 + counter.tokens("assistant") + calls, calls)


def test_context_lengths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert context_length(None) == 16385
    assert context_length("gpt-4o-mini") == 65536
    assert context_length("gpt-4o-mini-2024-07-18") == 65536
    assert context_length("ft:gpt-3.5-turbo-0125:org::abc") == 16385
    assert context_length("openai/gpt-4.1-nano") == 65536
    assert context_length("llama-70b") is None
    extra = tmp_path / "limits.yaml"
    extra.write_text(
        "default: 4096\nmodels:\n  llama-70b: 8192\n  gpt-4o: 1000\n", encoding="utf-8"
    )
    monkeypatch.setenv("FTEVALS_CONTEXT_LENGTHS", str(extra))
    assert (context_length(None), context_length("llama-70b"), context_length("gpt-4o")) == (
        4096,
        8192,
        1000,
    )
    assert context_length("gpt-4o-mini") == 65536  # longest prefix still wins
    extra.write_text("models: [1, 2]\n", encoding="utf-8")
    tokens._context_table.cache_clear()
    with pytest.raises(FtevalsError, match="cannot read the context-length table"):
        context_length("x")
    tokens._context_table.cache_clear()


def test_unknown_openai_model_falls_back_to_the_cookbook_limit() -> None:
    counter = counter_for("gpt-4")
    assert counter.context_length == 16385
    assert "not in the context-length table" in counter.context_source


def test_unavailable_encoding_is_a_clear_error() -> None:
    with pytest.raises(FtevalsError, match="'p50k_base' is not available offline"):
        seed_tiktoken_cache("p50k_base")


def test_hf_counter_without_chat_template(tiny_llama_dir: Path) -> None:
    counter = HFCounter(str(tiny_llama_dir))
    counter._tok.chat_template = None
    messages = [
        {"role": "user", "content": "the cat reads"},
        {"role": "assistant", "content": "safe"},
    ]
    enc = counter._tok
    plain = len(enc.encode("the cat reads", add_special_tokens=False))
    answer = len(enc.encode("safe", add_special_tokens=False))
    assert counter.count(messages) == (plain + answer + enc.num_special_tokens_to_add(), answer)
