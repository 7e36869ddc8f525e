"""One file under review: its rows in memory, filtered pages, and saves that lose no edit.

Every row has a session-unique id and a revision. A save sends, for each edited or deleted row,
the revision it was based on; if another tab saved that row since, the whole save is refused
with the rows named (:class:`SaveConflict`) and nothing is written. Edits to different rows
merge. A file changed on disk by another program is refused too, until it is reloaded.

A save writes the whole file to a temporary file and renames it into place; the first save of
a session first copies the original to ``<name>.<UTC time>.bak`` beside it.
"""

from __future__ import annotations

import itertools
import shutil
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ftevals.errors import FtevalsError
from ftevals.review.records import FREE, Codec, Loaded, Message, detect, label_of, read, write

SNIPPET = 160
MAX_LABELS = 50
NO_LABEL = "__none__"
"""The label filter value of rows without a label."""


@dataclass
class Item:
    """One row."""

    id: int
    messages: list[Message]
    record: dict[str, Any]
    """The record as last read or written (rows never edited are written back as they were)."""
    line: int | None
    """Line in the file as loaded (None for rows added in this session)."""
    problems: list[str] = field(default_factory=list)
    rev: int = 0
    _text: str | None = field(default=None, repr=False, compare=False)

    @property
    def label(self) -> str | None:
        return label_of(self.messages)

    def text(self) -> str:
        """All text content, case-folded, for search (computed once: edits make a new Item)."""
        if self._text is None:
            self._text = "\n".join(
                m["content"]
                for m in self.messages
                if isinstance(m, dict) and isinstance(m.get("content"), str)
            ).casefold()
        return self._text

    def summary(self) -> dict[str, Any]:
        users = [m for m in self.messages if isinstance(m, dict) and m.get("role") == "user"]
        content = users[-1].get("content") if users else None
        snippet = content if isinstance(content, str) else ""
        return {
            "id": self.id,
            "line": self.line,
            "rev": self.rev,
            "label": self.label,
            "snippet": snippet[:SNIPPET],
            "problems": self.problems,
        }

    def detail(self) -> dict[str, Any]:
        return {**self.summary(), "messages": self.messages}


