"""A run's state changes as events: what `lake watch`'s live table follows.

The local runner publishes the run, as the run history holds it right after the change, each
time its state changes: created (WAITING for a concurrency slot), each attempt (RUNNING), and
its end (SUCCEEDED, NO_INPUT or FAILED). Listeners subscribed in this process (`subscribe`)
get them directly, as the stage display gets the job's stage events (`etl.progress`), never by
reading logs or polling the history.

Listeners run in the runner's thread and must be quick; an exception in one is logged and
dropped, never allowed to fail the run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from data_platform.local.records import RunRecord
from etl.progress import Topic

RunListener = Callable[[RunRecord], None]
_runs: Topic[RunRecord] = Topic("run")


def subscribe(listener: RunListener) -> contextlib.AbstractContextManager[None]:
    """Deliver this process's run state changes to `listener` while the block runs."""
    return _runs.subscribe(listener)


def publish(run: RunRecord) -> None:
    _runs.publish(run)
