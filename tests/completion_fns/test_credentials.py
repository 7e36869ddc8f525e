"""Credentials: environment first, then ./.env; values never shown in reprs or errors."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path

import pytest

from ftevals.completion_fns._credentials import (
    Secret,
    lookup,
    read_dotenv,
    redact,
    require,
    setting,
)
from ftevals.errors import FtevalsError, InputError
from ftevals.evals_compat import PLACEHOLDER_KEY

VALUE = "sk-test-credential-0123456789"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("FT_TEST_KEY", "FT_TEST_URL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_dotenv_syntax(workdir: Path) -> None:
    (workdir / ".env").write_text(
        "# a comment\n"
        "\n"
        "PLAIN=value one  # trailing comment\n"
        "export EXPORTED=yes\n"
        "SINGLE='its # not a comment'\n"
        'DOUBLE="line\\nbreak \\"quoted\\" # kept"  # comment\n'
        "EMPTY=\n"
        "HASH=abc#def\n"
        "  SPACED = padded  \n",
        encoding="utf-8",
    )
    values = read_dotenv(workdir / ".env")
    assert values == {
        "PLAIN": "value one",
        "EXPORTED": "yes",
        "SINGLE": "its # not a comment",
        "DOUBLE": 'line\nbreak "quoted" # kept',
        "EMPTY": "",
        "HASH": "abc#def",
        "SPACED": "padded",
    }


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("OK=1\nno equals sign here\n", 2, "expected KEY=VALUE"),
        (f"1BAD={VALUE}\n", 1, "expected KEY=VALUE"),
        (f'KEY="{VALUE}\n', 1, "no closing"),
        (f"KEY='{VALUE}' trailing\n", 1, "after the closing quote"),
    ],
)
def test_dotenv_errors_name_the_line_not_the_value(
    workdir: Path, text: str, line: int, message: str
) -> None:
    (workdir / ".env").write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_dotenv(workdir / ".env")
    assert info.value.line == line
    assert message in str(info.value)
    assert VALUE not in str(info.value)


def test_environment_wins_over_dotenv(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (workdir / ".env").write_text("FT_TEST_KEY=from-file-key\nFT_TEST_URL=http://file\n")
    secret = lookup("FT_TEST_KEY")
    assert secret is not None and secret.reveal() == "from-file-key" and secret.source == ".env"
    assert setting("FT_TEST_URL") == "http://file"
    monkeypatch.setenv("FT_TEST_KEY", "from-env-key")
    monkeypatch.setenv("FT_TEST_URL", "http://env")
    secret = lookup("FT_TEST_KEY")
    assert secret is not None and secret.reveal() == "from-env-key"
    assert secret.source == "environment"
    assert setting("FT_TEST_URL") == "http://env"


def test_placeholder_key_counts_as_unset(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FT_TEST_KEY", PLACEHOLDER_KEY)
    assert lookup("FT_TEST_KEY") is None
    (workdir / ".env").write_text(f"FT_TEST_KEY={VALUE}\n")
    secret = lookup("FT_TEST_KEY")
    assert secret is not None and secret.reveal() == VALUE


def test_missing_key_error_says_where_to_put_it(workdir: Path) -> None:
    assert lookup("FT_TEST_KEY") is None
    with pytest.raises(FtevalsError) as info:
        require("FT_TEST_KEY", "my-provider")
    message = str(info.value)
    assert "$FT_TEST_KEY" in message and ".env" in message and "my-provider" in message


def test_secret_never_shows_its_value() -> None:
    secret = Secret("FT_TEST_KEY", VALUE, "environment")
    for text in (repr(secret), str(secret), f"{secret}", repr([secret]), repr({"k": secret})):
        assert VALUE not in text
        assert "FT_TEST_KEY" in text
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    with pytest.raises(TypeError):
        copy.deepcopy(secret)
    assert secret.reveal() == VALUE


def test_redact_masks_every_occurrence() -> None:
    secret = Secret("K", VALUE, "environment")
    text = f"Bearer {VALUE} and again {VALUE}"
    assert redact(text, secret, None) == "Bearer *** and again ***"
    assert Secret("K", "abc", "environment").redact("abc") == "abc"  # too short to mask safely
