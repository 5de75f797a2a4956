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

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from data_platform.local.records import RunRecord

log = logging.getLogger(__name__)

RunListener = Callable[[RunRecord], None]
_listeners: list[RunListener] = []
_lock = threading.Lock()


@contextmanager
def subscribe(listener: RunListener) -> Iterator[None]:
    """Deliver this process's run state changes to `listener` while the block runs."""
    with _lock:
        _listeners.append(listener)
    try:
        yield
    finally:
        with _lock:
            _listeners.remove(listener)


def publish(run: RunRecord) -> None:
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        try:
            listener(run)
        except Exception:
            log.exception("run listener failed on %s %s", run.run_id, run.state)
