"""The files of one review session: the file under review and, with a run directory, the
samples file of every eval the run read, with each log's outcomes beside the rows."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from ftevals.errors import FtevalsError
from ftevals.review.runs import RunLog, load_run, prompt_matches
from ftevals.review.store import Doc

MAIN = "main"


class Workspace:
    """Documents by key (``main`` is the file under review) and run logs by key."""

    def __init__(
        self,
        path: str | Path,
        fmt: str | None = None,
        text_field: str | None = None,
        label_field: str | None = None,
        run_dir: str | Path | None = None,
    ) -> None:
        self._ids = itertools.count(1)
        main = Doc(path, fmt, text_field, label_field, ids=self._ids)
        self.docs: dict[str, Doc] = {MAIN: main}
        self.logs: dict[str, RunLog] = {}
        self.log_doc: dict[str, str] = {}
        """Log key -> key of the document of its samples file."""
        self.run_dir = Path(run_dir) if run_dir is not None else None
        if self.run_dir is not None:
            for log in load_run(self.run_dir):
                self.logs[log.key] = log
                if log.samples_path is not None:
                    try:
                        self.log_doc[log.key] = self._open_samples(log.samples_path)
                    except FtevalsError as exc:
                        log.problem = str(exc)

    def _open_samples(self, path: Path) -> str:
        for key, doc in self.docs.items():
            if doc.path.resolve() == path.resolve():
                return key
        key = f"s{len(self.docs)}"
        self.docs[key] = Doc(path, "samples", ids=self._ids)
        return key

    def doc(self, key: str) -> Doc:
        if key not in self.docs:
            raise FtevalsError(f"no document {key!r}")
        return self.docs[key]

    def log(self, key: str, doc_key: str) -> RunLog:
        if key not in self.logs:
            raise FtevalsError(f"no run log {key!r}")
        if self.log_doc.get(key) != doc_key:
            raise FtevalsError(f"run log {key} did not read document {doc_key!r}")
        return self.logs[key]

    def info(self) -> dict[str, Any]:
        return {
            "docs": {key: doc.info() for key, doc in self.docs.items()},
            "run": str(self.run_dir) if self.run_dir else None,
            "logs": [
                {**log.summary(), "doc": self.log_doc.get(key)} for key, log in self.logs.items()
            ],
        }

    def rows(
        self,
        doc_key: str,
        search: str = "",
        label: str | None = None,
        problems: bool = False,
        log_key: str | None = None,
        outcome: str = "failures",
        offset: int = 0,
        limit: int = 50,
    ) -> dict[str, Any]:
        """A page of rows; with a log, only rows whose outcome passes ``outcome``, each with
        its outcome, and ``unmatched``: selected outcomes whose row is gone."""
        doc = self.doc(doc_key)
        if log_key is None:
            return doc.query(search, label, problems, None, offset, limit)
        log = self.log(log_key, doc_key)
        by_line = doc.by_line()
        selected = log.select(outcome)
        only = {by_line[o.index + 1].id for o in selected if o.index + 1 in by_line}
        page = doc.query(search, label, problems, only, offset, limit)
        status = {by_line[o.index + 1].id: o.status for o in selected if o.index + 1 in by_line}
        for row in page["rows"]:
            row["outcome"] = status.get(row["id"])
        page["unmatched"] = len(selected) - len(only)
        return page

    def row(self, doc_key: str, item_id: int, log_key: str | None = None) -> dict[str, Any]:
        """One row in full; with a log, its outcome and whether the prompt the model saw
        still matches the row (``prompt_matches`` False: the file changed since the run)."""
        item = self.doc(doc_key).get(item_id)
        detail = item.detail()
        if log_key is not None and item.line is not None:
            outcome = self.log(log_key, doc_key).outcomes.get(item.line - 1)
            if outcome is not None:
                detail["outcome"] = outcome.as_dict()
                detail["prompt_matches"] = prompt_matches(outcome.prompt, item.messages)
        return detail
