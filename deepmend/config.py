"""Run-time settings read from the environment, so tests and users can relocate data."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent


def data_dir() -> Path:
    """Directory of the public data sets (``DEEPMEND_DATA_DIR``, default ``../shared/data``).

    The data are read in place, never copied into the repository.
    """
    env = os.environ.get("DEEPMEND_DATA_DIR")
    return Path(env).expanduser().resolve() if env else (REPO_DIR.parent / "shared" / "data").resolve()


def cache_dir() -> Path:
    """Where computed artefacts (maps, ground truth, datasets) are cached (``DEEPMEND_CACHE_DIR``)."""
    env = os.environ.get("DEEPMEND_CACHE_DIR")
    path = Path(env).expanduser() if env else REPO_DIR / ".cache"
    path.mkdir(parents=True, exist_ok=True)
    return path
