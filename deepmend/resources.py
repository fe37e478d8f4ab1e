"""Single flight: every lazily built shared resource is built once per key, whoever asks first.

A *resource* is anything expensive that several callers may want at the same moment —
network weights and their onnxruntime session, a ground-truth simulator's per-deployment
fit, a VoronoiBoost regressor, a scene, a fitted model. :class:`OnceLRU` holds them: the
first caller of a missing key runs the factory, callers arriving meanwhile wait on the
same future and share its result (or its exception; a failure is not cached, the next
call retries). Waiting is bounded: ``timeout`` seconds, then :class:`BusyError`, which
the API answers with 503 and ``Retry-After`` instead of hanging a request thread.

:class:`Builds` is a bounded thread pool a service owns (created at server start-up, shut
down with it): an :class:`OnceLRU` given one builds its missing values there, so that the
request that asked first waits no longer than the others — it gets its 503 when its
deadline passes, while the build goes on for the requests that come later.

:data:`SHARED` is the one process-wide instance for resources that belong to the
process, not to a service (weights, sessions, ground-truth fits): its keys start with the
kind of resource and end with a checksum of its inputs, so equal inputs share one object
and changed inputs never reuse a stale one. It is the only module-level mutable state of
the package that outlives a call, and it is thread-safe.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextvars import ContextVar, Token
from typing import Any, Callable, Hashable

from deepmend.errors import BusyError

log = logging.getLogger("deepmend")


def _short(key: Hashable) -> str:
    text = repr(key)
    return text if len(text) <= 160 else text[:157] + "..."

__all__ = ["Builds", "OnceLRU", "SingleFlight", "SHARED", "FLIGHTS", "once"]


class Builds:
    """A bounded pool of threads that runs long builds (scenes, fits, maps) for a service.

    Parameters
    ----------
    name : str
        Names the worker threads (``deepmend-<name>-N``) in logs and stack dumps.
    workers : int
        Builds running at once.
    max_pending : int
        Builds queued or running at once; one more is refused with :class:`BusyError`
        (HTTP 503) instead of growing the queue.

    Notes
    -----
    Threads, not processes: the HTTP server is multi-threaded, and ``fork`` from it can
    copy a held lock into the child. The pool is created by :meth:`start` (the server's
    start-up; the first :meth:`submit` starts it too) and ended by :meth:`shutdown`
    (queued builds are cancelled; a running one cannot be interrupted and is abandoned —
    ``deepmend serve`` exits without waiting for it, see :mod:`deepmend.api.lifecycle`).

    A request waits on a build's future until its *deadline* (:meth:`set_deadline`, copied
    into the request's worker thread with its context), then gets :class:`BusyError`; the
    build goes on and a later request finds its result. A build that needs another build
    (a map needs its model's fit) runs it inline when it has not started yet, otherwise
    waits for it without a deadline: no build ever waits for a queued one, so the pool
    cannot deadlock however small it is.
    """

    def __init__(self, name: str, workers: int, max_pending: int) -> None:
        self.name = name
        self.workers = max(1, int(workers))
        self.max_pending = max(self.workers, int(max_pending))
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._closed = False
        self._pending = 0
        self._deadline: ContextVar[float | None] = ContextVar(f"deepmend-build-deadline-{name}-{id(self)}", default=None)

    @staticmethod
    def _mark() -> None:
        threading.current_thread().deepmend_build_worker = True  # type: ignore[attr-defined]

    @staticmethod
    def in_worker() -> bool:
        """True in a worker thread of any :class:`Builds` (nested builds then run inline)."""
        return bool(getattr(threading.current_thread(), "deepmend_build_worker", False))

    def start(self) -> None:
        """Create the pool (idempotent; refused after :meth:`shutdown`)."""
        with self._lock:
            if self._pool is None and not self._closed:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix=f"deepmend-{self.name}", initializer=self._mark)

    def shutdown(self) -> None:
        """Refuse new builds, cancel the queued ones; running ones are not waited for."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    @property
    def pending(self) -> int:
        """Builds queued or running."""
        with self._lock:
            return self._pending

    def submit(self, fn: Callable[[], Any]) -> None:
        """Run ``fn()`` in the pool (its result and errors are ``fn``'s business).

        Raises
        ------
        BusyError
            When ``max_pending`` builds are queued or running, or the pool is shut down.
        """
        self.start()
        with self._lock:
            if self._closed or self._pool is None:
                raise BusyError("the server is shutting down", retry_after=5)
            if self._pending >= self.max_pending:
                raise BusyError(f"{self._pending} {self.name} builds already queued or running; try again shortly", retry_after=10)
            self._pending += 1
            pool = self._pool

        def run() -> None:
            try:
                fn()
            finally:
                with self._lock:
                    self._pending -= 1

        try:
            pool.submit(run)
        except RuntimeError:  # shut down meanwhile
            with self._lock:
                self._pending -= 1
            raise BusyError("the server is shutting down", retry_after=5) from None

    # --- request deadlines -----------------------------------------------------------
    def set_deadline(self, seconds: float) -> Token:
        """From now on (in this context and the threads it is copied to) waits end ``seconds`` from now."""
        return self._deadline.set(time.monotonic() + float(seconds))

    def reset_deadline(self, token: Token) -> None:
        """Undo :meth:`set_deadline` (``token`` is what it returned)."""
        self._deadline.reset(token)

    def wait_bound(self, timeout: float | None) -> float | None:
        """How long a wait may last here: ``timeout``, shortened to this context's deadline; None in a worker."""
        if self.in_worker():
            return None
        dl = self._deadline.get()
        if dl is None:
            return timeout
        left = max(0.0, dl - time.monotonic())
        return left if timeout is None else min(timeout, left)


class _Job:
    """The future of one key being built, and who runs it (the pool, or a build that needs it first)."""

    __slots__ = ("future", "_claimed", "_lock")

    def __init__(self) -> None:
        self.future: Future = Future()
        self._claimed = False
        self._lock = threading.Lock()

    def claim(self) -> bool:
        """True once: for whoever runs the build."""
        with self._lock:
            if self._claimed:
                return False
            self._claimed = True
            return True


def _busy(timeout: float | None) -> BusyError:
    return BusyError(f"still being computed after {timeout or 0:g} s; try again shortly (the computation goes on)",
                     retry_after=max(1, min(30, int(timeout or 1))))


class OnceLRU:
    """LRU of at most ``maxsize`` values; concurrent ``get`` of a missing key compute it once.

    Parameters
    ----------
    maxsize : int
        Values kept (least recently used evicted first). A value being computed is not
        counted until it is ready.
    builds : Builds, optional
        Where missing values are computed. Without it the first caller runs ``factory`` in
        its own thread; with it the value is built in the pool and **every** caller — the
        one that asked first included — waits at most ``timeout`` seconds (shortened to the
        request's deadline, see :meth:`Builds.wait_bound`).

    Notes
    -----
    Callers arriving while a key is computed wait on the same future (single flight) and
    get :class:`deepmend.errors.BusyError` when it is not ready in time; the computation
    goes on, stores its value, and a later call finds it. A failed computation is not
    cached: every waiter gets the exception and the next call retries.
    """

    def __init__(self, maxsize: int, builds: Builds | None = None) -> None:
        self.maxsize = max(1, int(maxsize))
        self.builds = builds
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._pending: dict[Hashable, _Job] = {}
        self._lock = threading.Lock()
        self.computed = 0  # number of factory runs, for tests

    def _begin(self, key: Hashable) -> tuple[bool, Any, _Job | None, bool]:
        """(hit, value, job, new job)."""
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return True, self._data[key], None, False
            job = self._pending.get(key)
            if job is not None:
                return False, None, job, False
            job = self._pending[key] = _Job()
            return False, None, job, True

    def _run(self, key: Hashable, job: _Job, factory: Callable[[], Any]) -> Any:
        try:
            value = factory()
        except BaseException as exc:
            with self._lock:
                self._pending.pop(key, None)
            job.future.set_exception(exc)
            raise
        with self._lock:
            self.computed += 1
            self._pending.pop(key, None)
            self._store(key, value)
        job.future.set_result(value)
        return value

    def _submit(self, key: Hashable, job: _Job, factory: Callable[[], Any], on_error: Callable[[BaseException], None] | None = None) -> None:
        def build() -> None:
            if not job.claim():
                return  # a build that needed it ran it first
            try:
                self._run(key, job, factory)
            except BaseException as exc:  # noqa: BLE001 - waiters got it; nobody may be waiting
                log.warning("building %s failed: %s: %s", _short(key), type(exc).__name__, exc)
                if on_error is not None:
                    on_error(exc)

        try:
            self.builds.submit(build)  # type: ignore[union-attr]
        except BusyError as exc:
            with self._lock:
                self._pending.pop(key, None)
            job.future.set_exception(exc)
            raise

    def get(self, key: Hashable, factory: Callable[[], Any], timeout: float | None = None) -> tuple[Any, bool]:
        """(value, hit) — ``hit`` is False when this call (or one it waited on) computed it.

        Raises
        ------
        BusyError
            When the value is not ready within ``timeout`` s (or the request's deadline),
            or the pool has too many builds queued.
        Exception
            Whatever ``factory`` raised (for the caller that ran it and for every waiter).
        """
        hit, value, job, new = self._begin(key)
        if hit:
            return value, True
        assert job is not None
        if self.builds is None or Builds.in_worker():
            if (new or self.builds is not None) and job.claim():
                return self._run(key, job, factory), False  # nobody runs it yet: run it here
            bound = None if Builds.in_worker() else timeout
        else:
            if new:
                self._submit(key, job, factory)
            bound = self.builds.wait_bound(timeout)
        try:
            return job.future.result(timeout=bound), False
        except FutureTimeout:
            raise _busy(bound) from None

    def start(self, key: Hashable, factory: Callable[[], Any], on_error: Callable[[BaseException], None] | None = None) -> bool:
        """Build ``key`` in the pool without waiting for it; False when present, pending or refused.

        Raises
        ------
        TypeError
            When this cache has no :class:`Builds` pool.
        """
        if self.builds is None:
            raise TypeError("start() needs a Builds pool")
        hit, _, job, new = self._begin(key)
        if hit or not new:
            return False
        try:
            self._submit(key, job, factory, on_error)
        except BusyError:
            return False
        return True

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
