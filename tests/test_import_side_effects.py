"""Importing ftevals changes no environment variable and opens no connection; evals still
imports without a key (``ftevals.evals_compat``), and its registry never sends the placeholder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fakes.openai_server import FakeOpenAIServer

from ftevals import evals_compat

PROBE = Path(__file__).parent / "import_probe.py"


def _env_without_key(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    return {**env, **extra}


def _python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )


def test_every_module_imports_without_touching_environment_or_network() -> None:
    result = subprocess.run(
        [sys.executable, str(PROBE)],
        env=_env_without_key(),
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["errors"] == {}
    assert report["environment_changed"] == []
    assert report["network_calls"] == []
    assert report["missing_extra"] == {}  # every extra is installed here
    assert report["imported"] == report["modules"] > 100
    assert report["evals_imported"]  # the modules that import evals did, with no key
    assert result.returncode == 0, result.stderr[-2000:]


def test_probe_reports_a_changed_variable_and_a_connection(tmp_path: Path) -> None:
    """The probe can fail: a module that sets a variable and connects is reported."""
    (tmp_path / "misbehaving.py").write_text(
        "import os, socket\n"
        "os.environ['FTEVALS_PROBE_CHANGED'] = '1'\n"
        "try:\n"
        "    socket.create_connection(('127.0.0.1', 9))\n"
        "except OSError:\n"
        "    pass\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, str(PROBE), "--also", "misbehaving"],
        env=_env_without_key(PYTHONPATH=str(tmp_path)),
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["environment_changed"] == ["FTEVALS_PROBE_CHANGED"]
    assert len(report["network_calls"]) == 1
    assert report["errors"] == {}
    assert result.returncode == 1


def test_import_ftevals_sets_no_key_and_imports_no_evals() -> None:
    code = (
        "import os, sys\n"
        "import ftevals\n"
        "assert 'OPENAI_API_KEY' not in os.environ, 'key set'\n"
        "assert 'evals' not in sys.modules, 'evals imported'\n"
        "import evals, evals.registry\n"  # works without a key, and leaves none behind
        "assert 'OPENAI_API_KEY' not in os.environ, 'key left'\n"
        "assert evals.registry.client.api_key == ftevals.evals_compat.PLACEHOLDER_KEY\n"
        "import subprocess\n"
        "child = subprocess.run([sys.executable, '-c', "
        "'import os; print(os.environ.get(\"OPENAI_API_KEY\"))'], capture_output=True, text=True)\n"
        "assert child.stdout.strip() == 'None', child.stdout\n"
        "print('ok')\n"
    )
    result = _python(code, _env_without_key())
    assert result.stdout.strip() == "ok", result.stderr[-2000:]


def test_an_empty_key_stays_empty() -> None:
    code = (
        "import os, ftevals, evals.registry\n"
        "assert os.environ['OPENAI_API_KEY'] == ''\n"
        "print(evals.registry.client.api_key == ftevals.evals_compat.PLACEHOLDER_KEY)\n"
    )
    result = _python(code, _env_without_key(OPENAI_API_KEY=""))
    assert result.stdout.strip() == "True", result.stderr[-2000:]


def test_a_real_key_is_used_and_not_replaced() -> None:
    code = "import ftevals, evals.registry; print(evals.registry.client.api_key)"
    result = _python(code, _env_without_key(OPENAI_API_KEY="sk-test-real-7f3a"))
    assert result.stdout.strip() == "sk-test-real-7f3a", result.stderr[-2000:]


def test_evals_registry_still_needs_a_key_at_import() -> None:
    """What ``evals_compat`` works around (evals 3.0.1): without ftevals' finder, importing
    ``evals.registry`` with no key fails, and the module keeps a ``client``. When evals stops
    doing this, this test fails and the finder can go."""
    code = (
        "import sys\n"
        "try:\n"
        "    import evals.registry\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__)\n"
        "else:\n"
        "    print('imported', hasattr(evals.registry, 'client'))\n"
    )
    result = _python(code, _env_without_key())
    assert result.stdout.strip() == "OpenAIError", result.stderr[-2000:]


def test_registry_model_list_never_sends_the_placeholder() -> None:
    """A real key set after evals was imported with the placeholder: the model list is asked
    with the real key (evals' client is rebuilt); with no key it is not asked at all."""
    key = "sk-test-model-list-51c2"
    with FakeOpenAIServer("safe", api_key=key) as server:
        code = (
            "import os, ftevals.evals_compat as c, evals.registry\n"
            "assert evals.registry.client.api_key == c.PLACEHOLDER_KEY\n"
            "print(c.registry_class()().api_model_ids)\n"  # no key: not asked
            f"os.environ['OPENAI_API_KEY'] = {key!r}\n"
            "print(c.registry_class()().api_model_ids)\n"
        )
        result = _python(code, _env_without_key(OPENAI_BASE_URL=server.base_url))
        lines = result.stdout.splitlines()
        assert lines[0] == "[]", result.stderr[-2000:]
        assert lines[1].startswith("[") and lines[1] != "[]", result.stderr[-2000:]
        sent = [r.headers.get("authorization") for r in server.requests]
        assert sent == [f"Bearer {key}"]


def test_placeholder_key_restores_what_was_there(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with evals_compat.placeholder_key():
        assert os.environ["OPENAI_API_KEY"] == evals_compat.PLACEHOLDER_KEY
    assert "OPENAI_API_KEY" not in os.environ
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-kept")
    with evals_compat.placeholder_key():
        assert os.environ["OPENAI_API_KEY"] == "sk-test-kept"
    assert os.environ["OPENAI_API_KEY"] == "sk-test-kept"
