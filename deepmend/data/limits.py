"""Size limits checked before a compressed input is expanded: Parquet tables and ``.npz``/zip archives.

A small compressed file can declare gigabytes of content (a "decompression bomb"): a Parquet
column of one long string repeated by its dictionary, or a ``.npz`` member of zeros that
deflates 1000:1. These checks read only metadata — the Parquet footer, the zip central
directory and each ``.npy`` header — and refuse with :class:`InputTooLargeError` (an
:class:`~deepmend.errors.InputError`: exit code 2 in the CLI, 413 in the API) before anything
is expanded.

Limits (environment variables, in MB): ``DEEPMEND_MAX_DECOMPRESSED_MB`` (default 1024) for the
decoded size of a table or of all arrays of an archive; tables also have at most
:data:`MAX_TABLE_ROWS` rows.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from deepmend.errors import InputError

MAX_TABLE_ROWS = 5_000_000
DEFAULT_MAX_DECOMPRESSED_MB = 1024


class InputTooLargeError(InputError):
    """A file whose content, once expanded, would be over a size limit (HTTP 413)."""

    http_status = 413


def max_decompressed_bytes() -> int:
    """The largest decompressed size accepted from an archive, in bytes: ``DEEPMEND_MAX_DECOMPRESSED_MB``
    (a non-integer value is ignored) or the default, at least 1 MB.
    """
    try:
        mb = int(os.environ.get("DEEPMEND_MAX_DECOMPRESSED_MB", DEFAULT_MAX_DECOMPRESSED_MB))
    except ValueError:
        mb = DEFAULT_MAX_DECOMPRESSED_MB
    return max(1, mb) * 1024 * 1024


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def read_parquet(path: str | Path, *, max_rows: int = MAX_TABLE_ROWS, max_bytes: int | None = None):
    """Read a Parquet file into a DataFrame after checking its expanded size.

    1. The footer (row count, uncompressed size of every column chunk) is checked first.
    2. The table is read with string columns kept dictionary-encoded (memory ≈ the
       uncompressed size just checked), and the size they would have once decoded — the sum
       of the lengths of the dictionary values the rows point to — is computed without
       decoding them and checked too.
    3. Only then is it converted to pandas.

    Raises
    ------
    InputTooLargeError
        Over ``max_rows`` rows, or over ``max_bytes`` (default :func:`max_decompressed_bytes`)
        uncompressed or decoded.
    InputError
        Not a readable Parquet file.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    limit = max_bytes if max_bytes is not None else max_decompressed_bytes()
    try:
        pf = pq.ParquetFile(path)
        md = pf.metadata
    except Exception as exc:  # noqa: BLE001 - pyarrow's errors: report, never a traceback
        raise InputError(f"cannot be parsed as parquet: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", file=str(path)) from None
    if md.num_rows > max_rows:
        raise InputTooLargeError(f"{md.num_rows:,} rows, the limit is {max_rows:,}", file=str(path))
    raw = sum(md.row_group(g).column(c).total_uncompressed_size for g in range(md.num_row_groups) for c in range(md.num_columns))
    if raw > limit:
        raise InputTooLargeError(f"expands to {_mb(raw)}, the limit is {_mb(limit)}", file=str(path))
    strings = [f.name for f in pf.schema_arrow if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
               or pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type)]
    try:
        table = (pq.ParquetFile(path, read_dictionary=strings) if strings else pf).read()
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"cannot be parsed as parquet: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", file=str(path)) from None
    decoded = 0
    for col in table.columns:
        for chunk in col.chunks:
            if pa.types.is_dictionary(chunk.type):
                lengths = pc.binary_length(chunk.dictionary)
                decoded += int(pc.sum(pc.take(lengths, chunk.indices)).as_py() or 0) + 8 * len(chunk)
            else:
                decoded += chunk.nbytes
        if decoded > limit:
            raise InputTooLargeError(f"expands to more than {_mb(decoded)} once decoded, the limit is {_mb(limit)}", file=str(path))
    return table.to_pandas()


def check_zip(path: str | Path, *, max_bytes: int | None = None, max_members: int = 10_000, what: str = "zip/.npz archive") -> None:
    """Check a zip archive's declared member sizes (central directory only).

    Python's zipfile never expands a member beyond its declared ``file_size`` (it stops there
    and then checks the CRC), so the declared sizes bound what reading can allocate.

    Raises
    ------
    InputTooLargeError
        Members declaring more than ``max_bytes`` in total, or more than ``max_members`` members.
    InputError
        Not a zip archive: "not a readable {what}".
    """
    limit = max_bytes if max_bytes is not None else max_decompressed_bytes()
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InputError(f"not a readable {what} (not a valid zip archive: {exc})", file=str(path)) from None
    if len(infos) > max_members:
        raise InputTooLargeError(f"{len(infos):,} archive members, the limit is {max_members:,}", file=str(path))
    total = sum(i.file_size for i in infos)
    if total > limit:
        raise InputTooLargeError(f"expands to {_mb(total)}, the limit is {_mb(limit)}", file=str(path))


def check_npz(path: str | Path, *, max_bytes: int | None = None, what: str = ".npz archive") -> None:
    """:func:`check_zip`, plus each ``.npy`` member's header: the array it declares must fit in
    the member's declared size (``np.load`` allocates the declared shape before reading data).

    Raises
    ------
    InputTooLargeError, InputError
        As :func:`check_zip`; InputError for a member whose header declares more data than it holds.
    """
    import numpy as np
    from numpy.lib import format as npy

    check_zip(path, max_bytes=max_bytes, what=what)
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                continue
            try:
                with zf.open(info) as f:
                    version = npy.read_magic(f)
                    shape, _, dtype = (npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0)(f)
            except Exception as exc:  # noqa: BLE001 - a malformed header: report it
                raise InputError(f"not a readable {what} (member {info.filename} is not a valid .npy array: {exc})", file=str(path)) from None
            need = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if need > info.file_size:
                raise InputTooLargeError(f"member {info.filename} declares an array of {_mb(need)} in {_mb(info.file_size)}",
                                         file=str(path))
