"""The runs `lake watch` shows live: which appear, in what order, in what state.

Fed by two kinds of events of this process, never by logs: the runner's run state changes
(`data_platform.local.run_events`: created, each attempt, the end) and the job's stage
events (`etl.progress`: a stage began or ended, with its rows). Nothing here draws;
`watch_view` renders what `rows()` returns.

Which runs: every run still in flight (WAITING or RUNNING), plus the `recent` runs that
ended last. Order: the order the runs started, newest last, so a row stays where it is while
its run progresses and the oldest finished runs leave from the top. Runs beyond those are
forgotten, so a watcher left running for days holds a small board.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from data_platform.contract.runs import FINAL_RUN_STATES, RunState, TriggerSource
from data_platform.local.records import RunRecord
from etl.progress import STARTED, StageEvent

DEFAULT_RECENT = 10


@dataclass(frozen=True)
class BoardRow:
    """One run as the table shows it at one instant."""

    run_id: str
    job: str
    trigger: str  # what started it: the bronze key, `schedule <name>`, `after <job>`, `manual`
    state: RunState
    attempt: int
    stage: str | None  # the stage running now; for a failed run, the stage it failed in
    rows: int | None  # in flight: the latest finished stage's rows; once ended: rows written
    seconds: float  # in flight: time since the run was created; once ended: its duration

    @property
    def in_flight(self) -> bool:
        return self.state not in FINAL_RUN_STATES


def trigger_label(run: RunRecord) -> str:
    if run.trigger_source == TriggerSource.SCHEDULE:
        return f"schedule {run.trigger_name}"
    if run.trigger_source == TriggerSource.JOB_SUCCEEDED:
        return f"after {_upstream_job(run)}"
    if run.trigger_source == TriggerSource.MANUAL:
        return f"manual {run.source_key}".rstrip()
    return run.source_key or run.trigger_source


def _upstream_job(run: RunRecord) -> str:
    """The job (`sales_etl`) whose success started `run`; its event names the Glue job
    (`data-lake-dev-sales_etl`). Glue jobs are named `<stack base>-<job>` (contract.naming),
    and the upstream shares this run's stack base."""
    if not run.glue_job.endswith(run.job):
        return run.upstream_job
    return run.upstream_job.removeprefix(run.glue_job.removesuffix(run.job))


@dataclass
class _Run:
    started: int  # the board's own sequence: the order the runs appeared
    record: RunRecord
    began: float
    ended: float | None = None
    finished: int = 0  # the order the runs ended
    stage: str | None = None
    rows: int | None = None


class RunBoard:
    """In-flight and recent runs, updated from the runner's and the job's threads and read by
    the display's refresh thread (hence the lock)."""

    def __init__(self, recent: int = DEFAULT_RECENT, clock: Callable[[], float] = time.monotonic) -> None:
        self.recent = recent
        self._clock = clock
        self._runs: dict[str, _Run] = {}
        self._started = itertools.count()
        self._finished = itertools.count(1)
        self._lock = threading.Lock()
        # One line under the table, e.g. that a stop was requested. Set from signal handlers,
        # which must not take locks or print while the display may hold the terminal.
        self.notice: str | None = None

    def run_changed(self, run: RunRecord) -> None:
        with self._lock:
            now = self._clock()
            entry = self._runs.get(run.run_id)
            if entry is None:
                entry = self._runs[run.run_id] = _Run(next(self._started), run, began=now)
            elif run.attempts > entry.record.attempts:
                entry.stage, entry.rows = None, None  # a new attempt starts from the first stage
            entry.record = run
            if run.state in FINAL_RUN_STATES and entry.ended is None:
                entry.ended, entry.finished = now, next(self._finished)
                if run.state is not RunState.FAILED:
                    entry.stage = None
                entry.rows = run.rows_written
                self._forget_old()

    def stage_changed(self, event: StageEvent) -> None:
        with self._lock:
            entry = self._runs.get(event.run_id)
            if entry is None or entry.ended is not None:
                return  # a run this board does not follow (or a late event of an ended one)
            if event.state == STARTED:
                entry.stage = event.stage
            elif event.rows is not None:
                entry.rows = event.rows

    def rows(self) -> list[BoardRow]:
        with self._lock:
            now = self._clock()
            return [
                BoardRow(
                    run_id=entry.record.run_id,
                    job=entry.record.job,
                    trigger=trigger_label(entry.record),
                    state=entry.record.state,
                    attempt=entry.record.attempts,
                    stage=entry.stage,
                    rows=entry.rows,
                    seconds=(entry.ended if entry.ended is not None else now) - entry.began,
                )
                for entry in sorted(self._runs.values(), key=lambda e: e.started)
            ]

    def _forget_old(self) -> None:
        ended = sorted((e for e in self._runs.values() if e.ended is not None), key=lambda e: e.finished)
        for entry in ended[: max(len(ended) - self.recent, 0)]:
            del self._runs[entry.record.run_id]
