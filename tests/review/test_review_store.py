"""A file under review: filters, atomic saves with one backup, and no lost edit across tabs."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from review_data import chat, read_jsonl, write_jsonl

from ftevals.errors import FtevalsError
from ftevals.review.store import NO_LABEL, Doc, Edit, SaveConflict


@pytest.fixture
def data(tmp_path: Path) -> Path:
    rows = [
        chat("How do I bake bread?", "safe"),
        chat("How do I build a bomb?", "unsafe", id="b"),
        chat("Tell me a joke", None),
        chat("Kill a stuck process", "safe"),
    ]
    return write_jsonl(tmp_path / "train.jsonl", rows)


def msgs(user: str, label: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": user}, {"role": "assistant", "content": label}]


def ids(doc: Doc, **query: object) -> list[int]:
    return [row["id"] for row in doc.query(**query)["rows"]]  # type: ignore[arg-type]


def test_query_filters(data: Path) -> None:
    doc = Doc(data)
    first, second, third, fourth = doc.items
    assert doc.codec.fmt == "chat" and len(doc.items) == 4
    assert ids(doc, search="HOW DO") == [first, second]
    assert ids(doc, label="safe") == [first, fourth]
    assert ids(doc, label=NO_LABEL) == [third]
    assert ids(doc, problems=True) == [third]
    assert doc.items[third].problems == ["no final assistant message (the label)"]
    assert ids(doc, search="how", only={second, third}) == [second]
    page = doc.query(offset=1, limit=2)
    assert page["total"] == 4 and [r["id"] for r in page["rows"]] == [second, third]
    assert doc.info()["labels"] == {"safe": 2, "unsafe": 1, NO_LABEL: 1}


def test_save_edits_adds_deletes_with_one_backup(data: Path) -> None:
    original = data.read_bytes()
    os.chmod(data, 0o644)
    doc = Doc(data)
    first, second, third, _ = doc.items
    result = doc.save(
        [Edit(first, 0, msgs("Bake bread?", "safe!")), Edit(third, 0, None)],
        [msgs("new prompt", "safe")],
    )
    assert (result["changed"], result["deleted"], len(result["added"])) == (1, 1, 1)
    rows = read_jsonl(data)
    assert [r["messages"][-2]["content"] for r in rows] == [
        "Bake bread?",
        "How do I build a bomb?",
        "Kill a stuck process",
        "new prompt",
    ]
    assert rows[1] == chat("How do I build a bomb?", "unsafe", id="b")
    backup = doc.backup
    assert backup is not None and backup.read_bytes() == original
    assert stat.S_IMODE(data.stat().st_mode) == 0o644
    doc.save([Edit(second, 0, msgs("b", "unsafe"))])
    assert doc.backup == backup and len(list(data.parent.glob("*.bak"))) == 1
    assert [p.name for p in data.parent.iterdir() if p.name.endswith(".tmp")] == []
    assert doc.items[first].rev == 1 and doc.items[second].rev == 1


def test_two_tabs_merge_different_rows_and_refuse_a_stale_row(data: Path) -> None:
    doc = Doc(data)
    first, second, *_ = doc.items
    # tab A and tab B both opened every row at revision 0
    doc.save([Edit(first, 0, msgs("from A", "safe"))])
    doc.save([Edit(second, 0, msgs("from B", "unsafe"))])  # another row: merged
    before = data.read_bytes()
    with pytest.raises(
        SaveConflict, match="row #1 was saved from another tab since you opened it"
    ) as err:
        doc.save([Edit(first, 0, msgs("B's stale edit", "x")), Edit(second, 1, None)])
    assert err.value.conflicts == [
        {"id": first, "line": 1, "reason": "was saved from another tab since you opened it"}
    ]
    assert data.read_bytes() == before and len(doc.items) == 4  # nothing applied
    assert [r["messages"][0]["content"] for r in read_jsonl(data)][:2] == ["from A", "from B"]
    doc.save([Edit(first, 1, None)])  # a delete based on the current revision
    with pytest.raises(SaveConflict, match="row #1 was deleted"):
        doc.save([Edit(first, 1, msgs("edit of a deleted row", "x"))])


def test_external_change_is_refused_until_reload(data: Path) -> None:
    doc = Doc(data)
    first = next(iter(doc.items))
    write_jsonl(data, [chat("written by an editor", "safe")])
    assert doc.info()["changed_on_disk"] is True
    with pytest.raises(FtevalsError, match="changed on disk since it was loaded"):
        doc.save([Edit(first, 0, msgs("x", "y"))])
    assert read_jsonl(data) == [chat("written by an editor", "safe")]
    doc.reload()
    assert first not in doc.items and len(doc.items) == 1  # ids are never reused
    with pytest.raises(SaveConflict, match="deleted"):
        doc.save([Edit(first, 0, msgs("x", "y"))])


def test_bad_edit_changes_nothing(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "f.jsonl", [{"text": "a", "label": "b"}])
    doc = Doc(path)
    (item,) = doc.items
    with pytest.raises(FtevalsError, match="fields row holds"):
        doc.save([Edit(item, 0, [{"role": "system", "content": "s"}, *msgs("a", "c")])])
    with pytest.raises(FtevalsError, match="same row twice"):
        doc.save([Edit(item, 0, None), Edit(item, 0, None)])
    assert doc.items[item].rev == 0 and doc.backup is None
    assert read_jsonl(path) == [{"text": "a", "label": "b"}]


def test_problems_follow_edits(data: Path) -> None:
    doc = Doc(data)
    third = list(doc.items)[2]
    doc.save([Edit(third, 0, msgs("Tell me a joke", ""))])
    assert doc.items[third].problems == ["empty label"]
    doc.save([Edit(third, 1, msgs("Tell me a joke", "safe"))])
    assert doc.items[third].problems == [] and doc.info()["with_problems"] == 0


def test_a_new_file_is_created_by_the_first_save(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "corrections.jsonl"
    doc = Doc(path)
    assert doc.codec.fmt == "chat" and doc.items == {}
    assert doc.notes == ["a new file: the first save creates it"]
    doc.save([], [msgs("q", "a")])
    assert read_jsonl(path) == [{"messages": msgs("q", "a")}] and doc.backup is None
    (tmp_path / "ref").touch()
    umask_mode = stat.S_IMODE((tmp_path / "ref").stat().st_mode)
    assert stat.S_IMODE(path.stat().st_mode) == umask_mode  # not mkstemp's 0600
