"""Model-graded evals with a named judge and honest invalid verdicts.

evals' ``ModelBasedClassify`` takes the judge from the model list (the *last* name of
``oaieval a,b``; with one name the model judges itself) and scores an unparseable verdict
as the lowest choice score. :class:`JudgedClassify` keeps evals' specs, prompts and report
keys but:

* the judge is named in the eval's args (``judge: <completion fn name>``, optionally
  ``judge_args``), or by ``--extra_eval_params judge=NAME``, or else by ``$FTEVALS_JUDGE``;
  it is built through the registry evals passes to eval classes, and every name in the
  model list is a model under test;
* a verdict is read strictly (:func:`parse_verdict`): a line that *is* one of the choices
  (case, markdown, quotes, trailing punctuation and an ``Answer:``-style prefix ignored),
  scanned bottom-up for ``cot_classify``. Anything else is recorded as ``__invalid__`` with
  ``score: null``: counted and reported (``invalid``, ``invalid_rate``), never scored;
* ``rates`` adds shares of chosen verdicts to the report, e.g. ``harmfulness_rate`` = share
  of ``5`` among valid verdicts;
* a model or judge call that failed for good (a result with ``failed`` set, see
  ``ftevals.elsuite._calls``) is recorded as ``{"failed": true, "stage", "error"}`` and
  counted as ``failed``, never as a verdict; a run where every sample failed raises.
"""

from __future__ import annotations

import copy
import os
import re
from collections import Counter
from typing import Any

import evals.record
from evals.api import CompletionFn
from evals.elsuite.modelgraded.classify import ModelBasedClassify
from evals.elsuite.modelgraded.classify_utils import (
    INVALID_STR,
    MATCH_FNS,
    append_answer_prompt,
    concat_n_completions,
    get_choice,
    get_choice_score,
    get_choice_strings,
)
from evals.elsuite.utils import scrub_formatting_from_prompt
from evals.record import RecorderBase

from ftevals import evals_compat
from ftevals.elsuite._calls import complete_template
from ftevals.elsuite._samples import load_samples
from ftevals.errors import FtevalsError

INVALID = INVALID_STR
"""The recorded choice of an unparseable verdict (the same string evals uses)."""
JUDGE_ENV = "FTEVALS_JUDGE"
"""Environment variable naming the judge when the eval's args do not."""
JUDGE_ARGS_ENV = "FTEVALS_JUDGE_ARGS"
"""Environment variable with the judge's arguments (``k=v,...``) when the eval's args give none
(the way to pass them with plain ``oaieval --extra_eval_params judge=NAME``)."""
EXACT_LINE = "exact_line"

_PREFIX = re.compile(
    r"^(?:final\s+|my\s+)?(?:answer|verdict|choice|score|rating|label|decision|classification)"
    r"\s*(?:is)?\s*[:=\-]?\s+",
    re.IGNORECASE,
)
_EDGES = "*_`#>\"'“”‘’()[]{}<> \t"
_TRAILING = ".!?,;:"


def _clean(line: str) -> str:
    text = line.strip().strip(_EDGES)
    text = _PREFIX.sub("", text).strip(_EDGES)
    return text.rstrip(_TRAILING).strip(_EDGES)


def parse_verdict(text: str, choices: list[str], eval_type: str | None = None) -> str | None:
    """The choice a judge's answer names, or ``None`` when it names none.

    A line names a choice when, cleaned of markdown, quotes, trailing punctuation and an
    ``Answer:``/``Verdict:``/``Score:`` prefix, it equals the choice (ignoring case).
    ``cot_classify*`` answers end with the choice, so their lines are read bottom-up;
    otherwise top-down. The first line that names a choice decides.
    """
    by_fold = {choice.casefold(): choice for choice in choices}
    lines = text.strip().splitlines()
    if eval_type and eval_type.startswith("cot_classify"):
        lines.reverse()
    for line in lines:
        cleaned = _clean(line).casefold()
        if cleaned in by_fold:
            return by_fold[cleaned]
    return None


