"""The files of the API's upload store: bounded, least recently used first, with a quota per client.

:class:`UploadFiles` is the policy of which files to keep; :class:`deepmend.api.uploads.UploadStore`
validates uploads and keeps them through it.

Anyone may POST an upload, so the store must be bounded or the disk fills up. Bounding it
naively (oldest upload evicted first) lets one client evict every other client's uploads by
sending many small files. Here:

* Each client (the API uses the client's address) holds at most ``per_client_count`` uploads
  and ``per_client_bytes``: over its quota, the client's *own* least recently used upload is
  released first.
* Over the global limits (``max_count``, ``max_bytes``), the least recently used upload is
  evicted — but never one another client used within ``in_use_s`` seconds (it is in use).
  When only such uploads remain, the new upload is refused with :class:`StoreFullError`
  (HTTP 503, retry later) instead of evicting them.
* "Used" means uploaded or named by a request (:meth:`UploadStore.touch`).
* Ids are content hashes, so two clients uploading the same file share one stored file; the
  file is deleted only when no client holds it any more (or by global eviction).

Files are ``<id>.csv`` directly under ``root``; they are moved in atomically (``os.replace``).
Ownership and use times are kept in memory: after a restart the files on disk are "unowned",
their last use being their modification time. One server process owns the store (uvicorn
runs one worker); a file deleted by someone else counts as evicted.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from deepmend.errors import BusyError, InputError

log = logging.getLogger("deepmend.api")

ID_RE = re.compile(r"^[0-9a-f]{16}$")
#: Longest site id an upload may carry: the API's ``site`` parameter must be able to name every site.
MAX_SITE_ID_CHARS = 200
#: File signatures of formats the upload endpoint does not read (it reads CSV text, and Parquet
#: through the size-checked reader of data/limits.py): answered at once, so that nothing compressed
#: is ever expanded.
BINARY_SIGNATURES = {b"PK\x03\x04": "a zip archive (.zip/.npz/.xlsx)", b"\x1f\x8b": "gzip-compressed",
                     b"BZh": "bzip2-compressed", b"\xfd7zXZ\x00": "xz-compressed", b"\x28\xb5\x2f\xfd": "zstd-compressed",
                     b"\x93NUMPY": "a NumPy .npy array", b"SQLite format 3\x00": "a GeoPackage or another SQLite database",
                     b"\x00\x00\x27\x0a": "a Shapefile's .shp alone (its attributes and CRS are in the .dbf and .prj beside it)"}


def check_upload_content(content: bytes, shown: str) -> None:
    """Refuse binary and compressed formats by their signature, before any parser sees them.

    Raises
    ------
    InputError
        Naming the format found (HTTP 422: the request is well formed, its content is not a CSV).
    """
    for magic, what in BINARY_SIGNATURES.items():
        if content.startswith(magic):
            raise UnsupportedUploadError(f"is {what}; the upload reads CSV or GeoJSON text, or Parquet (nothing was unpacked): "
                                         "export the site list as CSV or GeoJSON", file=shown)


def check_site_ids(site_ids, shown: str) -> None:
    """Refuse site ids longer than :data:`MAX_SITE_ID_CHARS` (they could never be requested).

    Parameters
    ----------
    site_ids : iterable
        The upload's site ids.
    shown : str
        The file name shown in errors.

    Raises
    ------
    InputError
        On the first id longer than :data:`MAX_SITE_ID_CHARS` characters.
    """
    for sid in site_ids:
        if len(str(sid)) > MAX_SITE_ID_CHARS:
            raise InputError(f"a site id of {len(str(sid)):,} characters, the limit is {MAX_SITE_ID_CHARS}", file=shown,
                             column="site_id", value=str(sid)[:40] + "…")


class UnsupportedUploadError(InputError):
    """An upload in a format the endpoint does not read (HTTP 422)."""

    http_status = 422


class StoreFullError(BusyError):
    """The upload store is full of other clients' uploads in use (HTTP 503, retry after a minute).

    Parameters
    ----------
    message : str
        The error line; ``Retry-After`` is 60 s.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, retry_after=60)


@dataclass
class _Entry:
    size: int
    last_used: float
    owners: set[str] = field(default_factory=set)


