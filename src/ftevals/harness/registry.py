"""The engine's registry: evals' own, plus the sample cache and a progress file.

:func:`harness_registry_class` subclasses ftevals' evals ``Registry`` (see ``evals_compat``):

* ``make_completion_fn`` wraps every completion function it builds in
  :class:`~ftevals.harness.cache.CachingCompletionFn` when a cache is configured. Solvers are
  left alone (evals' SolverEvals check their types), and a SolverEval gets unwrapped functions.
* ``get_class`` (the eval factory) hooks the eval instance so that it reports progress: the
  number of samples when ``eval_all_samples`` starts, then one line per finished sample, to a
  JSONL file the parent ``ftevals run`` process reads for its progress bar.
* ``get_class`` applies a run-wide judge (``ftevals run --judge NAME --judge-args k=v``): an
  eval class taking a ``judge`` argument (ftevals' ``JudgedClassify``) gets it in place of its
  own; evals' ``ModelBasedClassify``, whose judge is the last completion function, gets the
  judge appended to its completion functions.
* ``get_class`` also checks the eval first (``ftevals.harness.registry_check``): its class must
  be an evals ``Eval`` taking the spec's args, and its data files are read from the registries'
  ``data/`` folders only (never the working directory, a URL or a path outside them).
"""

from __future__ import annotations

import functools
import json
import threading
from pathlib import Path
from typing import Any

from ftevals import evals_compat
from ftevals.harness.cache import CachingCompletionFn, SampleCache


class ProgressFile:
    """Lines ``{"total": n}``, ``{"done": sample_id}`` and ``{"cache": {...}}``, each flushed."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self.path.open("w", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, **record: Any) -> None:
        with self._lock:
            if not self._fh.closed:
                self._fh.write(json.dumps(record, default=str) + "\n")
                self._fh.flush()

    def close(self) -> None:
        with self._lock:
            self._fh.close()


def fn_spec(registry: Any, name: str, completion_args: dict[str, Any]) -> dict[str, Any]:
    """What identifies a completion function: name, registry class and args, completion args."""
    spec: dict[str, Any] = {"name": name, "completion_args": dict(completion_args)}
    known = registry._completion_fns | registry._solvers  # evals' loaded YAML entries
    if name in known:
        entry = registry.get_completion_fn(name)
        args = {k: v for k, v in (entry.args or {}).items() if k != "registry"}
        spec.update({"cls": entry.cls, "args": args})
    return spec


def _is_solver(instance: object) -> bool:
    return any(
        cls.__name__ == "Solver" and cls.__module__.startswith("evals.solvers")
        for cls in type(instance).__mro__
    )


def _is_solver_eval(factory: Any) -> bool:
    from evals.eval import SolverEval

    cls = getattr(factory, "func", factory)
    return isinstance(cls, type) and issubclass(cls, SolverEval)


def _report_progress(instance: Any, progress: ProgressFile) -> None:
    """Wrap the eval instance's ``eval_all_samples`` and ``eval_sample`` to write progress."""
    import evals.eval
    import evals.record

    run_all = instance.eval_all_samples
    run_one = instance.eval_sample

    def eval_all_samples(recorder: Any, samples: Any, *args: Any, **kwargs: Any) -> Any:
        limit = evals.eval._MAX_SAMPLES  # oaieval's --max_samples, as _index_samples applies it
        total = len(samples) if limit is None else min(len(samples), limit)
        progress.write(total=total)
        return run_all(recorder, samples, *args, **kwargs)

    def eval_sample(sample: Any, rng: Any) -> Any:
        result = run_one(sample, rng)
        recorder = evals.record.default_recorder()
        progress.write(done=recorder.current_sample_id() if recorder is not None else None)
        return result

    instance.eval_all_samples = eval_all_samples
    instance.eval_sample = eval_sample


@functools.cache
def harness_registry_class() -> type[Any]:
    """ftevals' evals ``Registry`` with the cache and progress hooks (module docstring)."""
    base = evals_compat.registry_class()

    class HarnessRegistry(base):  # type: ignore[misc,valid-type]
        def __init__(
            self,
            *args: Any,
            sample_cache: SampleCache | None = None,
            progress: ProgressFile | None = None,
            judge: tuple[str, dict[str, Any]] | None = None,
            **kwargs: Any,
        ) -> None:
            super().__init__(*args, **kwargs)
            self.sample_cache = sample_cache
            self.progress = progress
            self.judge = judge

        def make_completion_fn(self, name: str, **kwargs: Any) -> Any:
            spec = fn_spec(self, name, kwargs) if self.sample_cache is not None else {}
            instance = super().make_completion_fn(name, **kwargs)
            if self.sample_cache is None or _is_solver(instance):
                return instance
            return CachingCompletionFn(instance, spec, self.sample_cache)

        def get_class(self, spec: Any) -> Any:
            from evals.eval import Eval

            from ftevals.harness import registry_check as check

            roots = check.data_roots(self._registry_paths)
            check.check_spec_data(spec, roots)
            try:
                factory = super().get_class(spec)
            except (ImportError, AttributeError) as exc:
                msg = f"class {spec.cls} cannot be imported ({type(exc).__name__}: {exc})"
                raise check.spec_entry(spec).error(msg, "class") from None
            check.check_eval_class(spec, getattr(factory, "func", factory), Eval)
            progress = self.progress
            judge = self.judge

            def build(*args: Any, completion_fns: list[Any], **kwargs: Any) -> Any:
                if _is_solver_eval(factory):
                    completion_fns = [getattr(fn, "inner", fn) for fn in completion_fns]
                if judge is not None:
                    completion_fns, kwargs = self._with_judge(
                        factory, judge, completion_fns, kwargs
                    )
                instance = factory(*args, completion_fns=completion_fns, **kwargs)
                check.confine_instance(instance, spec.registry_path, roots)
                if progress is not None:
                    _report_progress(instance, progress)
                return instance

            return build

        def _with_judge(
            self,
            factory: Any,
            judge: tuple[str, dict[str, Any]],
            completion_fns: list[Any],
            kwargs: dict[str, Any],
        ) -> tuple[list[Any], dict[str, Any]]:
            """The run-wide judge in place of the eval's own (see the module docstring)."""
            import inspect

            from evals.elsuite.modelgraded.classify import ModelBasedClassify

            cls = getattr(factory, "func", factory)
            name, judge_args = judge
            if not isinstance(cls, type):
                return completion_fns, kwargs
            if "judge" in inspect.signature(cls).parameters:
                return completion_fns, {**kwargs, "judge": name, "judge_args": judge_args}
            if issubclass(cls, ModelBasedClassify):
                return [*completion_fns, self.make_completion_fn(name, **judge_args)], kwargs
            return completion_fns, kwargs

    return HarnessRegistry
