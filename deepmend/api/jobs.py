"""Long computations of a running API, as the web app sees them: what is being done, how far.

A computation that can take seconds to minutes (the ground-truth fit of a city, VoronoiBoost's
training, a model's first fit) runs inside :meth:`JobRegistry.track`; ``GET /api/jobs`` lists the
running ones (and the last finished ones) so that the panel that waits can say what it waits for.

Progress comes from the computation's own progress bars: in the server process, :func:`capture_tqdm`
replaces ``tqdm.tqdm`` by a bar that writes nothing to the terminal (the server's log stays a log)
and reports ``n / total`` to the job of the thread that created it. A computation without a bar
reports its elapsed time only (``fraction`` is ``None``). Numerics that take a progress callable
instead of a bar (the ground-truth simulator's whole-city fit) get :meth:`Job.progress`.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Iterator

#: Finished jobs kept for ``GET /api/jobs`` (so that a poll just after the end still sees it).
KEEP_FINISHED = 16


@dataclass
class Job:
    """One long computation. ``fraction`` ∈ [0, 1] when a progress bar reports it, else ``None``."""

    id: int
    kind: str  # "fit" (a model on a scene), "warmup" (the default scene at server start)
    model: str
    scene: tuple[str, str, str]
    label: str
    started: float = field(default_factory=time.time)
    finished: float | None = None
    fraction: float | None = None
    step: str | None = None
    error: str | None = None

    def progress(self, done: int, total: int) -> None:
        """A progress hook for numerics that take a plain callable (e.g. the ground-truth simulator's
        :meth:`~deepmend.groundtruth.simulator.GroundTruthSimulator.fit_deployment`): ``done`` of ``total`` sites."""
        if total > 0:
            self.fraction = done / total
            self.step = f"sites {done}/{total}"

    def as_dict(self) -> dict:
        """The job as ``/api/jobs`` answers it (``JobOut``): id, kind, model, scene, label, step,
        fraction in [0, 1] (or None), elapsed seconds, done and error.
        """
        end = self.finished if self.finished is not None else time.time()
        return {
            "id": self.id, "kind": self.kind, "model": self.model,
            "country": self.scene[0], "city": self.scene[1], "operator": self.scene[2],
            "label": self.label, "step": self.step,
            "fraction": None if self.fraction is None else round(min(max(self.fraction, 0.0), 1.0), 4),
            "elapsed_s": round(end - self.started, 1), "done": self.finished is not None, "error": self.error,
        }


class JobRegistry:
    """Thread-safe list of running and recently finished jobs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._running: dict[int, Job] = {}
        self._finished: deque[Job] = deque(maxlen=KEEP_FINISHED)
        self._local = threading.local()

    @contextlib.contextmanager
    def track(self, kind: str, model: str, scene: tuple[str, str, str], label: str) -> Iterator[Job]:
        """Register a job for the duration of the ``with`` block (progress bars of this thread feed it)."""
        job = Job(next(self._ids), kind, model, tuple(scene), label)
        with self._lock:
            self._running[job.id] = job
        outer = getattr(self._local, "job", None)
        self._local.job = job
        try:
            yield job
        except BaseException as exc:
            job.error = f"{type(exc).__name__}: {exc}"[:300]
            raise
        finally:
            self._local.job = outer
            job.finished = time.time()
            with self._lock:
                self._running.pop(job.id, None)
                self._finished.append(job)

    def current(self) -> Job | None:
        """The innermost job of the calling thread."""
        return getattr(self._local, "job", None)

    def snapshot(self) -> dict:
        """``{"running": [...], "finished": [...]}`` of :meth:`Job.as_dict`, finished newest first (``JobsOut``)."""
        with self._lock:
            running = [j.as_dict() for j in self._running.values()]
            finished = [j.as_dict() for j in reversed(self._finished)]
        return {"running": running, "finished": finished}


#: The registry of this process (one API per process; tests may build their own).
JOBS = JobRegistry()


def capture_tqdm(registry: JobRegistry = JOBS) -> None:
    """Route every ``tqdm`` bar created from now on in this process to ``registry``.

    The bars print nothing; each one sets its thread's current job's ``fraction`` (n / total) and
    ``step`` (the bar's description). Meant for the server process only (``deepmend serve``): the
    command line keeps its bars on stderr. Code imports ``tqdm`` lazily (``from tqdm import tqdm``
    inside functions), so replacing the module attribute is enough.
    """
    import tqdm as tqdm_module
    from tqdm import tqdm as base

    if getattr(tqdm_module.tqdm, "_deepmend_jobs", False):
        return

    class JobBar(base):  # type: ignore[misc, valid-type]
        _deepmend_jobs = True

        def __init__(self, *args, **kwargs):
            kwargs["disable"] = False
            kwargs["file"] = _NullFile()
            kwargs["mininterval"] = 0.0  # every step reaches the job (the bar prints nothing)
            self._job = registry.current()
            super().__init__(*args, **kwargs)
            self._report()

        def _report(self) -> None:
            if self._job is not None:
                if self.total:
                    self._job.fraction = self.n / self.total
                if self.desc:
                    self._job.step = f"{self.desc} ({self.n}/{self.total})" if self.total else self.desc

        def update(self, n=1):
            out = super().update(n)
            self._report()
            return out

        def refresh(self, *args, **kwargs):
            self._report()
            return super().refresh(*args, **kwargs)

    tqdm_module.tqdm = JobBar


class _NullFile:
    def write(self, s: str) -> int:
        return len(s)

    def flush(self) -> None:
        pass


def warm_up(service, scene: dict[str, str], models: tuple[str, ...], registry: JobRegistry = JOBS) -> threading.Thread:
    """Prepare ``scene`` for ``models`` in a background thread (the default scene at server start).

    Each model is fitted through ``service.fitted`` (so a request for the same scene waits on the
    same single fit instead of starting another); a model that fails is logged and skipped. The
    ground truth comes first: the first click needs it for the metrics.
    """
    import logging

    log = logging.getLogger("deepmend.api")

    def work() -> None:
        try:
            ref = service.resolve(scene["country"], scene["city"], scene["operator"])
        except Exception as exc:  # noqa: BLE001 - a catalog without the default scene: nothing to prepare
            log.warning("warm-up skipped: %s", exc)
            return
        for name in models:
            try:
                m = service.fitted(ref, name)
                if not getattr(m, "deployment_fitted", True):  # the ground truth: the whole city now, not per BS
                    with registry.track("warmup", name, ref.as_tuple(), f"simulating the ground truth of {ref.city} / {ref.operator}") as job:
                        m.fit_deployment(progress=job.progress)
            except Exception as exc:  # noqa: BLE001 - logged; the request that needs it reports it
                log.warning("warm-up of %s on %s/%s/%s failed: %s", name, *ref.as_tuple(), exc)
        log.info("warm-up of %s/%s/%s done", *ref.as_tuple())

    t = threading.Thread(target=work, name="deepmend-warmup", daemon=True)
    t.start()
    return t
