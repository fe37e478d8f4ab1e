"""Caches of the API: the in-memory single-flight LRU and the bounded on-disk map cache.

:class:`OnceLRU` (from :mod:`deepmend.resources`) keeps scenes, fitted models, maps and
images per service; :class:`MapDiskCache` keeps computed maps as ``.npz`` under
``cache_dir()/maps`` so that a restart or another worker process reuses them.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path

from deepmend.errors import InputError
from deepmend.grid.diffusion_map import DiffusionMap
from deepmend.resources import OnceLRU

__all__ = ["OnceLRU", "MapDiskCache"]

log = logging.getLogger("deepmend.api")


class MapDiskCache:
    """``.npz`` maps under ``root``, named by the SHA-256 of their request key.

    Writes are atomic (``DiffusionMap.save``), reads touch the file's mtime so that
    eviction (oldest mtime first, down to 90 % of ``max_bytes``) is least-recently-used.
    A file that vanishes or fails to load (evicted by another process, truncated disk)
    counts as a miss. Safe with several threads and several processes on one directory.

    Parameters
    ----------
    root : Path
        The cache directory (``cache_dir()/maps``); created on first write.
    max_bytes : int
        Size above which the least recently used files are evicted.
    """

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = Path(root)
        self.max_bytes = int(max_bytes)
        self._lock = threading.Lock()
        self._total: int | None = None  # bytes, estimated; rescanned at each eviction

    @staticmethod
    def digest(key: str) -> str:
        return hashlib.sha256(key.encode("utf-8")).hexdigest()

    def path(self, key: str) -> Path:
        """The file of ``key``: ``root/<first two hex digits>/<sha256>.npz``."""
        h = self.digest(key)
        return self.root / h[:2] / f"{h}.npz"

    def get(self, key: str) -> DiffusionMap | None:
        """The map cached under ``key`` (north-up ``DiffusionMap``), or None on a miss.

        A missing, evicted, unreadable or foreign file (its header's ``cache_key`` differs) is a
        miss, never an error; a hit touches the file's mtime (LRU).
        """
        path = self.path(key)
        try:
            dm = DiffusionMap.load(path)
        except InputError:
            return None  # absent, evicted or unreadable: recompute
        except OSError:
            return None
        if dm.meta.get("cache_key") != key:
            return None  # hash collision or foreign file: never serve it
        try:
            os.utime(path)
        except OSError:
            pass
        return dm

    def put(self, key: str, dm: DiffusionMap) -> None:
        """Store ``dm`` under ``key`` atomically, then evict down to 90 % of ``max_bytes`` if over.

        A failed write (full or read-only disk) is logged and ignored: the request still answers.
        """
        path = self.path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            dm.save(path)
            size = path.stat().st_size
        except (InputError, OSError) as exc:  # a full or read-only disk must not fail the request
            log.warning("map cache: cannot write %s: %s", path, exc)
            return
        with self._lock:
            if self._total is None:
                self._total = self._scan_total()
            else:
                self._total += size
            over = self._total > self.max_bytes
        if over:
            self.evict()

    def _files(self) -> list[tuple[float, int, Path]]:
        out = []
        if not self.root.exists():
            return out
        for p in self.root.glob("*/*.npz"):
            try:
                st = p.stat()
            except OSError:
                continue
            out.append((st.st_mtime, st.st_size, p))
        return out

    def _scan_total(self) -> int:
        return sum(s for _, s, _ in self._files())

    def evict(self) -> int:
        """Delete least recently used files until the cache holds ≤ 90 % of its budget."""
        with self._lock:
            files = sorted(self._files())
            total = sum(s for _, s, _ in files)
            target = int(self.max_bytes * 0.9)
            removed = 0
            for _, size, p in files:
                if total <= target:
                    break
                try:
                    p.unlink()
                    removed += 1
                except FileNotFoundError:
                    pass
                except OSError:
                    continue
                total -= size
            self._total = total
            return removed

    def total_bytes(self) -> int:
        return self._scan_total()
