"""Read OpenAI ``evals`` run logs (``oaieval --record_path``) into typed records.

A log written by ``evals.record.LocalRecorder`` holds three kinds of JSON lines
(docs/openai-evals-notes.md, sections 3.5 and 3.6):

* ``{"spec": {...}}``: the ``RunSpec``, written first when the run starts;
* ``{"final_report": {...}, "run_id": ...}``: written when the run ends, usually *before* the
  event lines (events are buffered), and missing when the run was interrupted;
* events: ``{"run_id", "event_id", "sample_id", "type", "data", "created_by", "created_at"}``.

Lines are recognised by their keys, never by their position.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple, TypeVar

from pydantic import BaseModel, BeforeValidator, Field, ValidationError

from ftevals.errors import InputError
from ftevals.jsonl import MAX_LINE_BYTES, iter_jsonl

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

_M = TypeVar("_M", bound=BaseModel)


def parse_timestamp(value: object) -> datetime:
    """Parse an evals timestamp into an aware UTC datetime.

    Events carry ``str(datetime.now(timezone.utc))`` (``2026-11-23 12:45:19.788153+00:00``);
    the spec carries ``str(datetime.utcnow())`` (``2026-11-23 12:45:19.627821``), which is naive
    but UTC, so naive values are taken as UTC.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        parsed = datetime.fromisoformat(value.strip())
    else:
        raise ValueError(f"expected a timestamp string, got {type(value).__name__}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


Timestamp = Annotated[datetime, BeforeValidator(parse_timestamp)]


class LogEvent(BaseModel):
    """One event line of a log (``evals.record.Event``)."""

    run_id: str = Field(description="Run the event belongs to; equals the spec's run_id.")
    event_id: int = Field(description="Sequence number within the run.")
    sample_id: str | None = Field(None, description="Sample id, e.g. 'safety.dev.12'.")
    type: str = Field(description="Event type: 'match', 'sampling', 'metrics', 'error', ...")
    data: dict[str, Any] = Field(description="Type-specific payload.")
    created_at: Timestamp = Field(description="When the event was recorded (UTC).")
    created_by: str = Field("", description="The recorder's user name (usually empty).")
    line: int = Field(0, description="Line number of the event in the log file (1-based).")


class EvalLog(BaseModel):
    """One ``oaieval`` run: its spec, optional final report and events."""

    path: Path = Field(description="The log file.")
    spec: dict[str, Any] = Field(description="The whole spec object (RunSpec) as written.")
    run_id: str = Field(description="Run id, e.g. '261123124519UB7D4NKE'.")
    completion_fns: list[str] = Field(description="Completion function names of the run.")
    eval_name: str = Field(description="Resolved eval name, e.g. 'test-match.s1.simple-v0'.")
    base_eval: str = Field(description="Base eval name, e.g. 'test-match'.")
    split: str = Field(description="Split name, e.g. 's1'.")
    created_at: Timestamp = Field(description="When the spec line was written (UTC).")
    final_report: dict[str, Any] | None = Field(
        None, description="The final report, or None when the run was interrupted."
    )
    events: list[LogEvent] = Field(default_factory=list, description="Events ordered by event_id.")

    @property
    def model(self) -> str:
        """The run's display name: ``ftevals run --label``, else the completion functions
        joined by ',' with the completion args that select a model (:func:`display_name`)."""
        return display_name(self.completion_fns, command_options(self.spec))

    def events_of(self, type_: str) -> list[LogEvent]:
        """Events of one type, in event_id order."""
        return [event for event in self.events if event.type == type_]

    @property
    def last_event_at(self) -> datetime | None:
        """Time of the latest event, or None when the log has no events."""
        return max((event.created_at for event in self.events), default=None)


SELECTING_ARGS = ("adapter", "model", "deployment", "base", "model_path")
"""Completion args that choose which model a registry completion function runs."""


def command_options(spec: dict[str, Any]) -> dict[str, str]:
    """``--option value`` pairs of the command line evals recorded (``run_config.command``)."""
    import shlex

    config = spec.get("run_config")
    command = config.get("command") if isinstance(config, dict) else None
    if not isinstance(command, str):
        return {}
    try:
        words = shlex.split(command)
    except ValueError:
        return {}
    return {
        word: words[i + 1]
        for i, word in enumerate(words[:-1])
        if word.startswith("--") and not words[i + 1].startswith("--")
    }


def display_name(completion_fns: list[str], options: dict[str, str]) -> str:
    """``--ftevals_label`` when given; else ``fn[adapter=minilm-a]``: the names joined by ','
    and the completion args of :data:`SELECTING_ARGS` (a path shown by its last part), so two
    adapters or two served models under one registry name stay apart."""
    label = options.get("--ftevals_label")
    if label:
        return label
    name = ",".join(completion_fns)
    picked = []
    for pair in (options.get("--completion_args") or "").split(","):
        key, _, value = pair.partition("=")
        if key.strip() in SELECTING_ARGS and value.strip():
            shown = Path(value.strip()).name or value.strip()
            picked.append(f"{key.strip()}={shown}")
    return f"{name}[{','.join(picked)}]" if picked else name


def _validate(cls: type[_M], payload: Any, path: Path, line: int, prefix: str) -> _M:
    """Validate with pydantic; report the first error as an InputError at path:line."""
    try:
        return cls.model_validate(payload)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join([prefix, *(str(part) for part in error["loc"])]).strip(".")
        raise InputError(path, error["msg"], line, field or None) from None


_SPEC_FIELDS = ("run_id", "completion_fns", "eval_name", "base_eval", "split", "created_at")


def read_log(path: str | Path) -> EvalLog:
    """Read one evals JSONL log. Malformed content raises InputError naming file and line."""
    path = Path(path)
    spec: dict[str, Any] | None = None
    spec_line = 0
    report: dict[str, Any] | None = None
    report_line = 0
    report_run_id: object = None
    events: list[LogEvent] = []
    for lineno, obj in iter_jsonl(path):
        if "spec" in obj:
            if spec is not None:
                raise InputError(path, f"second 'spec' line (first at line {spec_line})", lineno)
            if not isinstance(obj["spec"], dict):
                raise InputError(path, "'spec' must be an object", lineno, "spec")
            spec, spec_line = obj["spec"], lineno
        elif "final_report" in obj:
            if report_line:
                msg = f"second 'final_report' line (first at line {report_line})"
                raise InputError(path, msg, lineno)
            if not isinstance(obj["final_report"], dict):
                raise InputError(path, "'final_report' must be an object", lineno, "final_report")
            report, report_line = obj["final_report"], lineno
            report_run_id = obj.get("run_id")
        elif "type" in obj:
            event = _validate(LogEvent, {**obj, "line": lineno}, path, lineno, "")
            events.append(event)
        else:
            keys = ", ".join(sorted(obj)[:6])
            msg = f"unrecognised line (keys: {keys}); expected 'spec', 'final_report' or an event"
            raise InputError(path, msg, lineno)
    if spec is None:
        raise InputError(path, "no 'spec' line: not an evals log")
    fields = {name: spec[name] for name in _SPEC_FIELDS if name in spec}
    payload = {**fields, "path": path, "spec": spec, "final_report": report}
    log = _validate(EvalLog, payload, path, spec_line, "spec")
    if report_line and report_run_id not in (None, log.run_id):
        msg = f"final report run_id {report_run_id!r} differs from the spec's {log.run_id!r}"
        raise InputError(path, msg, report_line, "run_id")
    for event in events:
        if event.run_id != log.run_id:
            msg = f"event run_id {event.run_id!r} differs from the spec's {log.run_id!r}"
            raise InputError(path, msg, event.line, "run_id")
    log.events = sorted(events, key=lambda event: event.event_id)
    return log


def _not_a_log(path: Path) -> str | None:
    """Why ``path`` is not an evals log (its first non-blank line is no spec), or None."""
    try:
        with path.open("rb") as fh:
            for raw in iter(lambda: fh.readline(MAX_LINE_BYTES + 1), b""):
                if raw.strip():
                    first = json.loads(raw.decode("utf-8"))
                    break
            else:
                return "not an evals log: empty file"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return f"not an evals log: first line unreadable ({type(exc).__name__})"
    if not isinstance(first, dict) or not isinstance(first.get("spec"), dict):
        return 'not an evals log: first line is not a {"spec": ...} object'
    return None


class LogScan(NamedTuple):
    """Result of :func:`scan_logs`."""

    logs: list[Path]
    """Evals logs found, in argument order, directories expanded in sorted order."""
    skipped: list[tuple[Path, str]]
    """``*.jsonl`` files under the directories that are not evals logs, with the reason."""


def scan_logs(paths: Iterable[str | Path]) -> LogScan:
    """Expand directories recursively to their ``*.jsonl`` evals logs.

    Files given explicitly must be evals logs (InputError otherwise); ``*.jsonl`` files found
    in directories whose first line is not a spec (caches, datasets) are returned as skipped.
    """
    logs: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    seen: set[Path] = set()
    for given in paths:
        given = Path(given)
        if given.is_dir():
            candidates = sorted(p for p in given.rglob("*.jsonl") if p.is_file())
        elif given.is_file():
            candidates = [given]
        else:
            raise InputError(given, "no such file or directory")
        listed = _manifest_logs(given) if given.is_dir() else {}
        for candidate in candidates:
            key = candidate.resolve()
            if key in seen:
                continue
            seen.add(key)
            reason = _unlisted(candidate, given, listed) or _not_a_log(candidate)
            if reason is None:
                logs.append(candidate)
            elif candidate is given:
                raise InputError(given, reason)
            else:
                skipped.append((candidate, reason))
    return LogScan(logs, skipped)


def _manifest_logs(root: Path) -> dict[Path, set[Path]]:
    """Run directory -> the logs its ``manifest.json`` lists, for every run directory under
    ``root``: a run directory's manifest is the truth of what it holds (``ftevals run``)."""
    found: dict[Path, set[Path]] = {}
    for manifest in [root / "manifest.json", *root.rglob("*/manifest.json")]:
        try:
            pairs = json.loads(manifest.read_text(encoding="utf-8")).get("pairs", [])
        except (OSError, ValueError, AttributeError):
            continue
        folder = manifest.parent.resolve()
        found[folder] = {
            (folder / str(p["log"])).resolve()
            for p in pairs
            if isinstance(p, dict) and isinstance(p.get("log"), str)
        }
    return found


def _unlisted(candidate: Path, root: Path, listed: dict[Path, set[Path]]) -> str | None:
    """Why a log under a run directory is left out: its manifest does not list it."""
    folder = candidate.resolve().parent
    top = root.resolve()
    while True:
        if folder in listed:
            if candidate.resolve() in listed[folder]:
                return None
            return f"not listed in {folder / 'manifest.json'} (a log of an earlier run there)"
        if folder == top or folder.parent == folder:
            return None
        folder = folder.parent


def find_logs(paths: list[Path]) -> list[Path]:
    """The evals logs in ``paths`` (see :func:`scan_logs`); skipped files are logged as warnings."""
    scan = scan_logs(paths)
    for path, reason in scan.skipped:
        logger.warning("skipping %s: %s", path, reason)
    return scan.logs


def read_logs(paths: list[Path]) -> list[EvalLog]:
    """Read every log :func:`find_logs` finds in ``paths``."""
    return [read_log(path) for path in find_logs(paths)]


EVENT_COLUMNS = ["run_id", "event_id", "sample_id", "type", "created_at", "line"]


def events_frame(log: EvalLog) -> pd.DataFrame:
    """One row per event: the EVENT_COLUMNS, then ``data.<key>`` columns.

    Nested objects of ``data`` are flattened one level (``data.usage.prompt_tokens``).
    """
    from ftevals import extras

    extras.require("analysis", "events_frame")
    import pandas as pd

    rows = [{column: getattr(event, column) for column in EVENT_COLUMNS} for event in log.events]
    base = pd.DataFrame(rows, columns=EVENT_COLUMNS)
    if not rows:
        return base
    base["created_at"] = pd.to_datetime(base["created_at"], utc=True)
    data = pd.json_normalize([event.data for event in log.events], max_level=1)
    return pd.concat([base, data.add_prefix("data.")], axis=1)