class SaveConflict(FtevalsError):
    """A save refused because it was based on rows another tab has saved since."""

    def __init__(self, message: str, conflicts: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.conflicts = conflicts


@dataclass
class Edit:
    """One edited (``messages``) or deleted (``messages`` None) row, and the revision the
    edit was based on."""

    id: int
    rev: int
    messages: list[Message] | None = None


def _fingerprint(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class Doc:
    """A file under review. ``ids`` is shared by the documents of one app, so that an id never
    names two rows, even across a reload."""

    def __init__(
        self,
        path: str | Path,
        fmt: str | None = None,
        text_field: str | None = None,
        label_field: str | None = None,
        ids: itertools.count[int] | None = None,
    ) -> None:
        self.path = Path(path)
        fmt = fmt or detect(self.path)
        self.codec = Codec(fmt, text_field or "text", label_field or "label")
        self._ids = ids or itertools.count(1)
        self._lock = threading.RLock()
        self.backup: Path | None = None
        self.version = 0
        self.items: dict[int, Item] = {}
        self._loaded: Loaded
        self._disk: tuple[int, int, int] | None = None
        self.reload()

    # -- reading -------------------------------------------------------------------------
    def reload(self) -> None:
        """Read the file again (new row ids: edits based on the old ones conflict)."""
        with self._lock:
            disk = _fingerprint(self.path)
            loaded = read(self.path, self.codec)
            items = {}
            for line, record in loaded.records:
                item = self._item(record, line)
                items[item.id] = item
            self._loaded, self.items, self._disk = loaded, items, disk
            self.version += 1

    def _item(self, record: dict[str, Any], line: int | None, old: Item | None = None) -> Item:
        """A row for ``record``; ``old`` is the row it replaces (same id, next revision)."""
        messages, found = self.codec.messages(record)
        problems = self.codec.problems(messages, found)
        if old is None:
            return Item(next(self._ids), messages, record, line, problems)
        return Item(old.id, messages, record, old.line, problems, old.rev + 1)

    @property
    def notes(self) -> list[str]:
        return list(self._loaded.notes)

    def info(self) -> dict[str, Any]:
        with self._lock:
            labels = Counter(item.label or NO_LABEL for item in self.items.values())
            problems = sum(1 for item in self.items.values() if item.problems)
            return {
                "path": str(self.path),
                "format": self.codec.fmt,
                "free": self.codec.fmt in FREE,
                "version": self.version,
                "rows": len(self.items),
                "with_problems": problems,
                "labels": dict(labels.most_common(MAX_LABELS)),
                "distinct_labels": len(labels),
                "notes": self.notes,
                "backup": str(self.backup) if self.backup else None,
                "changed_on_disk": _fingerprint(self.path) != self._disk,
                "template": self.codec.template(),
            }

    def get(self, item_id: int) -> Item:
        with self._lock:
            if item_id not in self.items:
                raise FtevalsError(f"no row {item_id} in {self.path} (deleted or reloaded)")
            return self.items[item_id]

    def by_line(self) -> dict[int, Item]:
        """Rows still present, by their line in the file as loaded."""
        with self._lock:
            return {i.line: i for i in self.items.values() if i.line is not None}

    def query(
        self,
        search: str = "",
        label: str | None = None,
        problems: bool = False,
        only: set[int] | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> dict[str, Any]:
        """A page of row summaries matching every filter given, in file order."""
        needle = search.casefold().strip()
        with self._lock:
            rows = [
                item
                for item in self.items.values()
                if (only is None or item.id in only)
                and (not problems or item.problems)
                and (label is None or (item.label or NO_LABEL) == label)
                and (not needle or needle in item.text())
            ]
            page = rows[offset : offset + limit]
            return {
                "total": len(rows),
                "offset": offset,
                "version": self.version,
                "rows": [item.summary() for item in page],
            }

    # -- saving --------------------------------------------------------------------------
    def save(self, edits: list[Edit], adds: list[list[Message]] | None = None) -> dict[str, Any]:
        """Apply edits and added rows, then write the file (see the module docstring).

        Raises :class:`SaveConflict` (nothing applied) when an edit is based on an old revision
        of a row, or on a row deleted since; :class:`FtevalsError` when the file changed on
        disk or an edit does not fit the format."""
        adds = adds or []
        if len({edit.id for edit in edits}) != len(edits):
            raise FtevalsError("a save names the same row twice")
        with self._lock:
            if _fingerprint(self.path) != self._disk:
                raise FtevalsError(
                    f"{self.path} changed on disk since it was loaded (another program or "
                    "another review session): reload it, then redo the edits"
                )
            conflicts = []
            for edit in edits:
                item = self.items.get(edit.id)
                if item is None:
                    why = "was deleted (or the file reloaded) since you opened it"
                elif item.rev != edit.rev:
                    why = "was saved from another tab since you opened it"
                else:
                    continue
                line = item.line if item else None
                conflicts.append({"id": edit.id, "line": line, "reason": why})
            if conflicts:
                rows = "; ".join(f"row #{c['id']} {c['reason']}" for c in conflicts)
                raise SaveConflict(
                    f"not saved: {rows}. Reload to see the rows as saved, then redo your edits",
                    conflicts,
                )
            updated: dict[int, Item] = {}
            for edit in edits:
                old = self.items[edit.id]
                if edit.messages is None:
                    continue
                record = self.codec.record(edit.messages, old.record)
                updated[old.id] = self._item(record, old.line, old)
            deleted = {e.id for e in edits if e.messages is None}
            added = [self._item(self.codec.record(m, {}), None) for m in adds]
            items = {i: updated.get(i, item) for i, item in self.items.items() if i not in deleted}
            items.update((item.id, item) for item in added)
            self._backup_once()
            write(self.path, self._loaded, [item.record for item in items.values()])
            self.items, self._disk = items, _fingerprint(self.path)
            self.version += 1
            return {
                "version": self.version,
                "changed": len(updated),
                "deleted": len(deleted),
                "added": [item.id for item in added],
                "rows": len(items),
                "backup": str(self.backup) if self.backup else None,
            }

    def _backup_once(self) -> None:
        if self.backup is not None or not self.path.exists():
            return
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        backup = self.path.with_name(f"{self.path.name}.{stamp}.bak")
        n = 1
        while backup.exists():
            n += 1
            backup = self.path.with_name(f"{self.path.name}.{stamp}-{n}.bak")
        shutil.copy2(self.path, backup)
        self.backup = backup
