"""The review app's HTTP API (no browser) and the ``ftevals review`` command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from review_data import chat, read_jsonl, write_jsonl

from ftevals.cli import build_parser, main
from ftevals.review.app import create_app
from ftevals.review.workspace import Workspace

TOKEN = {"X-Review-Token": "t0ken"}
FTEVALS = [sys.executable, "-c", "import sys; from ftevals.cli import main; sys.exit(main())"]


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    path = write_jsonl(tmp_path / "d.jsonl", [chat("one", "safe"), chat("two", "unsafe")])
    return TestClient(create_app(Workspace(path), token="t0ken"), base_url="http://127.0.0.1")


def test_rows_row_and_save(client: TestClient, tmp_path: Path) -> None:
    info = client.get("/api/info").json()
    assert info["docs"]["main"]["rows"] == 2 and info["logs"] == []
    page = client.get("/api/docs/main/rows", params={"search": "TWO"}).json()
    assert [r["snippet"] for r in page["rows"]] == ["two"]
    row = client.get(f"/api/docs/main/rows/{page['rows'][0]['id']}").json()
    row["messages"][-1]["content"] = "safe"
    edit = {"id": row["id"], "rev": row["rev"], "messages": row["messages"]}
    saved = client.post("/api/docs/main/save", json={"edits": [edit]}, headers=TOKEN)
    assert saved.status_code == 200 and saved.json()["info"]["labels"] == {"safe": 2}
    assert read_jsonl(tmp_path / "d.jsonl")[1] == chat("two", "safe")
    stale = client.post("/api/docs/main/save", json={"edits": [edit]}, headers=TOKEN)
    assert stale.status_code == 409
    assert stale.json()["conflicts"][0]["id"] == row["id"]
    assert "saved from another tab" in stale.json()["error"]
    bad = {"id": row["id"], "rev": 1, "messages": ["nonsense"]}
    response = client.post("/api/docs/main/save", json={"edits": [bad]}, headers=TOKEN)
    assert response.status_code == 400 and "expected an object" in response.json()["error"]
    assert client.get("/api/docs/nope/rows").json() == {"error": "no document 'nope'"}


def test_guard_host_and_token(client: TestClient) -> None:
    assert "t0ken" in client.get("/").text
    assert client.get("/static/review.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/static/secret.py").status_code == 404
    response = client.get("/api/info", headers={"Host": "evil.example:80"})
    assert response.status_code == 403 and "not allowed" in response.json()["error"]
    for headers in ({}, {"X-Review-Token": "wrong"}):
        response = client.post("/api/docs/main/save", json={}, headers=headers)
        assert response.status_code == 403


def test_cli_serves_until_stopped(tmp_path: Path) -> None:
    args = build_parser().parse_args(["review", "f.jsonl", "--run", "r", "--port", "8123"])
    assert (args.file, args.run, args.port) == ("f.jsonl", "r", 8123)
    path = write_jsonl(tmp_path / "d.jsonl", [chat("one", "safe")])
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [*FTEVALS, "review", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(2)]
        assert lines[0].startswith(f"reviewing {path} (chat, 1 rows)")
        url = lines[1].split()[1]
        with urllib.request.urlopen(url + "api/info", timeout=60) as response:
            assert json.load(response)["docs"]["main"]["rows"] == 1
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    # Ctrl-C stops it cleanly: 130 when the interrupt reaches the CLI, 0 when uvicorn's own
    # shutdown handler takes it first (which one wins depends on timing under load)
    assert proc.returncode in (0, 130), proc.stderr.read() if proc.stderr else ""


def test_cli_bad_file_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"messages": []}\n{oops\n', encoding="utf-8")
    assert main(["review", str(path)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"ftevals: error: {path}:2: invalid JSON: Expecting property name enclosed in double "
        "quotes (column 2) (1 unreadable line(s) in all; fix them in an editor)"
    )
