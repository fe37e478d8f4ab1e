"""Where tasks run: in-process, a local process pool, or a Dask distributed cluster.

All three expose one method, ``imap_unordered(fn, args_list)``: results come back as
they finish, and at most ``in_flight`` tasks are submitted at a time, so neither the
inputs nor the outputs of a whole country pile up in the driver's memory. An exception
in a task propagates out of the iterator after the results already yielded were
handled by the caller (the runner stores each one before asking for the next), and the
remaining queued tasks are cancelled.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Callable, Iterable, Iterator, Protocol, Sequence

from deepmend.errors import InputError


class Executor(Protocol):
    """What the runner needs of an executor: ``workers`` (its parallelism), ``imap_unordered`` and ``close``.

    ``imap_unordered(fn, args_list)`` yields ``fn(*args)`` for each tuple as results finish,
    with at most ``in_flight`` tasks submitted at a time; ``close(cancel)`` waits for the
    workers, or stops them now with ``cancel=True``.
    """
    workers: int

    def imap_unordered(self, fn: Callable[..., Any], args_list: Sequence[tuple]) -> Iterator[Any]: ...

    def close(self, cancel: bool = False) -> None: ...


class SerialExecutor:
    """In the calling process: the reference, and what tests and debuggers want."""

    workers = 1

    def imap_unordered(self, fn: Callable[..., Any], args_list: Sequence[tuple]) -> Iterator[Any]:
        """``fn(*args)`` for each tuple, in order, in the calling process; a task's exception propagates at once."""
        for args in args_list:
            yield fn(*args)

    def close(self, cancel: bool = False) -> None:
        """Nothing to release."""
        pass


def _die_with_parent() -> None:
    """Linux: the kernel sends SIGTERM to this process when its parent dies, even by SIGKILL."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


def _worker_init() -> None:
    """One thread of BLAS/torch per worker process: the workers are the parallelism.

    Ctrl-C reaches the whole process group: workers ignore SIGINT and are stopped by the
    driver (:meth:`ProcessExecutor.close`), and they die with the driver whatever kills it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    try:
        import torch  # noqa: PLC0415 - only if a model needs it

        torch.set_num_threads(1)
    except Exception:  # torch absent or already configured
        pass


def _bounded(submit: Callable[[tuple], Any], args_list: Sequence[tuple], in_flight: int, wait_any: Callable[[set], tuple[set, set]],
             result: Callable[[Any], Any], cancel: Callable[[Any], None]) -> Iterator[Any]:
    pending: set = set()
    it: Iterable[tuple] = iter(args_list)
    exhausted = False
    try:
        while True:
            while not exhausted and len(pending) < in_flight:
                nxt = next(it, None)  # type: ignore[call-overload]
                if nxt is None:
                    exhausted = True
                    break
                pending.add(submit(nxt))
            if not pending:
                return
            done, pending = wait_any(pending)
            for fut in done:
                yield result(fut)
    finally:
        for fut in pending:
            cancel(fut)


class ProcessExecutor:
    """A local pool of ``workers`` processes (spawned: safe with threads and torch in the parent).

    Parameters
    ----------
    workers : int, default 2
        Worker processes (≥ 1); each runs one BLAS/torch thread.
    in_flight : int, optional
        Tasks submitted at a time (default twice the workers).
    """

    def __init__(self, workers: int = 2, in_flight: int | None = None) -> None:
        self.workers = max(1, int(workers))
        self.in_flight = in_flight or 2 * self.workers
        self.pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=mp.get_context("spawn"), initializer=_worker_init)

    def imap_unordered(self, fn: Callable[..., Any], args_list: Sequence[tuple]) -> Iterator[Any]:
        """Results of ``fn(*args)`` as the workers finish them, at most ``in_flight`` submitted at a time.

        A task's exception is raised here after the results already yielded; the queued tasks
        are cancelled when the iterator closes.
        """
        def wait_any(p: set) -> tuple[set, set]:
            done, rest = wait(p, return_when=FIRST_COMPLETED)
            return set(done), set(rest)

        yield from _bounded(lambda a: self.pool.submit(fn, *a), args_list, self.in_flight, wait_any, Future.result, Future.cancel)

    def close(self, cancel: bool = False) -> None:
        """Wait for the workers to finish (``cancel``: stop them now — terminate, then kill)."""
        if not cancel:
            self.pool.shutdown(wait=True, cancel_futures=True)
            return
        procs = list((getattr(self.pool, "_processes", None) or {}).values())
        self.pool.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.kill()
                p.join(timeout=5)


