"""Exceptions that the CLI reports as one clear line and a non-zero exit."""

from __future__ import annotations


class FtevalsError(Exception):
    """A user-facing error: bad input, missing model, bad configuration."""


class InputError(FtevalsError):
    """Bad input data, located by file, line and field."""

    def __init__(
        self, path: object, message: str, line: int | None = None, field: str | None = None
    ):
        self.path = str(path)
        self.line = line
        self.field = field
        where = self.path if line is None else f"{self.path}:{line}"
        if field:
            where += f": field {field!r}"
        super().__init__(f"{where}: {message}")
