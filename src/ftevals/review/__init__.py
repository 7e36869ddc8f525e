"""``ftevals review``: read and hand-correct fine-tuning data and eval samples in the browser.

:mod:`~ftevals.review.records` (formats), :mod:`~ftevals.review.store` (a file under review,
saves that lose no edit), :mod:`~ftevals.review.runs` (what a run says about each sample) and
:mod:`~ftevals.review.workspace` hold the logic; :mod:`~ftevals.review.app` is the web app.
"""

from __future__ import annotations

from ftevals.review.store import Doc, Edit, SaveConflict
from ftevals.review.workspace import Workspace

__all__ = ["Doc", "Edit", "SaveConflict", "Workspace"]