def resolve_judge(registry: Any, name: str | None, args: dict[str, Any] | None) -> CompletionFn:
    """The judge completion function ``name`` (or ``$FTEVALS_JUDGE``), built by ``registry``."""
    name = name or os.environ.get(JUDGE_ENV) or None
    if not name:
        raise FtevalsError(
            "this model-graded eval needs a judge: `ftevals run ... --judge NAME "
            "[--judge-args k=v,...]`, or with plain oaieval `--extra_eval_params judge=NAME` "
            f"(judge arguments in {JUDGE_ARGS_ENV}=k=v,...), or set {JUDGE_ENV}=NAME, or add "
            "`judge: NAME` to the eval's args"
        )
    if args is None and os.environ.get(JUDGE_ARGS_ENV):
        from ftevals.converters._fns import parse_args

        args = parse_args(os.environ[JUDGE_ARGS_ENV])
    from evals.registry import is_chat_model

    if is_chat_model(name) and not evals_compat.has_real_openai_key():
        raise FtevalsError(f"judge {name!r} is an OpenAI model and OPENAI_API_KEY is not set")
    try:
        judge: CompletionFn = registry.make_completion_fn(name, **(args or {}))
    except ValueError as exc:
        raise FtevalsError(f"judge {name!r}: {exc}") from None
    return judge


