"""Errors a user can cause, reported as one clear line instead of a traceback.

Every reader and command raises :class:`InputError` for bad input; the CLI turns it
into ``error: ...`` and a non-zero exit, the API into a 4xx JSON body. Keeping the
location (file, row, column, value) in the exception lets both say exactly where.
"""

from __future__ import annotations

from typing import Any


class DeepmendError(Exception):
    """Base class of every error deepmend reports to a user."""


class InputError(DeepmendError):
    """Bad input: a file, a parameter or a value the user supplied."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        value: Any = None,
    ) -> None:
        self.file, self.row, self.column, self.value = file, row, column, value
        where = []
        if file is not None:
            where.append(str(file))
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column '{column}'")
        if value is not None:
            where.append(f"value {value!r}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class NotAvailableError(DeepmendError):
    """Something valid was asked for that this installation cannot give (e.g. no ground truth)."""
