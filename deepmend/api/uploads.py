"""Uploaded site lists: validated, stored by content hash, bounded per client and in total.

Nothing here reads a path a client supplied: uploads are stored under a name derived
from the SHA-256 of their content and looked up by that id only. The store is bounded
(count and bytes, least recently used first, with a quota per client so that one client
cannot evict another's uploads in use: :mod:`deepmend.api.upload_store`): an evicted id
answers 404 like an unknown one, and the client uploads the file again. Binary and
compressed content is refused unexpanded; site ids are at most 200 characters.
"""

from __future__ import annotations

import hashlib
import logging
import re
import tempfile
from pathlib import Path
from typing import Callable

from deepmend.api.upload_store import UploadFiles, check_site_ids, check_upload_content
from deepmend.errors import InputError, NotFoundError, TooLargeError

log = logging.getLogger("deepmend.api")

UPLOAD_COUNTRY = "upload"
UPLOAD_ID_RE = re.compile(r"^[0-9a-f]{16}$")
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_UPLOAD_ROWS = 20_000
#: Uploads kept on disk (oldest evicted first). Anyone may upload, so without a cap the
#: uploads folder would grow until the disk is full; 200 × ≤ 5 MB files stay well under
#: the byte cap in practice, which is there for deployments that raise the count.
MAX_STORED_UPLOADS = 200
MAX_STORED_UPLOAD_BYTES = 200 * 1024 * 1024
#: What one client (address) may hold of the store (upload_store.py).
MAX_UPLOADS_PER_CLIENT = 20
MAX_UPLOAD_BYTES_PER_CLIENT = 50 * 1024 * 1024


