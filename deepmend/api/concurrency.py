"""Requests that may wait on a build run in their own lane, so that cheap requests never starve.

FastAPI runs ``def`` endpoints in anyio's shared pool of 40 threads. A request waiting on a
fit holds its thread for up to ``wait_s``: fifty of them used to take every thread, and
``/api/catalog``, ``/`` and static files (which need a thread too) waited behind them.
Endpoints that can wait on a build (maps, metrics, sites, region, features) are ``async`` and
call :meth:`HeavyLane.run`, which runs them in threads of the lane's own
:class:`anyio.CapacityLimiter` — never one of the shared 40 — after waiting for a free slot
at most until the request's deadline (``wait_s`` from its arrival, the same deadline its
waits on builds get: :meth:`deepmend.api.service.Service.set_deadline`); past it the answer
is 503 with ``Retry-After``. Everything else keeps the shared pool to itself.
"""

from __future__ import annotations

from typing import Any, Callable

import anyio
import anyio.to_thread

from deepmend.errors import BusyError

__all__ = ["HeavyLane", "DEFAULT_HEAVY_THREADS"]

#: Requests of the heavy lane running at once (``DEEPMEND_API_HEAVY_THREADS``).
DEFAULT_HEAVY_THREADS = 24


class HeavyLane:
    """A bounded lane of worker threads for requests that may wait on builds.

    Parameters
    ----------
    service : Service
        Gives the per-request deadline (``wait_s``) and sets it for the request's thread.
    threads : int
        Requests of the lane running at once; the others queue (no thread held) until
        their deadline, then :class:`BusyError` (503).
    """

    def __init__(self, service, threads: int = DEFAULT_HEAVY_THREADS) -> None:
        self.service = service
        self.threads = max(1, int(threads))
        self._gate: anyio.CapacityLimiter | None = None
        self._pool: anyio.CapacityLimiter | None = None

    def _limiters(self) -> tuple[anyio.CapacityLimiter, anyio.CapacityLimiter]:
        if self._gate is None:  # created in the event loop (first request)
            self._gate = anyio.CapacityLimiter(self.threads)
            self._pool = anyio.CapacityLimiter(self.threads)
        return self._gate, self._pool  # type: ignore[return-value]

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` in a lane thread, every wait of it bounded by the request's deadline.

        Raises
        ------
        BusyError
            No lane thread free before the deadline, or a build not ready by then.
        """
        gate, pool = self._limiters()
        wait_s = self.service.wait_s
        tokens = self.service.set_deadline(wait_s)
        borrower = object()
        try:
            with anyio.move_on_after(wait_s) as scope:
                await gate.acquire_on_behalf_of(borrower)
            if scope.cancelled_caught:
                raise BusyError(f"server busy: {self.threads} requests are waiting on builds; try again shortly",
                                retry_after=max(1, min(30, int(wait_s))))
            try:
                return await anyio.to_thread.run_sync(fn, *args, limiter=pool)
            finally:
                gate.release_on_behalf_of(borrower)
        finally:
            self.service.reset_deadline(tokens)
