"""Errors a user can cause, reported as one clear line instead of a traceback.

Every reader and command raises :class:`InputError` for bad input; the CLI turns it
into ``error: ...`` and a non-zero exit, the API into a 4xx JSON body. Keeping the
location (file, row, column, value) in the exception lets both say exactly where.
"""

from __future__ import annotations

from typing import Any


class DeepmendError(Exception):
    """Base class of every error deepmend reports to a user.

    ``http_status`` is the one place that says how the API answers each kind of error
    (the CLI exits with 2 for all of them).
    """

    http_status: int = 400


class InputError(DeepmendError):
    """Bad input: a file, a parameter or a value the user supplied (HTTP 400).

    Parameters
    ----------
    message : str
        The real cause, in words.
    file, row, column, value : optional
        Where: the file (or a client's file name), the 1-based row, the column or
        parameter name, and the offending value; the message starts with them.
    """

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
        self.message = message
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


class NotFoundError(InputError):
    """A name that designates nothing: unknown country, city, operator, site, model, upload id (HTTP 404)."""

    http_status = 404


class ParameterError(InputError):
    """A request parameter of the right type but out of its domain, e.g. α ≤ 0 (HTTP 422)."""

    http_status = 422


class NotAvailableError(DeepmendError):
    """Something valid was asked for that this installation cannot give, e.g. no ground truth (HTTP 404)."""

    http_status = 404


class TooLargeError(DeepmendError):
    """An input over a size or count limit: upload bytes, rows (HTTP 413)."""

    http_status = 413


class BusyError(DeepmendError):
    """A shared resource is still being built by another request (HTTP 503 with ``Retry-After``).

    Parameters
    ----------
    message : str
        What is busy.
    retry_after : int
        Seconds after which the client should try again.
    """

    http_status = 503

    def __init__(self, message: str, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = int(retry_after)
