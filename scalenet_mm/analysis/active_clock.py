"""A wall clock that leaves out the time its process was stopped (SIGSTOP / Ctrl-Z), so a long experiment can
lend the machine to another job and still report its own training time."""
import threading
import time
from types import TracebackType
from typing import Optional


class ActiveClock:
    """Context manager: ``seconds`` is the wall time since entering minus the stopped intervals.

    A daemon thread wakes every ``tick`` seconds; a gap between two wake-ups longer than ``stall`` seconds can
    only come from the whole process being stopped (the thread sleeps without the GIL, and the GIL changes hands
    every few milliseconds), so the gap beyond one tick is counted as stopped.
    """

    def __init__(self, tick: float = 0.1, stall: float = 5.0) -> None:
        if not 0 < tick < stall:
            raise ValueError(f'need 0 < tick < stall, got tick={tick}, stall={stall}')
        self.tick, self.stall = tick, stall
        self.stopped = 0.0
        self._start = self._end = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True, name='ActiveClock')

    def _watch(self) -> None:
        last = time.perf_counter()
        while True:
            done = self._done.wait(self.tick)
            now = time.perf_counter()
            if now - last > self.stall:  # also a stop that ended just before the context exited
                self.stopped += now - last - self.tick
            last = now
            if done:
                return

    def __enter__(self) -> 'ActiveClock':
        self._start = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, kind: Optional[type], value: Optional[BaseException],
                 traceback: Optional[TracebackType]) -> None:
        self._done.set()
        self._thread.join()
        self._end = time.perf_counter()

    @property
    def seconds(self) -> float:
        """Wall seconds inside the context (so far, while in it), stopped intervals left out."""
        if self._start is None:
            raise RuntimeError('ActiveClock.seconds read before the clock was entered')
        end = self._end if self._end is not None else time.perf_counter()
        return end - self._start - self.stopped
