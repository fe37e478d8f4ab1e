"""File output that is never half-written: write to a temporary file, then rename.

The output gets the mode any new file would get (``0o666`` less the process umask),
not the owner-only ``0o600`` that :func:`tempfile.mkstemp` creates.
"""

from __future__ import annotations

import os
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from deepmend.errors import InputError


_UMASK_LOCK = threading.Lock()


def file_mode() -> int:
    """The mode a newly created file gets under the current umask (e.g. ``0o644`` for umask 022)."""
    with _UMASK_LOCK:  # os.umask can only be read by setting it
        mask = os.umask(0o022)
        os.umask(mask)
    return 0o666 & ~mask


def check_writable_dir(directory: str | Path) -> None:
    """Create ``directory`` if needed; fail early, naming it, when outputs cannot be written there.

    Raises
    ------
    InputError
        If a file of that name exists, the directory cannot be created, or it is not writable.
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise InputError("cannot create output directory (a file of that name exists)", file=str(directory))
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create output directory ({exc.strerror or exc})", file=str(directory)) from None
    if not os.access(directory, os.W_OK):
        raise InputError("output directory is not writable", file=str(directory))


@contextmanager
def atomic_path(path: str | Path, keep_suffix: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling path; on success it replaces ``path`` atomically.

    The temporary name is ``.<stem>.<random><suffix>.part``, or ``….part<suffix>`` with
    ``keep_suffix`` for writers that insist on the extension (GDAL's GeoPackage driver).

    A crash, an exception or a full disk leaves ``path`` untouched and removes the
    temporary file, so readers never see a partial output.

    Raises
    ------
    InputError
        If the directory is not writable, or creating, writing or renaming the temporary
        file fails (``OSError``: full disk, permissions), naming ``path``.
    """
    path = Path(path)
    check_writable_dir(path.parent)
    try:
        suffix = ".part" + path.suffix if keep_suffix else path.suffix + ".part"
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix, dir=path.parent)
    except OSError as exc:
        raise InputError(f"cannot write output ({exc.strerror or exc})", file=str(path)) from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.is_file():
            os.chmod(tmp_path, file_mode())
        os.replace(tmp_path, path)
    except OSError as exc:
        tmp_path.unlink(missing_ok=True)
        raise InputError(f"cannot write output ({exc.strerror or exc})", file=str(path)) from None
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def remove_stale_temporaries(path: str | Path, recursive: bool = True) -> int:
    """Delete what a killed run leaves half-written in ``path``: our hidden :func:`atomic_path`
    temporaries (``.*.part``, ``.*.part.<ext>``), the sidecars GDAL writes next to them
    (``.*.ovr.tmp``, overviews of a GeoTIFF being built) and zarr's ``*.partial`` chunks.
    Call it only when no other run writes ``path`` (a resumed run, before it writes). Returns the count."""
    path = Path(path)
    if not path.is_dir():
        return 0
    find = path.rglob if recursive else path.glob
    n = 0
    for pattern in (".*.part", ".*.part.*", ".*.ovr.tmp", "*.partial"):
        for p in list(find(pattern)):
            try:
                if p.is_file():
                    p.unlink()
                    n += 1
            except OSError:
                pass
    return n
