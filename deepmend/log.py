"""Messages and progress bars: the ``logging`` module under the ``deepmend`` logger, and tqdm.

The command line calls :func:`configure` once (``--quiet``: warnings only and no bars;
``--verbose``: debug messages). In a notebook nothing is configured: deepmend's loggers
follow the application's logging set-up, as a library's should.

Progress bars count base stations, never tiles, and honour ``TQDM_DISABLE=1`` (tqdm's
own environment switch) even where a caller asks for a bar; ``--quiet`` sets it, so
worker processes stay silent too.
"""

from __future__ import annotations

import logging
import os

logger = logging.getLogger("deepmend")


class _EchoHandler(logging.Handler):
    """INFO to standard output (a command's report), WARNING and above to standard error."""

    def emit(self, record: logging.LogRecord) -> None:
        import click

        try:
            click.echo(self.format(record), err=record.levelno >= logging.WARNING)
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)


def configure(quiet: bool = False, verbose: bool = False) -> None:
    """Set the ``deepmend`` logger's level and handler for the command line (idempotent)."""
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    for h in list(logger.handlers):
        if isinstance(h, _EchoHandler):
            logger.removeHandler(h)
    handler = _EchoHandler()
    handler.setFormatter(logging.Formatter("%(message)s" if not verbose else "%(asctime)s %(name)s %(levelname)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    if quiet:
        os.environ["TQDM_DISABLE"] = "1"


def info(msg: str) -> None:
    """A command's status line (``wrote …``), silenced by ``--quiet``."""
    logger.info(msg)


def progress_disabled() -> bool:
    """True when ``TQDM_DISABLE`` is set to a true value (``1``, ``true``, ``yes``)."""
    return os.environ.get("TQDM_DISABLE", "").strip().lower() in ("1", "true", "yes", "on")


def progress(*args, **kwargs):
    """``tqdm(*args, **kwargs)``, disabled when ``TQDM_DISABLE`` is set whatever ``disable`` says."""
    from tqdm import tqdm

    kwargs["disable"] = bool(kwargs.get("disable", False)) or progress_disabled()
    return tqdm(*args, **kwargs)


def progress_write(message: str) -> None:
    """Print ``message`` as its own line above any running progress bar (``tqdm.write``)."""
    from tqdm import tqdm

    tqdm.write(message)
