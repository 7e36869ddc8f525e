"""The summary figures of a comparison report, declared once (:data:`SUMMARY_FIGURES`).

Each :class:`Figure` is one figure of a :class:`~ftevals.harness.compare.ModelEvalReport`
row: its column in the export's summary table (``name``), the object of the row it is read
from (the row itself, its macro or weighted average, or the positive class's
:class:`~ftevals.harness.compare.ClassReport`) and the attribute there, whether it has a 95%
interval (``<attribute>_ci`` beside it, exported as ``<name>_low``/``<name>_high``), the title
and decimals it is shown with, and its table: ``"figures"`` (the report's summary line, with
the intervals), ``"usage"`` (throughput, latency, tokens and cost of the models) or
``"export"`` (JSON, CSV and DataFrames only).

The text and HTML reports (``report_text``, ``report_html``) take their summary columns from
here, in this order, and the export (``export``) its summary columns and interval bounds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from ftevals.harness.compare import ClassReport, ModelEvalReport
from ftevals.harness.intervals import Interval

Table = Literal["figures", "usage", "export"]


def positive_class(row: ModelEvalReport) -> ClassReport | None:
    """The per-class figures of the row's positive label (None without one)."""
    return row.per_class.get(row.positive_label) if row.positive_label else None


def _row(row: ModelEvalReport) -> ModelEvalReport:
    return row


def _macro(row: ModelEvalReport) -> ClassReport | None:
    return row.macro


def _weighted(row: ModelEvalReport) -> ClassReport | None:
    return row.weighted


@dataclass(frozen=True)
class Figure:
    """One summary figure: ``name`` (its export column), ``table``, ``title`` (``{positive}``
    = the eval's positive label; empty for export only), ``with_ci`` (an interval
    ``<attribute>_ci`` beside it), ``digits``, ``source`` (the object of the row holding it,
    None when the row has none) and ``attribute`` there (``name`` unless given).
    ``in_summary`` is False for a figure exported in another table only: the positive class's
    F1 is the ``f1`` of the positive label's line of ``per_class``."""

    name: str
    table: Table
    title: str = ""
    with_ci: bool = False
    digits: int = 3
    source: Callable[[ModelEvalReport], Any] = _row
    attribute: str = ""
    in_summary: bool = True

    @property
    def field(self) -> str:
        """The attribute holding the figure (its interval is ``<field>_ci``)."""
        return self.attribute or self.name

    @property
    def bounds(self) -> list[str]:
        """The summary's interval columns of the figure: ``<name>_low``, ``<name>_high``."""
        if not (self.with_ci and self.in_summary):
            return []
        return [f"{self.name}_low", f"{self.name}_high"]

    def value(self, row: ModelEvalReport) -> Any:
        """The figure of ``row``, None when not computed."""
        holder = self.source(row)
        return None if holder is None else getattr(holder, self.field)

    def interval(self, row: ModelEvalReport) -> Interval | None:
        """The figure's 95% interval on ``row``, None when it has none."""
        holder = self.source(row)
        if holder is None or not self.with_ci:
            return None
        ci: Interval | None = getattr(holder, f"{self.field}_ci")
        return ci


SUMMARY_FIGURES: list[Figure] = [
    Figure("accuracy", "figures", "accuracy", with_ci=True),
    Figure("positive_f1", "figures", "F1 {positive}", with_ci=True, source=positive_class,
           attribute="f1", in_summary=False),
    Figure("fpr", "figures", "FPR", with_ci=True),
    Figure("macro_precision", "export", with_ci=True, source=_macro, attribute="precision"),
    Figure("macro_recall", "export", with_ci=True, source=_macro, attribute="recall"),
    Figure("macro_f1", "figures", "macro F1", with_ci=True, source=_macro, attribute="f1"),
    Figure("weighted_precision", "export", with_ci=True, source=_weighted,
           attribute="precision"),
    Figure("weighted_recall", "export", with_ci=True, source=_weighted, attribute="recall"),
    Figure("weighted_f1", "export", with_ci=True, source=_weighted, attribute="f1"),
    Figure("mcc", "figures", "MCC", with_ci=True),
    Figure("invalid", "export"),
    Figure("positive_label", "export"),
    Figure("auprc", "figures", "AUPRC", with_ci=True),
    Figure("samples_per_s", "usage", "samples/s", digits=2),
    Figure("latency_p50_s", "usage", "lat p50 s"),
    Figure("latency_p95_s", "usage", "lat p95 s"),
    Figure("prompt_tokens", "usage", "tokens in"),
    Figure("completion_tokens", "usage", "tokens out"),
    Figure("cost_usd", "usage", "cost $", digits=4),
    Figure("cost_per_1k", "usage", "$/1k samples", digits=4),
    Figure("choice_counts", "export"),
    Figure("mean_score", "figures", "score", with_ci=True),
    Figure("metascore", "figures", "metascore", with_ci=True),
    Figure("human_n", "export"),
    Figure("human_agreement", "figures", "human agreement", with_ci=True),
    Figure("human_kappa", "figures", "human kappa", with_ci=True),
]  # fmt: skip
"""Every summary figure of a row, in the order of the report's and the export's columns.
``figures``: the eval's figures with their 95% intervals; ``usage``: no intervals (they
describe the run, not the eval); ``export``: the other figures of the summary table
(``invalid`` is also the text report's fixed column beside ``n`` and ``failed``)."""


def in_table(table: Table) -> list[Figure]:
    """The figures of one table, in order."""
    return [figure for figure in SUMMARY_FIGURES if figure.table == table]


def summary_values() -> list[str]:
    """The export's summary columns of the figures (the bounds apart), in order."""
    return [figure.name for figure in SUMMARY_FIGURES if figure.in_summary]


def summary_bounds() -> list[str]:
    """The export's summary interval columns, ``<name>_low``/``<name>_high``, in order."""
    return [bound for figure in SUMMARY_FIGURES for bound in figure.bounds]
