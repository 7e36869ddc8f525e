"""Runs of one model trained with several seeds: the mean and spread of each figure.

One training run is one draw: a figure can move by several points between two seeds of the
same config, more than between two configs. ``ftevals train --seeds N`` saves the adapters as
``<name>-seed<k>`` and records ``seed`` and ``seed_group`` (``<name>``) in their
``ftevals.json``. :func:`seed_groups` groups the report rows of one eval (same ``eval_name``)
whose model names are equal once a ``-seed<k>`` suffix is taken out (in a ``--label``, or in
the adapter's name as the display name shows it: ``hf-classifier[adapter=minilm-a-seed2]``);
a name without the suffix is grouped by its adapter's recorded ``seed_group`` and ``seed``
when the adapter's ``ftevals.json`` is readable (:func:`recorded_seed`). A group of two or more
seeds reports, per figure (:data:`FIGURES`), the mean, the sample standard deviation (ddof 1),
the minimum, the maximum and the number of seeds.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from ftevals.errors import FtevalsError

if TYPE_CHECKING:
    from ftevals.harness.columns import Figure
    from ftevals.harness.compare import ModelEvalReport
    from ftevals.harness.logs import EvalLog

logger = logging.getLogger(__name__)

SEED_SUFFIX = re.compile(r"-seed(\d+)(?=$|[\],|])")
"""``-seed<k>`` at the end of a name, or of a part of it (before ``]``, ``,`` or ``|``)."""
META_FILE = "ftevals.json"


FIGURES = ("accuracy", "macro_f1", "positive_f1", "auprc", "mean_score")
"""Figures summarised over seeds, by their name in ``ftevals.harness.columns`` (which says how
each is read from a row and titled; ``positive_f1``: F1 of the eval's positive label)."""


def _figures() -> dict[str, Figure]:
    from ftevals.harness.columns import SUMMARY_FIGURES

    found = {figure.name: figure for figure in SUMMARY_FIGURES}
    return {name: found[name] for name in FIGURES}


class SeedFigure(BaseModel):
    """One figure over the seeds of a group: ``std`` is the sample standard deviation."""

    mean: float
    std: float
    min: float
    max: float
    n: int


class SeedGroup(BaseModel):
    """The runs of one model (``model``: the name without ``-seed<k>``) on one eval that differ
    only in seed, in the order of the report rows: their ``seeds``, ``models`` (display names)
    and ``runs``; ``figures`` has the figures every run has; ``positive_label`` names the class
    of ``positive_f1``."""

    eval: str
    eval_name: str
    model: str
    seeds: list[int]
    models: list[str]
    runs: list[str]
    positive_label: str | None = None
    figures: dict[str, SeedFigure] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)


def split_seed(name: str) -> tuple[str, int | None]:
    """(the name without its ``-seed<k>`` suffix, k), or (name, None) without one or with
    suffixes of different seeds."""
    seeds = {int(m.group(1)) for m in SEED_SUFFIX.finditer(name)}
    if len(seeds) != 1:
        return name, None
    return SEED_SUFFIX.sub("", name), seeds.pop()


def recorded_seed(log: EvalLog) -> tuple[str, int] | None:
    """(the group, the seed) an adapter of the log's model records in its ``ftevals.json``
    (``seed_group`` and ``seed``, written by ``ftevals train --seeds``), with the model name
    the group stands for: the display name with the adapter's shown name replaced by the
    group, or the group when the display name does not show it. None when not recorded."""
    from ftevals.harness.contamination import adapter_refs
    from ftevals.runtime.models import resolve_adapter

    for fn in log.completion_fns:
        for ref in adapter_refs(log, fn):
            try:
                meta = json.loads((resolve_adapter(ref) / META_FILE).read_text(encoding="utf-8"))
            except (FtevalsError, OSError, ValueError):
                continue
            group, seed = meta.get("seed_group"), meta.get("seed")
            if isinstance(group, str) and group and isinstance(seed, int):
                shown = Path(ref).name
                model = log.model.replace(shown, group) if shown in log.model else group
                return model, seed
    return None


def _seed_key(log: EvalLog) -> tuple[str, int] | None:
    model, seed = split_seed(log.model)
    if seed is not None:
        return model, seed
    try:
        return recorded_seed(log)
    except FtevalsError as exc:  # a registry that cannot be read: no seed from metadata
        logger.info("no recorded seed for %s: %s", log.path, exc)
        return None


def summarise(values: list[float]) -> SeedFigure:
    """Mean, sample standard deviation (0 for one value), min, max and n."""
    import numpy as np

    array = np.asarray(values, dtype=float)
    std = float(array.std(ddof=1)) if len(array) > 1 else 0.0
    return SeedFigure(
        mean=float(array.mean()),
        std=std,
        min=float(array.min()),
        max=float(array.max()),
        n=len(array),
    )


def seed_groups(logs: list[EvalLog], rows: list[ModelEvalReport]) -> list[SeedGroup]:
    """Groups of two or more runs that differ only in seed (module docstring), per eval."""
    groups: dict[tuple[str, str], list[tuple[int, ModelEvalReport]]] = {}
    for log, row in zip(logs, rows, strict=True):
        found = _seed_key(log)
        if found is not None:
            groups.setdefault((row.eval_name, found[0]), []).append((found[1], row))
    result = []
    for (eval_name, model), members in groups.items():
        seeds = [seed for seed, _ in members]
        if len(set(seeds)) < 2:
            continue
        group_rows = [row for _, row in members]
        group = SeedGroup(
            eval=group_rows[0].eval,
            eval_name=eval_name,
            model=model,
            seeds=seeds,
            models=[row.model for row in group_rows],
            runs=[row.run_id for row in group_rows],
            positive_label=group_rows[0].positive_label,
        )
        repeated = sorted({s for s in seeds if seeds.count(s) > 1})
        if repeated:
            group.notes.append(f"seeds {repeated} ran more than once: each run counts")
        for name, figure in _figures().items():
            values = [figure.value(row) for row in group_rows]
            if all(value is not None for value in values):
                group.figures[name] = summarise([float(v) for v in values if v is not None])
        result.append(group)
    return result


def seed_table(groups: list[SeedGroup]) -> list[list[str]]:
    """Header and one line per group (text and HTML reports): the model, the seeds, then per
    figure ``mean ± std [min, max]``; [] without groups."""
    if not groups:
        return []
    figures = _figures()
    shown = [name for name in figures if any(name in g.figures for g in groups)]
    positive = next((g.positive_label for g in groups if g.positive_label), "positive")
    header = ["model", "seeds", *(figures[name].title.format(positive=positive) for name in shown)]
    table = [header]
    several = len({g.eval_name for g in groups}) > 1
    for g in groups:
        split = g.eval_name.removeprefix(f"{g.eval}.")
        name = f"{g.model} ({split})" if several else g.model
        cells = [name, f"{len(g.seeds)} ({', '.join(str(s) for s in g.seeds)})"]
        for name in shown:
            f = g.figures.get(name)
            cells.append(
                "-" if f is None else f"{f.mean:.3f} ± {f.std:.3f} [{f.min:.3f}, {f.max:.3f}]"
            )
        table.append(cells)
    return table


def seed_lines(groups: list[SeedGroup]) -> list[str]:
    """The text report's block of the seed groups of one eval."""
    from ftevals.harness.report_text import _grid

    table = seed_table(groups)
    if not table:
        return []
    lines = ["", "  over seeds (mean ± std [min, max] of the seeds' figures):"]
    lines += _grid(table, "    ")
    lines += [f"    note: {g.model}: {note}" for g in groups for note in g.notes]
    return lines
