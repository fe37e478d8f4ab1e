"""Single flight: every lazily built shared resource is built once per key, whoever asks first.

A *resource* is anything expensive that several callers may want at the same moment —
network weights and their onnxruntime session, a ground-truth simulator's per-deployment
fit, a VoronoiBoost regressor, a scene, a fitted model. :class:`OnceLRU` holds them: the
first caller of a missing key runs the factory, callers arriving meanwhile wait on the
same future and share its result (or its exception; a failure is not cached, the next
call retries). Waiting is bounded: ``timeout`` seconds, then :class:`BusyError`, which
the API answers with 503 and ``Retry-After`` instead of hanging a request thread.

:data:`SHARED` is the one process-wide instance for resources that belong to the
process, not to a service (weights, sessions, ground-truth fits): its keys start with the
kind of resource and end with a checksum of its inputs, so equal inputs share one object
and changed inputs never reuse a stale one. It is the only module-level mutable state of
the package that outlives a call, and it is thread-safe.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Callable, Hashable

from deepmend.errors import BusyError

__all__ = ["OnceLRU", "SingleFlight", "SHARED", "FLIGHTS", "once"]


class OnceLRU:
    """LRU of at most ``maxsize`` values; concurrent ``get`` of a missing key compute it once.

    Parameters
    ----------
    maxsize : int
        Values kept (least recently used evicted first). A value being computed is not
        counted until it is ready.

    Notes
    -----
    The first caller runs ``factory`` in its own thread; the others wait on its future
    for at most ``timeout`` seconds (:class:`deepmend.errors.BusyError` afterwards; the
    computation goes on and a later call finds its result). A failed computation is not
    cached: every waiter gets the exception and the next call retries.
    """

    def __init__(self, maxsize: int) -> None:
        self.maxsize = max(1, int(maxsize))
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._pending: dict[Hashable, Future] = {}
        self._lock = threading.Lock()
        self.computed = 0  # number of factory runs, for tests

    def get(self, key: Hashable, factory: Callable[[], Any], timeout: float | None = None) -> tuple[Any, bool]:
        """(value, hit) — ``hit`` is False when this call (or one it waited on) computed it.

        Raises
        ------
        BusyError
            When another caller is computing ``key`` and it is not ready within ``timeout`` s.
        Exception
            Whatever ``factory`` raised (for the caller that ran it and for every waiter).
        """
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key], True
            fut = self._pending.get(key)
            owner = fut is None
            if owner:
                fut = self._pending[key] = Future()
        if not owner:
            try:
                return fut.result(timeout=timeout), False
            except FutureTimeout:
                raise BusyError(f"still being computed after {timeout:g} s by another request; try again shortly",
                                retry_after=max(1, int(timeout or 1))) from None
        try:
            value = factory()
        except BaseException as exc:
            with self._lock:
                self._pending.pop(key, None)
            fut.set_exception(exc)
            raise
        with self._lock:
            self.computed += 1
            self._pending.pop(key, None)
            self._store(key, value)
        fut.set_result(value)
        return value, False

    def _store(self, key: Hashable, value: Any) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.maxsize:
            self._data.popitem(last=False)

    def pending(self, key: Hashable) -> bool:
        """True while some caller is computing ``key``."""
        with self._lock:
            return key in self._pending

    def discard(self, key: Hashable) -> None:
        """Forget ``key`` (a computation in flight is not affected)."""
        with self._lock:
            self._data.pop(key, None)

    def discard_if(self, pred: Callable[[Hashable], bool]) -> int:
        """Drop every cached key for which ``pred`` is true (e.g. all entries of a deleted upload)."""
        with self._lock:
            gone = [k for k in self._data if pred(k)]
            for k in gone:
                del self._data[k]
        return len(gone)

    def peek(self, key: Hashable) -> Any | None:
        """The value of ``key`` if present (marking it recently used), else None; never computes."""
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        return None

    def put(self, key: Hashable, value: Any) -> None:
        """Store ``value`` under ``key`` (evicting the least recently used beyond ``maxsize``)."""
        with self._lock:
            self._store(key, value)

    def clear(self) -> None:
        """Forget every value (computations in flight are not affected)."""
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


class SingleFlight:
    """Concurrent calls of one key run ``factory`` once and share its result; nothing is kept after.

    For results too large to keep in memory that have their own (disk) cache: the
    ground-truth simulator's per-deployment rasters, for example.
    """

    def __init__(self) -> None:
        self._pending: dict[Hashable, Future] = {}
        self._lock = threading.Lock()

    def run(self, key: Hashable, factory: Callable[[], Any], timeout: float | None = None) -> tuple[Any, bool]:
        """(value, shared): ``shared`` is True for a caller that waited on another's computation.

        Raises
        ------
        BusyError
            When the other caller's computation is not done within ``timeout`` s.
        """
        with self._lock:
            fut = self._pending.get(key)
            owner = fut is None
            if owner:
                fut = self._pending[key] = Future()
        if not owner:
            try:
                return fut.result(timeout=timeout), True
            except FutureTimeout:
                raise BusyError(f"still being computed after {timeout:g} s by another request; try again shortly",
                                retry_after=max(1, int(timeout or 1))) from None
        try:
            value = factory()
        except BaseException as exc:
            fut.set_exception(exc)
            raise
        else:
            fut.set_result(value)
        finally:
            with self._lock:
                self._pending.pop(key, None)
        return value, False


#: The process-wide cache of shared resources (see the module docstring).
SHARED = OnceLRU(64)
#: The process-wide single flights of large results that are not kept in memory.
FLIGHTS = SingleFlight()


def once(key: Hashable, factory: Callable[[], Any], timeout: float | None = None) -> Any:
    """``factory()`` built once per ``key`` in this process (single flight, see :class:`OnceLRU`).

    Raises
    ------
    BusyError
        When another thread builds ``key`` and it is not ready within ``timeout`` s.
    """
    return SHARED.get(key, factory, timeout)[0]
