"""Start and stop of ``deepmend serve``: uvicorn with deepmend's protocol guards, and a shutdown
on SIGTERM/SIGINT that ends within a few seconds, child processes included.

uvicorn's own shutdown stops accepting connections, lets running requests finish for
:data:`GRACEFUL_S` seconds, then cancels them. That is not enough on its own: a request's work
runs in a worker thread (FastAPI runs ``def`` endpoints in a thread pool) that cancellation
cannot stop, and the interpreter waits for such threads at exit; a model fit may have started
worker processes. So after uvicorn returns — or, if it does not, :data:`HARD_STOP_S` seconds
after the first signal — every descendant process is terminated (then killed) and the process
exits at once (``os._exit``), without waiting for worker threads. Everything the server writes
(map cache, uploads) is written to a temporary name and renamed, so nothing half-written is
left by the hard exit.

Children are found as descendants (psutil), not as a process group: making the server a group
leader would take it out of the terminal's foreground group, and Ctrl-C would no longer reach it.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time

log = logging.getLogger("deepmend.api")

#: Seconds running requests get to finish after SIGTERM/SIGINT (uvicorn's graceful phase).
GRACEFUL_S = 2
#: Seconds after the first signal at which the process stops, whatever is still running.
HARD_STOP_S = 6
#: Seconds children get to exit after SIGTERM before they are killed.
CHILD_TERM_S = 2
#: Idle keep-alive connections stay open this long. uvicorn's default (5 s) races with busy
#: clients: when requests queue for seconds, the server can close a connection just as the
#: client sends its next request on it (the client sees a reset: benchmarks/bench_load.py).
KEEP_ALIVE_S = 30


def stop_children(timeout_s: float = CHILD_TERM_S) -> int:
    """Terminate every descendant process of this one (SIGTERM, then SIGKILL after ``timeout_s``).

    Returns
    -------
    int
        How many descendants there were.
    """
    import psutil

    try:
        kids = psutil.Process().children(recursive=True)
    except psutil.Error:
        return 0
    for p in kids:
        try:
            p.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(kids, timeout=timeout_s)
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=timeout_s)
    if kids:
        log.info("stopped %d child process(es)", len(kids))
    return len(kids)


def _exit_now(code: int) -> None:
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - a closed stream must not keep the process alive
            pass
    os._exit(code)


def serve(app, host: str, port: int, log_level: str = "info") -> None:
    """Run ``app`` with uvicorn until SIGTERM/SIGINT; never returns (the process exits).

    The exit code is 0 after a signal-initiated shutdown that finished within
    :data:`HARD_STOP_S`, 1 when the watchdog had to stop the process.
    """
    import uvicorn

    from deepmend.api.jobs import capture_tqdm
    from deepmend.api.security import json_h11_protocol

    capture_tqdm()  # this process is the server from now on: progress goes to /api/jobs, not into its log

    class Server(uvicorn.Server):
        _watchdog: threading.Thread | None = None

        def handle_exit(self, sig, frame) -> None:  # called from uvicorn's signal handler
            super().handle_exit(sig, frame)
            if self._watchdog is None:
                self._watchdog = threading.Thread(target=self._hard_stop, name="deepmend-shutdown-watchdog", daemon=True)
                self._watchdog.start()

        @staticmethod
        def _hard_stop() -> None:
            time.sleep(HARD_STOP_S)
            log.warning("shutdown took more than %d s: stopping now", HARD_STOP_S)
            stop_children()
            _exit_now(1)

    class _Stop(BaseException):
        pass

    def _stop(sig, frame) -> None:
        raise _Stop(sig)

    # uvicorn captures SIGTERM/SIGINT while it runs and, once shut down, raises them again with
    # the handlers it found: these, so that the children are stopped before the process exits.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _stop)
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, http=json_h11_protocol(),
                            timeout_keep_alive=KEEP_ALIVE_S, timeout_graceful_shutdown=GRACEFUL_S)
    code = 0
    try:
        Server(config).run()
    except _Stop:
        code = 0
    except SystemExit as exc:  # uvicorn exits this way when it cannot start (port in use …)
        code = exc.code if isinstance(exc.code, int) else 1
    except Exception:  # noqa: BLE001 - any error still stops the children
        log.exception("server stopped by an error")
        code = 1
    stop_children()
    _exit_now(code)
