"""A stage's worker processes: spawned from a thread while the stage goes on, and ended with it.

They are a concurrent.futures.ProcessPoolExecutor, not a multiprocessing.Pool: a Pool
replaces a worker that dies (the out-of-memory killer, say) and waits forever for the task
it was doing, where the executor fails every task left with BrokenProcessPool, so the run
stops with an error instead of hanging.

Kept apart from what the processes do, so that a process importing this module (the
call-list writers, say) does not also load the renderer or Polars.
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle  # nosec B403 - only this run's own values, handed to its own processes
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from itertools import islice
from multiprocessing import shared_memory
from typing import Any, TypeVar

from pipeline.errors import WorkerError

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class Processes:
    """A stage's worker processes: spawned from a thread (the stage goes on meanwhile), or none."""

    def __init__(self, starting: Future[Workers] | None, jobs: int, what: str) -> None:
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
        with _handed_over(initializer, initargs) as (set_up, set_up_args), \
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="windstil-start") as starter:
            processes = cls(starter.submit(Workers.start, jobs, what, set_up, set_up_args), jobs, what)
            try:
                yield processes
            finally:
                processes.stop()

    @property
    def pool(self) -> Workers | None:
        """The started processes; None when the work is done in this process."""
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
            starting.result().terminate()


class Workers:
    """Started worker processes, with multiprocessing.Pool's imap and imap_unordered.

    A task is handed out only when a process is about to be free (at most `AHEAD` per
    process wait in the queue), so a stage that cuts its tasks as it goes (the render's
    chunks) keeps only a few in memory. When a process dies, what is left fails with a
    WorkerError.
    """

    AHEAD = 2  # tasks per process handed out at once: one at work, one waiting

    def __init__(self, executor: ProcessPoolExecutor, jobs: int, what: str) -> None:
        self._executor = executor
        self._ahead = self.AHEAD * jobs
        self._what = what

    @classmethod
    def start(cls, jobs: int, what: str, initializer: Callable[..., None], initargs: tuple[Any, ...]) -> Workers:
        """Return `jobs` processes, each set up by `initializer`: all started, one at least set up."""
        executor = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                                       initializer=initializer, initargs=initargs)
        workers = cls(executor, jobs, what)
        try:
            # The executor spawns a process when a task finds none idle: a task each starts them all.
            for ready in [executor.submit(_ready) for _ in range(jobs)]:
                ready.result()
        except BaseException:
            workers.terminate()
            raise
        return workers

    def imap(self, function: Callable[[T], R], items: Iterable[T], chunksize: int = 1) -> Iterator[R]:
        """Return function(item) for each item, in order; `chunksize` items go to a process at a time."""
        items = iter(items)
        window: deque[Future[list[R]]] = deque()
        try:
            while True:
                while len(window) < self._ahead and (batch := list(islice(items, chunksize))):
                    window.append(self._submit(_each, function, batch))
                if not window:
                    return
                yield from self._result(window.popleft())
        finally:
            for future in window:
                future.cancel()

    def imap_unordered(self, function: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """Return function(item) for each item, as each is done."""
        items = iter(items)
        running: set[Future[R]] = set()
        try:
            while True:
                running.update(self._submit(function, item) for item in islice(items, self._ahead - len(running)))
                if not running:
                    return
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    yield self._result(future)
        finally:
            for future in running:
                future.cancel()

    def terminate(self) -> None:
        """End the processes now, busy or not."""
        # The executor ends only idle processes (terminate_workers() comes with Python 3.14).
        processes = list((self._executor._processes or {}).values())
        self._executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        for process in processes:
            process.join()

    def _submit(self, function: Callable[..., R], *args: Any) -> Future[R]:
        try:
            return self._executor.submit(function, *args)
        except BrokenProcessPool as error:
            raise self._died() from error

    def _result(self, future: Future[R]) -> R:
        try:
            return future.result()
        except BrokenProcessPool as error:
            raise self._died() from error

    def _died(self) -> WorkerError:
        return WorkerError(f"a {self._what} process ended abruptly (out of memory, or killed); the run is "
                           f"abandoned and nothing of it is kept: run it again (--jobs 1 keeps it to one process)")


def _ready() -> None:
    """Nothing: a task that makes the executor start a process."""


def _each(function: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """Return function(item) for each of a batch of items (in a worker process)."""
    return [function(item) for item in items]


@contextmanager
def _handed_over(initializer: Callable[..., None],
                 initargs: tuple[Any, ...]) -> Iterator[tuple[Callable[..., None], tuple[Any, ...]]]:
    """Return what sets up a process and its arguments, the values `initargs` passed through shared memory.

    multiprocessing writes a spawned process's arguments into a pipe whose reading end it
    holds open itself until it has written them all: a process that dies before it has read
    them (Ctrl-C reaches it while it imports Windstil, or the out-of-memory killer ends it)
    leaves that write waiting forever once they fill the pipe (64 KiB; the render processes'
    settings and content are about 120 KiB), and the run with it, Ctrl-C or not. So the values
    wait in a block of shared memory, and a process is handed only its name. Where shared
    memory cannot be had, the values go through the pipe as before.
    """
    values = pickle.dumps(initargs, protocol=pickle.HIGHEST_PROTOCOL)
    try:
        block = shared_memory.SharedMemory(create=True, size=max(len(values), 1))
    except OSError as error:
        log.info("no shared memory for the processes' set-up (%s); handing it over through their pipe", error)
        yield initializer, initargs
        return
    try:
        _buffer(block)[:len(values)] = values
        yield _set_up, (initializer, block.name, len(values))
    finally:
        block.close()
        block.unlink()  # after the processes have ended: one that starts later must still find it


def _set_up(initializer: Callable[..., None], name: str, size: int) -> None:
    """Set up a spawned process with `initializer` and the values waiting in the shared memory block `name`."""
    block = shared_memory.SharedMemory(name=name)
    try:
        values = pickle.loads(bytes(_buffer(block)[:size]))  # noqa: S301  # nosec B301 - written by this run's own parent
    finally:
        block.close()
    initializer(*values)


def _buffer(block: shared_memory.SharedMemory) -> memoryview:
    """Return the memory of an open block (typeshed allows None, which only a closed block has)."""
    if block.buf is None:
        raise OSError(f"shared memory block {block.name} is closed")
    return block.buf


def ignore_interrupts() -> None:
    """Leave Ctrl-C to the parent, in a worker process: the parent decides and terminates it."""
    # Ctrl-C reaches the whole process group.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
