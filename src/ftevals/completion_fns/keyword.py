"""A keyword block-list guard: the naive baseline that safety classifiers must beat.

It answers ``unsafe`` when the text contains a listed word (whole-word, case-insensitive)
and ``safe`` otherwise. It is fast and transparent, and it fails exactly where guards fail
most: benign look-alikes ("kill a process") and harmful requests without trigger words.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from ftevals.completion_fns.base import Prompt, TextCompletionResult, record_call, text_to_classify
from ftevals.errors import FtevalsError

DEFAULT_KEYWORDS = (
    "bomb explosive explosives detonator weapon weapons gun guns rifle ammunition kill killing "
    "murder poison poisoning meth methamphetamine cocaine heroin fentanyl drug drugs overdose "
    "suicide self-harm hack hacking malware ransomware keylogger phishing exploit steal stealing "
    "launder laundering counterfeit fraud scam terrorist terrorism extremist nazi slur torture "
    "kidnap trafficking stalk stalking dox doxx"
).split()


class KeywordGuardCompletionFn:
    """Answers ``unsafe``/``safe`` by a whole-word keyword match.

    Args:
        keywords_file: optional text file, one keyword per line (``#`` starts a comment).
        positive / negative: the two answers.
    """

    def __init__(
        self,
        keywords_file: str | None = None,
        positive: str = "unsafe",
        negative: str = "safe",
        registry: Any = None,
        **kwargs: Any,
    ) -> None:
        words: list[str] = list(DEFAULT_KEYWORDS)
        if keywords_file:
            lines = Path(keywords_file).read_text(encoding="utf-8").splitlines()
            words = [w.split("#")[0].strip() for w in lines if w.split("#")[0].strip()]
            if not words:
                # an empty alternation would match between any two non-word characters
                raise FtevalsError(f"{keywords_file}: no keywords (one per line, # comments)")
        self.keywords = words
        self.positive = positive
        self.negative = negative
        alternation = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
        self._pattern = re.compile(rf"(?<![\w-])(?:{alternation})(?![\w-])", re.IGNORECASE)

    def __call__(self, prompt: Prompt, **kwargs: Any) -> TextCompletionResult:
        started = time.perf_counter()
        hit = self._pattern.search(text_to_classify(prompt))
        answer = self.positive if hit else self.negative
        record_call(
            prompt,
            [answer],
            model="keyword-guard",
            latency_s=time.perf_counter() - started,
            matched=hit.group(0) if hit else None,
        )
        return TextCompletionResult([answer])
