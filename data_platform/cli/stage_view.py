"""The stages of the runs a command starts, shown as they happen (`etl.progress` events).

On a terminal, the spinner line names the run's current stage with its elapsed time, ticking,
and each stage, as it ends, is printed above it with its time and rows:

    ✓ sales_etl  extract        0.42 s  10,000 rows
    ⠹ sales_etl  quality gate   1.3 s

Elsewhere (a pipe, CI), one plain line per finished stage. Everything goes to stderr, so
`--json` output on stdout is untouched.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.text import Text

from etl.progress import FINISHED, STARTED, StageEvent, subscribe


def stage_line(event: StageEvent) -> str:
    rows = f"  {event.rows:,} rows" if event.rows is not None else ""
    return f"{event.job:<16} {event.stage:<13} {event.seconds or 0.0:6.2f} s{rows}"


class _Current:
    """The spinner's text, computed at each refresh so the elapsed time ticks."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.stage: tuple[str, str, float] | None = None  # job, stage, start

    def __rich__(self) -> Text:
        if self.stage is None:
            return Text(self.label)
        job, stage, began = self.stage
        return Text(f"{job:<16} {stage:<13} {time.perf_counter() - began:6.1f} s")


class StageView:
    """A listener of stage events that draws them on `console` (stderr)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._current: _Current | None = None
        self._lock = threading.Lock()

    @contextmanager
    def showing(self, label: str) -> Iterator[StageView]:
        with subscribe(self.on_event):
            if not self.console.is_terminal:
                yield self
                return
            self._current = _Current(label)
            with self.console.status(self._current):
                try:
                    yield self
                finally:
                    self._current = None

    def on_event(self, event: StageEvent) -> None:
        with self._lock:
            if event.state == STARTED and self._current is not None:
                self._current.stage = (event.job, event.stage, time.perf_counter())
            elif event.state == FINISHED:
                if self._current is not None:
                    self._current.stage = None
                mark = "✓ " if self.console.is_terminal else ""
                self.console.print(f"  {mark}{stage_line(event)}", markup=False, highlight=False)

    def relabel(self, message: str) -> None:
        """What the spinner says between stages (the command's own steps)."""
        if self._current is not None:
            self._current.label, self._current.stage = message, None