class JudgedClassify(ModelBasedClassify):  # type: ignore[misc]
    """``ModelBasedClassify`` with a named judge, strict verdicts and reported invalids.

    Args (registry YAML ``args``), beside evals' own (``modelgraded_spec``, ``samples_jsonl``,
    ``modelgraded_spec_args``, ``sample_kwargs``, ``eval_kwargs``, ``eval_type``,
    ``multicomp_n``, ``metaeval``):
        judge: completion function name of the judge (see :func:`resolve_judge`).
        judge_args: constructor args for the judge (like ``--completion_args``).
        rates: report key -> choices, e.g. ``{harmfulness_rate: ["5"]}``: the share of valid
            verdicts that are one of those choices.
        match_fn: ``exact_line`` (default, :func:`parse_verdict`) or one of evals' match
            functions (``starts_or_endswith``, ``include``, ``exact``, ``endswith``); either
            way a verdict that names no choice is invalid, never scored.
    """

    def __init__(
        self,
        completion_fns: list[CompletionFn],
        modelgraded_spec: str,
        *args: Any,
        judge: str | None = None,
        judge_args: dict[str, Any] | None = None,
        rates: dict[str, list[str]] | None = None,
        match_fn: str | None = None,
        multicomp_n: int | str = 1,
        **kwargs: Any,
    ) -> None:
        under_test = list(completion_fns)
        if multicomp_n == 1 and len(under_test) != 1:
            raise FtevalsError(
                f"one model under test, got {len(under_test)} completion functions: the judge "
                "is named by the eval's `judge` arg (or FTEVALS_JUDGE), not by the model list"
            )
        if match_fn not in (None, EXACT_LINE, *MATCH_FNS):
            raise FtevalsError(f"match_fn must be {EXACT_LINE} or one of {sorted(MATCH_FNS)}")
        super().__init__(
            modelgraded_spec,
            *args,
            completion_fns=under_test + under_test[-1:],  # evals drops the last as its judge
            multicomp_n=multicomp_n,
            **kwargs,
        )
        self.judge_name = judge or os.environ.get(JUDGE_ENV) or ""
        self.eval_completion_fn = resolve_judge(self.registry, judge, judge_args)
        self.match_fn = match_fn or EXACT_LINE
        self.choices: list[str] = list(get_choice_strings(self.mg.choice_strings, self.multicomp_n))
        self.rates = {key: [str(c) for c in chosen] for key, chosen in (rates or {}).items()}
        for key, chosen in self.rates.items():
            unknown = sorted(set(chosen) - set(self.choices))
            if unknown:
                raise FtevalsError(f"rates.{key}: {unknown} are not choices {self.choices}")

    def _verdict(self, text: str) -> str | None:
        eval_type = self.mg.eval_type or self.eval_type
        if self.match_fn == EXACT_LINE:
            return parse_verdict(text, self.choices, eval_type)
        choice = get_choice(text, eval_type or "classify", self.match_fn, self.choices)
        return None if choice == INVALID else str(choice)

    def _judge_prompt(self) -> list[dict[str, Any]]:
        prompt = self.mg.prompt
        messages = (
            [{"role": "user", "content": prompt}]
            if isinstance(prompt, str)
            else copy.deepcopy(prompt)  # evals appends to the spec's own list in place
        )
        if self.eval_type:
            messages = append_answer_prompt(
                prompt=messages, eval_type=self.eval_type, choice_strings=self.choices
            )
        return messages

    def _completions(self, sample: dict[str, Any]) -> tuple[dict[str, str], str | None]:
        """Outputs of the model(s) under test, or the first failure reason."""
        completions: dict[str, str] = {}
        for key, output in self.mg.input_outputs.items():
            if output in sample:  # the sample already holds it (screening data): no generation
                continue
            texts = []
            for i in range(self.multicomp_n):
                fn = self.completion_fns[i] if len(self.completion_fns) > 1 else self.completion_fn
                text, failure = complete_template(fn, sample[key], self.sample_kwargs)
                if failure is not None:
                    return completions, failure
                texts.append(text)
            if self.multicomp_n > 1:
                completions[output] = concat_n_completions(texts, self.mg.output_template)
            else:
                completions[output] = texts[0]
        return completions, None

    def eval_sample(self, test_sample: dict[str, Any], rng: Any) -> str | None:
        for key in self.mg.input_outputs:
            test_sample[key] = scrub_formatting_from_prompt(test_sample[key])
        completions, failure = self._completions(test_sample)
        verdict = ""
        if failure is None:
            format_kwargs = {**completions, **test_sample, **self.modelgraded_spec_args}
            verdict, failure = complete_template(
                self.eval_completion_fn,
                self._judge_prompt(),
                self.eval_kwargs,
                n=self.multicomp_n,
                **format_kwargs,
            )
            stage = "judge"
        else:
            stage = "model"
        if failure is not None:  # a failed call is a failed sample, never a verdict
            evals.record.record_metrics(failed=True, stage=stage, error=failure)
            return None
        choice = self._verdict(verdict)
        score = None
        if choice is not None:
            score = get_choice_score(choice, self.choices, self.mg.choice_scores)
        metrics: dict[str, Any] = {
            "choice": choice if choice is not None else INVALID,
            "score": score,
            "invalid": choice is None,
            "judge": self.judge_name,
            "verdict": verdict,
        }
        if self.metaeval:
            metrics["metascore"] = choice is not None and choice == test_sample["choice"]
        evals.record.record_metrics(**metrics)
        return choice

    def run(self, recorder: RecorderBase) -> dict[str, float]:
        samples = load_samples(self)
        self.eval_all_samples(recorder, samples)
        metrics = recorder.get_metrics()
        graded = [m for m in metrics if "choice" in m]
        failed = [m for m in metrics if m.get("failed") is True]
        if failed and not graded:
            first = failed[0]
            raise FtevalsError(
                f"all {len(failed)} samples failed; first: {first['stage']}: {first['error']}"
            )
        return self.report(graded, failed=len(failed))

    def report(self, graded: list[dict[str, Any]], failed: int = 0) -> dict[str, float]:
        """evals' keys (``counts/<choice>``, ``score``, ``metascore``) plus ``n``, ``valid``,
        ``invalid``, ``invalid_rate``, ``failed`` and the configured ``rates``. ``score`` and
        rates are over valid verdicts only, and absent when there is none."""
        counts = Counter(str(m["choice"]) for m in graded)
        valid = [m for m in graded if m["choice"] != INVALID]
        result: dict[str, float] = {f"counts/{k}": v for k, v in sorted(counts.items())}
        scores = [float(m["score"]) for m in valid if m.get("score") is not None]
        if scores:
            result["score"] = sum(scores) / len(scores)
        metascores = [bool(m["metascore"]) for m in graded if "metascore" in m]
        if metascores:
            result["metascore"] = sum(metascores) / len(metascores)
        invalid = len(graded) - len(valid)
        result.update(
            n=len(graded),
            valid=len(valid),
            invalid=invalid,
            invalid_rate=invalid / len(graded) if graded else 0.0,
            failed=failed,
        )
        for key, chosen in self.rates.items() if valid else ():
            result[key] = sum(1 for m in valid if m["choice"] in chosen) / len(valid)
        return result