class DaskExecutor:
    """The same tasks on a Dask distributed cluster (an address, or a ``Client`` passed in).

    Parameters
    ----------
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:port``); ignored when ``client`` is given.
    client : distributed.Client, optional
        A client to use (not closed by :meth:`close`).
    in_flight : int, optional
        Tasks submitted at a time (default twice the cluster's threads).

    Raises
    ------
    InputError
        If the scheduler cannot be reached within 20 s (column ``--scheduler``).
    """

    def __init__(self, scheduler: str | None = None, client=None, in_flight: int | None = None) -> None:
        from distributed import Client

        if client is None:
            try:
                client = Client(scheduler, timeout="20s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise InputError(f"cannot reach the Dask scheduler ({type(exc).__name__}: {exc})", column="--scheduler", value=scheduler) from None
            self._own = True
        else:
            self._own = False
        self.client = client
        self.workers = max(1, sum(w.get("nthreads", 1) for w in client.scheduler_info().get("workers", {}).values()))
        self.in_flight = in_flight or 2 * self.workers

    def imap_unordered(self, fn: Callable[..., Any], args_list: Sequence[tuple]) -> Iterator[Any]:
        """Results of ``fn(*args)`` from the cluster as they finish (``pure=False``: every task runs), at
        most ``in_flight`` submitted at a time; each future is released once its result is read.
        """
        from distributed import wait as dwait

        def wait_any(p: set) -> tuple[set, set]:
            res = dwait(list(p), return_when="FIRST_COMPLETED")
            return set(res.done), set(res.not_done)

        def result(fut):
            try:
                return fut.result()
            finally:
                fut.release()

        yield from _bounded(lambda a: self.client.submit(fn, *a, pure=False), args_list, self.in_flight, wait_any, result, lambda f: f.cancel())

    def close(self, cancel: bool = False) -> None:
        """Release the client (its pending tasks were cancelled when the iterator closed)."""
        if self._own:
            self.client.close()


class Interrupted(Exception):
    """SIGTERM or SIGINT during a run (raised in the main thread by :func:`interruptible`).

    Parameters
    ----------
    signum : int
        The signal received; the message is its name (``SIGTERM``, ``SIGINT``).
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class interruptible:
    """Context: SIGTERM/SIGINT raise :class:`Interrupted` in the main thread, so that ``finally``
    blocks run (workers stopped, temporaries removed); the previous handlers come back after."""

    def __enter__(self):
        self.old = {}
        if threading_main():
            for s in (signal.SIGTERM, signal.SIGINT):
                self.old[s] = signal.signal(s, self._raise)
        return self

    @staticmethod
    def mute() -> None:
        """Ignore further SIGTERM/SIGINT until the context exits (clean-up in progress)."""
        if threading_main():
            for s in (signal.SIGTERM, signal.SIGINT):
                signal.signal(s, signal.SIG_IGN)

    @staticmethod
    def _raise(signum, frame):
        raise Interrupted(signum)

    def __exit__(self, *exc):
        for s, h in self.old.items():
            signal.signal(s, h)
        return False


def threading_main() -> bool:
    """True in the main thread, the only one where signal handlers can be installed."""
    import threading

    return threading.current_thread() is threading.main_thread()


def make_executor(workers: int | None = None, scheduler: str | None = None) -> Executor:
    """Dask when a scheduler address is given; else ``workers`` local processes (0 = in-process).

    Parameters
    ----------
    workers : int, optional
        Local worker processes (default min(2, CPUs)); 0 runs in-process.
    scheduler : str, optional
        A Dask scheduler address; takes precedence over ``workers``.

    Returns
    -------
    Executor

    Raises
    ------
    InputError
        If ``workers`` < 0, or the scheduler cannot be reached.
    """
    if scheduler:
        return DaskExecutor(scheduler)
    n = min(2, os.cpu_count() or 1) if workers is None else int(workers)
    if n < 0:
        raise InputError("--workers must be ≥ 0", column="--workers", value=workers)
    return SerialExecutor() if n == 0 else ProcessExecutor(n)
