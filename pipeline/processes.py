"""A stage's worker processes: spawned from a thread while the stage goes on, and ended with it.

Kept apart from what the processes do, so that a process importing this module (the
call-list writers, say) does not also load the renderer or Polars.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)


class Processes:
    """A stage's worker processes: spawned from a thread (the stage goes on meanwhile), or none."""

    def __init__(self, starting: Future[Any] | None, jobs: int, what: str) -> None:
        self._starting = starting
        self.jobs = jobs  # how many were asked for; 0: the work is done in this process
        self._what = what

    @classmethod
    @contextmanager
    def spawn(cls, jobs: int, what: str, initializer: Callable[..., None],
              initargs: tuple[Any, ...] = ()) -> Iterator[Processes]:
        """Start `jobs` processes (none for fewer than two), each set up by `initializer`; end them after."""
        if jobs < 2:
            yield cls(None, 0, what)
            return
        # Spawned, not forked: a forked process would share the parent's whole dataset, and every
        # page it touched (a reference count is enough) would be copied into it. Started from a
        # thread: a process is ready once its interpreter has imported Windstil (0.4 s each),
        # which this process spends on the stage's own work instead.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="windstil-start") as starter:
            processes = cls(starter.submit(
                multiprocessing.get_context("spawn").Pool, jobs, initializer=initializer, initargs=initargs,
            ), jobs, what)
            try:
                yield processes
            finally:
                processes.stop()

    @property
    def pool(self) -> Any:
        """The process pool, once it has started; None when the work is done in this process."""
        if self._starting is None:
            return None
        error = self._starting.exception()
        if error is not None:  # out of processes or memory, say: slower, but the run is made
            log.warning("could not start the %s processes (%s); working in this process", self._what, error)
            self._starting, self.jobs = None, 0  # a later stage does not try again
            return None
        return self._starting.result()

    def stop(self) -> None:
        """End the processes (at once: they have nothing left to do, or the run is abandoned)."""
        starting, self._starting = self._starting, None
        if starting is not None and starting.exception() is None:
            pool = starting.result()
            pool.terminate()
            pool.join()


def ignore_interrupts() -> None:
    """Leave Ctrl-C to the parent, in a worker process: the parent decides and terminates it."""
    # Ctrl-C reaches the whole process group.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
