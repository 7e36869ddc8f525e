"""Credentials and endpoint settings from the environment, or from ``./.env``.

The environment wins; a ``.env`` file in the working directory is the fallback
(``KEY=VALUE`` lines, optional ``export``, ``#`` comments, single or double quotes).
A key is held in a :class:`Secret`, whose ``repr``/``str`` never show the value; completion
functions pass every message they record or raise through :meth:`Secret.redact`.
Keys are never taken from completion args (evals logs those in the run spec): only the
*name* of the variable that holds one (``api_key_env=MY_KEY``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from ftevals.errors import FtevalsError, InputError
from ftevals.evals_compat import PLACEHOLDER_KEY

DOTENV = ".env"
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
MASK = "***"


class Secret:
    """A credential. ``reveal()`` gives the value; nothing else does."""

    __slots__ = ("_value", "name", "source")

    def __init__(self, name: str, value: str, source: str) -> None:
        self.name = name
        self.source = source
        self._value = value

    def reveal(self) -> str:
        return self._value

    def redact(self, text: str) -> str:
        """``text`` with every occurrence of the value replaced by ``***``."""
        if len(self._value) >= 4:
            text = text.replace(self._value, MASK)
        return text

    def __repr__(self) -> str:
        return f"Secret({self.name}={MASK}, from {self.source})"

    __str__ = __repr__

    def __reduce__(self) -> tuple[Any, ...]:  # never pickled (or copied) with its value
        raise TypeError("a Secret cannot be pickled")


def _unquote(raw: str, path: Path, lineno: int) -> str:
    quote = raw[0]
    out: list[str] = []
    i = 1
    while i < len(raw):
        ch = raw[i]
        if ch == quote:
            rest = raw[i + 1 :].strip()
            if rest and not rest.startswith("#"):
                raise InputError(path, "text after the closing quote", lineno)
            return "".join(out)
        if ch == "\\" and quote == '"' and i + 1 < len(raw) and raw[i + 1] in _ESCAPES:
            out.append(_ESCAPES[raw[i + 1]])
            i += 2
            continue
        out.append(ch)
        i += 1
    raise InputError(path, f"no closing {quote} (values span one line)", lineno)


def read_dotenv(path: str | Path) -> dict[str, str]:
    """The variables of a ``.env`` file. Errors name the line, never the value."""
    path = Path(path)
    values: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read ({type(exc).__name__})") from None
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("export "):
            stripped = stripped[len("export ") :].lstrip()
        key, eq, raw = stripped.partition("=")
        key = key.strip()
        if not eq or not _KEY.match(key):
            raise InputError(path, "expected KEY=VALUE", lineno)
        raw = raw.strip()
        if raw[:1] in ("'", '"'):
            value = _unquote(raw, path, lineno)
        else:
            value = re.split(r"\s+#", raw, maxsplit=1)[0].rstrip()
        values[key] = value
    return values


def _dotenv(cwd: Path | None) -> dict[str, str]:
    path = (cwd or Path.cwd()) / DOTENV
    return read_dotenv(path) if path.is_file() else {}


def setting(name: str, *, cwd: Path | None = None) -> str | None:
    """A non-secret setting (endpoint, API version): environment, then ``./.env``."""
    value = os.environ.get(name)
    if value:
        return value
    return _dotenv(cwd).get(name) or None


def lookup(name: str, *, cwd: Path | None = None) -> Secret | None:
    """A secret from the environment, then ``./.env``; ftevals' placeholder key counts as unset."""
    value = os.environ.get(name)
    if value and value != PLACEHOLDER_KEY:
        return Secret(name, value, "environment")
    value = _dotenv(cwd).get(name)
    if value and value != PLACEHOLDER_KEY:
        return Secret(name, value, DOTENV)
    return None


def require(name: str, what: str, *, cwd: Path | None = None) -> Secret:
    """A secret that must exist; the error says where to put it (and shows no value)."""
    secret = lookup(name, cwd=cwd)
    if secret is None:
        raise FtevalsError(
            f"{what} needs an API key in ${name}: set it in the environment or in "
            f"{DOTENV} in the working directory (never on the command line)"
        )
    return secret


def redact(text: str, *secrets: Secret | None) -> str:
    """``text`` with the value of every given secret masked."""
    for secret in secrets:
        if secret is not None:
            text = secret.redact(text)
    return text