class UploadStore:
    """The uploads folder of a service.

    Parameters
    ----------
    root : Path
        The folder (created on first use).
    max_count, max_bytes : int
        Limits of the store; attributes, so operators and tests may change them on a
        running service.
    on_evict : callable, optional
        Called with each evicted upload id (the service drops its in-memory caches).
    per_client_count, per_client_bytes : int
        What one client may hold (:class:`~deepmend.api.upload_store.UploadFiles`).
    """

    def __init__(self, root: Path, max_count: int, max_bytes: int, on_evict: Callable[[str], None] | None = None, *,
                 per_client_count: int = MAX_UPLOADS_PER_CLIENT, per_client_bytes: int = MAX_UPLOAD_BYTES_PER_CLIENT) -> None:
        self.root = Path(root)
        self.files = UploadFiles(self.root, max_count=max_count, max_bytes=max_bytes,
                                 per_client_count=per_client_count, per_client_bytes=per_client_bytes)
        self.on_evict = on_evict

    @property
    def max_count(self) -> int:
        return self.files.max_count

    @max_count.setter
    def max_count(self, v: int) -> None:
        self.files.max_count = int(v)

    @property
    def max_bytes(self) -> int:
        return self.files.max_bytes

    @max_bytes.setter
    def max_bytes(self, v: int) -> None:
        self.files.max_bytes = int(v)

    @property
    def dir(self) -> Path:
        """The uploads folder, created if needed."""
        self.root.mkdir(parents=True, exist_ok=True)
        return self.root

    def check_id(self, value: str) -> str:
        """The normalised id of a stored upload.

        Raises
        ------
        NotFoundError
            Malformed id, or no such upload on this server (never stored, or evicted).
        """
        v = str(value).strip().lower()
        if not UPLOAD_ID_RE.match(v):
            raise NotFoundError("unknown upload id (expected the 16 hex digits returned by POST /api/uploads)", column="city", value=value)
        if v not in self.files:
            raise self.expired(value)
        self.files.touch(v)  # a use: the least recently used uploads are evicted first
        return v

    @staticmethod
    def expired(value: str) -> NotFoundError:
        """The one answer (404) for an id this server does not hold: never stored, or evicted."""
        return NotFoundError("unknown upload id (not on this server, or expired); upload the file again", column="city", value=value)

    def deployment(self, upload_id: str):
        """The :class:`~deepmend.data.deployment.Deployment` of a stored upload.

        Raises
        ------
        NotFoundError
            The upload was evicted meanwhile.
        InputError
            The stored file cannot be read (it was validated when stored).
        """
        from deepmend.data.readers import read_sites

        path = self.dir / f"{upload_id}.csv"
        try:
            return read_sites(path, audience="web")
        except (InputError, OSError):
            if not path.is_file():  # evicted between check_id() and this read: the id has expired
                raise self.expired(upload_id) from None
            raise

    def add(self, content: bytes, filename: str | None, client: str = "") -> dict:
        """Validate a CSV site list and store it by content hash for ``client``; returns the API's upload answer.

        Raises
        ------
        TooLargeError
            Over :data:`MAX_UPLOAD_BYTES` or :data:`MAX_UPLOAD_ROWS`.
        UnsupportedUploadError
            Binary or compressed content (Parquet, zip/.npz, gzip …): refused unexpanded (422).
        StoreFullError
            The store is full of other clients' uploads in use (503, retry later).
        InputError
            Empty or unreadable file, or a site list no scene can be built from, naming the
            client's file name (never a server path).
        """
        from deepmend.data.deployment import split_networks
        from deepmend.data.readers import read_sites
        from deepmend.scene import Scene, check_extent

        shown = re.sub(r"[^A-Za-z0-9._ -]+", "_", Path(filename or "upload.csv").name)[:100] or "upload.csv"
        if len(content) > MAX_UPLOAD_BYTES:
            raise TooLargeError(f"{shown}: file is {len(content) / 1e6:.1f} MB, the limit is {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
        check_upload_content(content, shown)
        lines = [ln for ln in content.splitlines() if ln.strip()]
        if len(lines) - 1 > MAX_UPLOAD_ROWS:
            raise TooLargeError(f"{shown}: {len(lines) - 1} rows, the limit is {MAX_UPLOAD_ROWS} sites")
        if not lines:
            raise InputError("file is empty", file=shown)
        upload_id = hashlib.sha256(content).hexdigest()[:16]
        with tempfile.TemporaryDirectory(prefix=".upload-", dir=self.dir) as tmp:
            path = Path(tmp) / f"{upload_id}.csv"
            path.write_bytes(content)
            try:
                dep = read_sites(path, audience="web")
                check_site_ids(dep.site_ids, shown)
                check_extent(dep)  # cost limit (docs/INPUTS.md), before any per-cell work
                for net in split_networks(dep).values():  # each operator's network on its own
                    Scene.from_files(net, None)
            except InputError as exc:  # same class (its HTTP status), message without server paths
                raise type(exc)(str(exc).replace(str(path), shown).replace(tmp, "")) from None
            except Exception as exc:  # a reader bug must still answer 400 naming the file, not 500
                log.exception("upload %s could not be read", shown)
                raise InputError(f"cannot be read as a site list ({type(exc).__name__})", file=shown) from None
            evicted = self.files.put(upload_id, path, client)
        for uid in evicted:
            if self.on_evict is not None:
                self.on_evict(uid)
        return {"upload_id": upload_id, "n_sites": int(len(dep)), "operators": dep.operators(), "country": UPLOAD_COUNTRY, "city": upload_id,
                "notes": list(dep.notes)}


def mentions_upload(key, upload_id: str) -> bool:
    """True when a cache key belongs to the upload ``upload_id``.

    Keys hold the scene as ``SceneSpec.as_tuple()`` (``("upload", id, operator)``), possibly
    nested, or as the JSON of a map key (``"scene": ["upload", id, …]``).
    """
    if isinstance(key, tuple):
        if len(key) >= 2 and key[0] == UPLOAD_COUNTRY and key[1] == upload_id:
            return True
        return any(mentions_upload(k, upload_id) for k in key)
    if isinstance(key, str):
        return f'"scene": ["{UPLOAD_COUNTRY}", "{upload_id}"' in key
    return False