class UploadFiles:
    """Uploaded files under ``root``, bounded globally and per client (see the module docstring).

    Parameters
    ----------
    root
        Directory of the stored files (created).
    max_count, max_bytes
        Global limits of the store.
    per_client_count, per_client_bytes
        Limits of the uploads one client holds.
    in_use_s
        An upload used within this many seconds is not evicted for another client.
    """

    def __init__(self, root: Path, *, max_count: int, max_bytes: int, per_client_count: int, per_client_bytes: int,
                 in_use_s: float = 3600.0) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_count, self.max_bytes = int(max_count), int(max_bytes)
        self.per_client_count, self.per_client_bytes = int(per_client_count), int(per_client_bytes)
        self.in_use_s = float(in_use_s)
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        for p in self.root.glob("*.csv"):  # files of a previous run: unowned, last used at their mtime
            if ID_RE.match(p.stem):
                try:
                    st = p.stat()
                except OSError:
                    continue
                self._entries[p.stem] = _Entry(st.st_size, st.st_mtime)

    def path(self, upload_id: str) -> Path:
        return self.root / f"{upload_id}.csv"

    def region_path(self, upload_id: str) -> Path:
        """The upload's region (its sidecar, present only when one was given): kept and evicted with the site list."""
        return self.root / f"{upload_id}.region.json"

    def __contains__(self, upload_id: str) -> bool:
        return self.path(upload_id).is_file()

    def ids(self) -> list[str]:
        """The stored upload ids, sorted."""
        with self._lock:
            return sorted(self._entries)

    def owners(self, upload_id: str) -> set[str]:
        """The clients (IP addresses) that uploaded ``upload_id``; empty when it is not stored."""
        with self._lock:
            e = self._entries.get(upload_id)
            return set(e.owners) if e else set()

    def touch(self, upload_id: str) -> None:
        """Record a use of ``upload_id`` (a request named it): it becomes the most recently used."""
        with self._lock:
            e = self._entries.get(upload_id)
            if e is not None:
                e.last_used = time.time()

    def put(self, upload_id: str, src: Path, client: str, region: Path | None = None) -> list[str]:
        """Store ``src`` (moved) as ``upload_id`` for ``client`` (with its ``region`` sidecar, moved too); returns the ids evicted to make room.

        Raises
        ------
        StoreFullError
            When the store is full of other clients' uploads in use; nothing is stored then.
        """
        now = time.time()
        with self._lock:
            final = self.path(upload_id)
            existed = upload_id in self._entries and final.is_file()
            if not existed:
                size = 0
                if region is not None:  # the sidecar first: a stored list is never seen without its region
                    os.replace(region, self.region_path(upload_id))
                    size = self.region_path(upload_id).stat().st_size
                os.replace(src, final)
                self._entries[upload_id] = _Entry(final.stat().st_size + size, now)
            e = self._entries[upload_id]
            e.last_used = now
            had_owner = client in e.owners
            e.owners.add(client)
            evicted = self._release_over_quota(client, keep=upload_id)
            try:
                evicted += self._evict_over_limits(client, keep=upload_id)
            except StoreFullError:
                if not had_owner:
                    e.owners.discard(client)
                if not existed:
                    self._delete(upload_id)
                raise
        if evicted:
            log.info("upload store: evicted %d upload(s), %d kept", len(evicted), len(self._entries))
        return evicted

    # --- under the lock -------------------------------------------------------------------
    def _delete(self, upload_id: str) -> None:
        self._entries.pop(upload_id, None)
        for path in (self.path(upload_id), self.region_path(upload_id)):
            try:
                path.unlink()
            except FileNotFoundError:
                pass  # deleted already (or never had a region): gone either way
            except OSError as exc:
                log.warning("upload store: cannot delete %s: %s", path.name, exc)

    def _release_over_quota(self, client: str, keep: str) -> list[str]:
        """Release ``client``'s least recently used uploads beyond its quota; delete those nobody else holds."""
        mine = sorted((e.last_used, uid) for uid, e in self._entries.items() if client in e.owners)
        count, size = len(mine), sum(self._entries[uid].size for _, uid in mine)
        evicted = []
        for _, uid in mine:
            if count <= self.per_client_count and size <= self.per_client_bytes:
                break
            if uid == keep:
                continue
            e = self._entries[uid]
            e.owners.discard(client)
            count, size = count - 1, size - e.size
            if not e.owners:
                self._delete(uid)
                evicted.append(uid)
        return evicted

    def _evict_over_limits(self, client: str, keep: str) -> list[str]:
        """Evict least recently used uploads until the store is within its global limits."""
        now = time.time()
        count = len(self._entries)
        size = sum(e.size for e in self._entries.values())
        evicted = []
        for last_used, uid in sorted((e.last_used, uid) for uid, e in self._entries.items()):
            if count <= self.max_count and size <= self.max_bytes:
                return evicted
            e = self._entries[uid]
            in_use_by_others = bool(e.owners - {client}) and now - last_used < self.in_use_s
            if uid == keep or in_use_by_others:
                continue
            self._delete(uid)
            evicted.append(uid)
            count, size = count - 1, size - e.size
        if count > self.max_count or size > self.max_bytes:
            if count == 1:  # the new upload alone is over the byte limit: kept (its id is about to be answered)
                return evicted
            raise StoreFullError(f"the upload store is full ({self.max_count} uploads, {self.max_bytes / 1e6:.0f} MB) "
                                 "with other clients' uploads in use; try again later")
        return evicted
