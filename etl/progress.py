"""A run's stages as events: what a terminal shows live and what the run history keeps.

A job marks each stage as it begins (`StageClock.start`); the previous stage ends there, and
the last one ends with the run (`StageClock.close`). Each change is

- logged as one line, `stage job=<job> run_id=<run> name=<stage>` (the job log in CloudWatch
  and `.logs/lake.log`; the reliability suite kills runs at these lines);
- delivered to the listeners subscribed in this process (`subscribe`): the local CLI's
  progress display is one, fed directly, never by reading logs (a run on the local engine
  has its events relayed over the engine's socket and `publish`ed in the CLI process);
- kept as `{"name", "seconds", "rows"}` for the run's summary (`RunSummary.stages`), from
  which `lake report` ranks the slowest stages.

Listeners run in the job's thread and must be quick; an exception in one is logged and
dropped, never allowed to fail the run.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

log = logging.getLogger("etl")

STARTED, FINISHED = "started", "finished"
# The stage a run goes through after silver is written (etl.job), as the run history names it.
DATA_DOCS_STAGE = "data docs"


@dataclass(frozen=True)
class StageEvent:
    job: str
    run_id: str
    stage: str
    state: str  # started | finished
    seconds: float | None = None  # elapsed, on `finished`
    rows: int | None = None  # rows the stage produced, when it knows them


T = TypeVar("T")


class Topic(Generic[T]):
    """In-process listeners of one kind of event: subscribed for a block, each called in the
    publisher's thread; a listener's exception is logged and dropped, never the publisher's."""

    def __init__(self, what: str) -> None:
        self._what = what
        self._listeners: list[Callable[[T], None]] = []
        self._lock = threading.Lock()

    @contextmanager
    def subscribe(self, listener: Callable[[T], None]) -> Iterator[None]:
        with self._lock:
            self._listeners.append(listener)
        try:
            yield
        finally:
            with self._lock:
                self._listeners.remove(listener)

    def publish(self, event: T) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:
                log.exception("%s listener failed on %s", self._what, event)


Listener = Callable[[StageEvent], None]
_stages: Topic[StageEvent] = Topic("stage")


def subscribe(listener: Listener) -> contextlib.AbstractContextManager[None]:
    """Deliver this process's stage events to `listener` while the block runs."""
    return _stages.subscribe(listener)


def publish(event: StageEvent) -> None:
    """Deliver `event` to this process's listeners: what `StageClock` does, and what a relay
    does with events of a run in another process (the local engine's, `data_platform.local.engine`)."""
    _stages.publish(event)


class StageClock:
    """The stages of one run, timed with a monotonic clock."""

    def __init__(self, job: str, run_id: str, clock: Callable[[], float] = time.perf_counter) -> None:
        self.job, self.run_id, self._clock = job, run_id, clock
        self._current: tuple[str, float] | None = None
        self._rows: int | None = None
        self.stages: list[dict[str, Any]] = []

    def start(self, name: str) -> None:
        """`name` begins; the stage before it ends now."""
        self._finish()
        log.info("stage job=%s run_id=%s name=%s", self.job, self.run_id, name)
        self._current = (name, self._clock())
        publish(StageEvent(self.job, self.run_id, name, STARTED))

    def rows(self, count: int) -> None:
        """The current stage's row count (rows read, rows passed, rows written)."""
        self._rows = count

    def close(self) -> list[dict[str, Any]]:
        """End the last stage; the stages as `RunSummary.stages` keeps them."""
        self._finish()
        return list(self.stages)

    def _finish(self) -> None:
        if self._current is None:
            return
        name, began = self._current
        seconds, rows = round(self._clock() - began, 3), self._rows
        self._current, self._rows = None, None
        self.stages.append({"name": name, "seconds": seconds, "rows": rows})
        publish(StageEvent(self.job, self.run_id, name, FINISHED, seconds, rows))
