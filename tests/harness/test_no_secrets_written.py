"""No API key is written anywhere: `ftevals run`, `compare` and `runs` as a user runs them.

Fake keys sit in the environment (OPENAI_API_KEY and a provider key) and in ``./.env``. Four
completion functions use them against a loopback server that quotes the key it was sent in its
error answers: a persistent 500 for some prompts (quoting the Authorization header) and a 401
for a wrong key (the whole pair then fails, with the reason in the manifest and on stdout). Then
every file the commands wrote (run directory, reports, FTEVALS_HOME, HOME, TMPDIR, the working
directory) and everything they printed is searched for each key and for its random core.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

from fakes.openai_server import FakeOpenAIServer, Fault, Request

EVAL = "leaktest"
SAMPLES = 12


def fake_key(kind: str) -> tuple[str, str]:
    """``(key, core)``: a distinctive key and the random part any partial leak would show."""
    core = uuid.uuid4().hex
    return f"sk-ftevals-{kind}-{core}", core


def _user_text(body: dict[str, object]) -> str:
    messages = body["messages"]
    assert isinstance(messages, list)
    return str(next(m["content"] for m in messages if m["role"] == "user"))


def plan(request: Request, attempt: int) -> Fault | None:
    """Every third prompt: 500 on every attempt, the body quoting the credentials sent."""
    number = int(_user_text(request.body).split()[1].rstrip(":"))
    if number % 3:
        return None
    fault = Fault.status_code(500)
    sent = request.headers.get("authorization", "")
    fault.body = json.dumps({"error": {"message": f"upstream failed for {sent}", "code": 500}})
    return fault


def write_registry(root: Path, base_url: str) -> None:
    (root / "data" / EVAL).mkdir(parents=True)
    (root / "evals").mkdir()
    (root / "completion_fns").mkdir()
    rows = [
        {"input": [{"role": "user", "content": f"Prompt {i}: hello"}], "ideal": "safe"}
        for i in range(SAMPLES)
    ]
    (root / "data" / EVAL / "samples.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8"
    )
    (root / "evals" / f"{EVAL}.yaml").write_text(
        f"{EVAL}:\n  id: {EVAL}.test.v0\n  metrics: [accuracy]\n"
        f"{EVAL}.test.v0:\n  class: ftevals.elsuite.classification:LabelMatch\n"
        f"  args: {{samples_jsonl: {EVAL}/samples.jsonl, labels: [safe, unsafe]}}\n",
        encoding="utf-8",
    )
    cls = "ftevals.completion_fns.compatible:OpenAICompatibleCompletionFn"
    common = f"base_url: {base_url}, model: m, max_attempts: 2, base_delay: 0.001"
    fns = {
        "leak-env": "FTEVALS_LEAKTEST_ENV_KEY",
        "leak-dotenv": "FTEVALS_LEAKTEST_DOTENV_KEY",
        "leak-wrong": "FTEVALS_LEAKTEST_WRONG_KEY",
    }
    (root / "completion_fns" / "leaktest.yaml").write_text(
        "".join(
            f"{name}:\n  class: {cls}\n  args: {{{common}, api_key_env: {var}}}\n"
            for name, var in fns.items()
        ),
        encoding="utf-8",
    )


def files_under(*roots: Path, skip: Path) -> Iterator[Path]:
    for root in roots:
        for dirpath, _dirs, names in os.walk(root):
            for name in names:
                path = Path(dirpath) / name
                if path != skip and path.is_file() and not path.is_symlink():
                    yield path


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "ftevals.cli", *cmd],
        cwd=cwd,
        env=env,
        capture_output=True,
        check=False,
        timeout=600,
    )


def test_keys_never_reach_files_or_output(tmp_path: Path) -> None:
    env_key, env_core = fake_key("env")
    dotenv_key, dotenv_core = fake_key("dotenv")
    wrong_key, wrong_core = fake_key("wrong")
    openai_key, openai_core = fake_key("openai")
    needles = {
        "env key": env_key,
        "env key core": env_core,
        ".env key": dotenv_key,
        ".env key core": dotenv_core,
        "wrong key": wrong_key,
        "wrong key core": wrong_core,
        "OPENAI_API_KEY": openai_key,
        "OPENAI_API_KEY core": openai_core,
    }
    work, home, user_home, tmp = (tmp_path / d for d in ("work", "home", "user", "tmp"))
    registry, out, reports = tmp_path / "registry", work / "runs" / "leak", tmp_path / "reports"
    for d in (work, home, user_home, tmp, reports):
        d.mkdir(parents=True)
    dotenv = work / ".env"
    dotenv.write_text(
        f"# keys for the leak test\nFTEVALS_LEAKTEST_DOTENV_KEY={dotenv_key}\n"
        f'export FTEVALS_LEAKTEST_WRONG_KEY="{wrong_key}"\n',
        encoding="utf-8",
    )
    dotenv_digest = hashlib.sha256(dotenv.read_bytes()).hexdigest()

    with FakeOpenAIServer(
        "safe", api_key=(env_key, dotenv_key, openai_key), fault_plan=plan, echo_credentials=True
    ) as server:
        write_registry(registry, server.base_url)
        env = {
            **os.environ,
            "FTEVALS_HOME": str(home),
            "HOME": str(user_home),
            "TMPDIR": str(tmp),
            "OPENAI_API_KEY": openai_key,
            "OPENAI_BASE_URL": server.base_url,
            "FTEVALS_LEAKTEST_ENV_KEY": env_key,
            "EVALS_THREADS": "4",
        }
        env.pop("XDG_CACHE_HOME", None)
        models = "leak-env,leak-dotenv,leak-wrong,openai/m"
        ran = run(
            ["run", "--models", models, "--evals", EVAL, "--out", str(out)]
            + ["--registry", str(registry), "--completion-args", "max_attempts=2,base_delay=0.001"]
            + ["--no-progress"],
            work,
            env,
        )
        sent = {r.headers.get("authorization") for r in server.requests}
    compared = run(
        ["compare", str(out), "--json", str(reports / "c.json"), "--csv", str(reports / "csv")]
        + ["--html", str(reports / "report.html")],
        work,
        env,
    )
    listed = run(["runs", str(out.parent), "--json"], work, env)

    # nothing written or printed holds a key
    written = list(files_under(tmp_path, skip=dotenv))  # run dir, reports, homes, TMPDIR, ...
    assert len(written) >= 10 and out / "manifest.json" in written
    leaks = []
    for path in written:
        data = path.read_bytes()
        leaks += [f"{path}: {what}" for what, needle in needles.items() if needle.encode() in data]
    for name, proc in (("run", ran), ("compare", compared), ("runs", listed)):
        for stream, data in (("stdout", proc.stdout), ("stderr", proc.stderr)):
            leaks += [f"{name} {stream}: {w}" for w, n in needles.items() if n.encode() in data]
    assert not leaks, "\n".join(leaks)

    # the keys were really used, and the failing paths really ran
    assert {f"Bearer {k}" for k in (env_key, dotenv_key, wrong_key, openai_key)} <= sent
    assert ran.returncode == 1, ran.stdout.decode() + ran.stderr.decode()  # leak-wrong failed
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    status = {p["model"]: p["status"] for p in manifest["pairs"]}
    assert status == {
        "leak-env": "done",
        "leak-dotenv": "done",
        "openai/m": "done",
        "leak-wrong": "failed",
    }
    wrong = next(p for p in manifest["pairs"] if p["model"] == "leak-wrong")
    assert "Incorrect API key provided: Bearer ***" in wrong["error"]
    for pair in manifest["pairs"]:
        if pair["status"] == "done":
            assert pair["final_report"]["failed"] == len(range(0, SAMPLES, 3))
    log = (out / next(p["log"] for p in manifest["pairs"] if p["model"] == "leak-env")).read_text()
    assert "upstream failed for Bearer ***" in log
    assert compared.returncode == 0, compared.stderr.decode()
    assert listed.returncode == 0, listed.stderr.decode()
    assert (reports / "report.html").is_file() and (reports / "c.json").is_file()

    assert hashlib.sha256(dotenv.read_bytes()).hexdigest() == dotenv_digest  # .env left alone
