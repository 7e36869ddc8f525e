"""``replay``: answer with the completion already stored for a prompt (no model is called).

evals passes a completion function only the prompt, so answers are found by the prompt:
``samples_jsonl`` holds rows with ``input`` (chat list or string, as in eval samples) and
``completion`` (a string, or a list of strings)::

    oaieval replay prompt-safety --registry_path registry \\
        --completion_args samples_jsonl=outputs/gpt4o-answers.jsonl

Prompts match exactly (JSON with sorted keys). A prompt missing from the file is a failed
sample with that reason, never a guess. The same prompt twice with different completions
is an error naming both lines.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ftevals.completion_fns._retry import CompletionFailed, check_on_failure, fail
from ftevals.completion_fns.base import Prompt, TextCompletionResult, record_call
from ftevals.errors import FtevalsError, InputError
from ftevals.jsonl import iter_jsonl


def prompt_key(prompt: Any) -> str:
    """The exact-match key of a prompt."""
    return json.dumps(prompt, sort_keys=True, ensure_ascii=False)


def _completions(value: Any, path: Path, line: int, field: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    raise InputError(path, "expected a string or a list of strings", line, field)


def load_replay(
    path: str | Path, input_key: str = "input", completion_key: str = "completion"
) -> dict[str, tuple[list[str], int]]:
    """``prompt key -> (completions, line)`` of a samples file."""
    path = Path(path)
    table: dict[str, tuple[list[str], int]] = {}
    for line, row in iter_jsonl(path):
        for field in (input_key, completion_key):
            if field not in row:
                raise InputError(path, "missing", line, field)
        prompt = row[input_key]
        if not isinstance(prompt, str | list):
            raise InputError(path, "expected a chat list or a string", line, input_key)
        completions = _completions(row[completion_key], path, line, completion_key)
        key = prompt_key(prompt)
        if key in table and table[key][0] != completions:
            raise InputError(
                path,
                f"same prompt as line {table[key][1]} with a different completion",
                line,
                completion_key,
            )
        table.setdefault(key, (completions, line))
    if not table:
        raise InputError(path, "no rows")
    return table


class ReplayCompletionFn:
    """Returns stored completions, found by exact prompt.

    Args:
        samples_jsonl: rows with the prompt and its completion.
        input_key / completion_key: field names (default ``input`` / ``completion``).
        on_failure: ``record`` (unknown prompt: failed sample) or ``raise``.
    """

    def __init__(
        self,
        samples_jsonl: str | None = None,
        input_key: str = "input",
        completion_key: str = "completion",
        on_failure: str = "record",
        registry: Any = None,
        **kwargs: Any,
    ) -> None:
        if not samples_jsonl:
            raise FtevalsError("`replay` needs samples_jsonl=PATH (rows with input and completion)")
        self.path = Path(samples_jsonl)
        self.table = load_replay(self.path, input_key, completion_key)
        self.on_failure = check_on_failure(on_failure)
        self.model = f"replay:{self.path.name}"

    def __call__(self, prompt: Prompt, **kwargs: Any) -> TextCompletionResult:
        started = time.perf_counter()
        found = self.table.get(prompt_key(prompt))
        if found is None:
            error = CompletionFailed(f"prompt not in {self.path}")
            return fail(
                prompt,
                error,
                model=self.model,
                latency_s=time.perf_counter() - started,
                on_failure=self.on_failure,
                provider="replay",
            )
        completions, line = found
        record_call(
            prompt,
            completions,
            model=self.model,
            latency_s=time.perf_counter() - started,
            provider="replay",
            replay_line=line,
        )
        return TextCompletionResult(list(completions))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, {len(self.table)} prompts)"
