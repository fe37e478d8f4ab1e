"""Where deepmend reads its data and keeps its cache, from the environment or a command-line flag.

Data directory, first match wins:

1. ``--data-dir DIR`` on the command line (:func:`set_data_dir`; it sets ``DEEPMEND_DATA_DIR``
   for this process and the worker processes it starts);
2. the ``DEEPMEND_DATA_DIR`` environment variable;
3. ``../shared/data`` beside a source checkout (the directory holding ``pyproject.toml``);
4. the small data set embedded in the package (``deepmend/data/default``: the Lyon
   study area's 4G sites of every operator, its boundary and France's outline; see its
   ``SOURCES.md`` for the licences), so an installed package works anywhere.

The cache (computed maps, ground truth, ONNX graphs) lives in ``DEEPMEND_CACHE_DIR`` or
platformdirs' user cache directory (``~/.cache/deepmend`` on Linux).
"""

from __future__ import annotations

import os
from pathlib import Path

from deepmend.errors import InputError

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
EMBEDDED_DATA_DIR = PACKAGE_DIR / "data" / "default"
DATA_ENV = "DEEPMEND_DATA_DIR"
CACHE_ENV = "DEEPMEND_CACHE_DIR"
HOW_TO_POINT = f"point deepmend to the data with {DATA_ENV}=DIR or --data-dir DIR"


def set_data_dir(path: str | Path) -> Path:
    """Use ``path`` as the data directory for this process and its children (``--data-dir``).

    Raises
    ------
    InputError
        If ``path`` is not an existing directory.
    """
    p = Path(path).expanduser().resolve()
    if not p.is_dir():
        raise InputError(f"data directory not found; {HOW_TO_POINT}", file=str(p), column="--data-dir")
    os.environ[DATA_ENV] = str(p)
    return p


def _checkout_data_dir() -> Path | None:
    if (REPO_DIR / "pyproject.toml").is_file():
        shared = (REPO_DIR.parent / "shared" / "data").resolve()
        if shared.is_dir():
            return shared
    return None


def data_dirs() -> list[tuple[str, Path]]:
    """The candidate data directories in search order, each with how it was chosen."""
    out: list[tuple[str, Path]] = []
    env = os.environ.get(DATA_ENV)
    if env:
        out.append((DATA_ENV, Path(env).expanduser().resolve()))
    checkout = _checkout_data_dir()
    if checkout is not None:
        out.append(("source checkout", checkout))
    out.append(("embedded default", EMBEDDED_DATA_DIR))
    return out


def data_dir() -> Path:
    """The data directory: ``DEEPMEND_DATA_DIR`` (or ``--data-dir``), ``../shared/data`` beside a
    source checkout, else the embedded default. The data are read in place, never copied."""
    return data_dirs()[0][1]


def require_data_dir() -> Path:
    """:func:`data_dir`, or an :class:`InputError` naming it when it is not a directory.

    Raises
    ------
    InputError
        If the data directory (``DEEPMEND_DATA_DIR`` or the default) is not a directory.
    """
    how, d = data_dirs()[0]
    if not d.is_dir():
        raise InputError(f"data directory not found ({how}); {HOW_TO_POINT}", file=str(d))
    return d


def find_data(relative: str | Path) -> Path | None:
    """``data_dir()/relative`` when that file exists, else ``None`` (for optional catalog entries)."""
    p = data_dir() / relative
    return p if p.exists() else None


def data_file(relative: str | Path) -> Path:
    """``data_dir()/relative``, or an :class:`InputError` saying where it looked and how to point to the data.

    Raises
    ------
    InputError
        If the file does not exist under the data directory.
    """
    p = find_data(relative)
    if p is None:
        how, d = data_dirs()[0]
        raise InputError(f"data file not found in {d} ({how}); {HOW_TO_POINT}", file=str(d / relative))
    return p


def cache_dir() -> Path:
    """Where computed artefacts (maps, ground truth, ONNX graphs) are cached: ``DEEPMEND_CACHE_DIR``,
    else platformdirs' user cache directory. Created on first use."""
    env = os.environ.get(CACHE_ENV)
    if env:
        path = Path(env).expanduser()
    else:
        from platformdirs import user_cache_path

        path = user_cache_path("deepmend", appauthor=False)
    path.mkdir(parents=True, exist_ok=True)
    return path
