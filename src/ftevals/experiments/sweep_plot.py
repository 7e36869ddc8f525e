"""The Pareto front and the safety-against-utility plot of ``ftevals sweep``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ftevals.experiments.sweep import Axis, Candidate


def pareto(candidates: list[Candidate], safety: Axis, utility: Axis) -> list[Candidate]:
    """Scored candidates no other candidate beats on both axes; ``broken`` candidates (empty
    or degenerate answers) are neither on the front nor beat anyone."""
    sign_s = 1.0 if safety.higher_is_better else -1.0
    sign_u = 1.0 if utility.higher_is_better else -1.0
    scored = [
        c
        for c in candidates
        if c.safety is not None and c.utility is not None and c.status != "broken"
    ]

    def key(c: Candidate) -> tuple[float, float]:
        return sign_s * (c.safety or 0.0), sign_u * (c.utility or 0.0)

    return [
        c
        for c in scored
        if not any(
            key(o)[0] >= key(c)[0] and key(o)[1] >= key(c)[1] and key(o) != key(c) for o in scored
        )
    ]


def plot(
    candidates: list[Candidate], front: list[Candidate], safety: Axis, utility: Axis, path: Path
) -> None:
    """Scatter of safety (x) against utility (y); baselines as squares, the front as a line,
    broken candidates as grey crosses."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 5), dpi=120)
    ax = fig.add_subplot()
    markers = {"base": "s", "source": "D", "fused": "o", "broken": "x"}
    labels = {"broken": "broken (empty or degenerate answers)"}
    for role, marker in markers.items():
        pts = [
            (c.name, c.safety, c.utility)
            for c in candidates
            if ("broken" if c.status == "broken" else c.role) == role
            and c.safety is not None
            and c.utility is not None
        ]
        if pts:
            color = "grey" if role == "broken" else None
            xs, ys = [p[1] for p in pts], [p[2] for p in pts]
            ax.scatter(xs, ys, marker=marker, label=labels.get(role, role), color=color)
            for name, x, y in pts:
                ax.annotate(name, (x, y), fontsize=6, alpha=0.8)
    if len(front) > 1:
        ordered = sorted((c.safety or 0.0, c.utility or 0.0) for c in front)
        ax.plot([p[0] for p in ordered], [p[1] for p in ordered], "k--", lw=0.8)
    ax.set_xlabel(safety.label)
    ax.set_ylabel(utility.label)
    ax.set_title("Adapter fusion sweep: safety against utility")
    ax.grid(alpha=0.3)
    if any(c.safety is not None for c in candidates):
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(str(path))
