"""The bronze watcher and the scheduler of the local twin, with an injectable clock.

Watcher: each poll lists local bronze and routes every object that is new or changed since
it was last routed (size or mtime differ) exactly like `lake upload` does. "Seen" is stored
in the run history, so a restart does not re-route old files and does route files dropped
while it was down. A file is routed once it is known to be complete: the file system said
so (`BronzeEvents`: it was renamed into place, or closed after writing, and has not changed
since), or, without such an event (a file dropped while nothing watched, a file system
without notifications), its mtime is `settle_seconds` old. So a file still being copied in
is not read half-written, and an atomically renamed file (what `lake upload`, `aws s3 cp`
and sane copy tools do) is routed at once, as S3 emits "Object Created" only for complete
objects.

`BronzeEvents` (watchdog: inotify on Linux, FSEvents on macOS, ReadDirectoryChangesW on
Windows) also wakes the loop when bronze changes, so a file does not wait for the next poll;
polling stays as the safety net (missed or overflowed events, directories created a moment
before their first file).

Scheduler: fires each enabled schedule at the instants `schedules.next_fire_times` gives for
its AWS expression in its time zone. The last fire per schedule is stored (atomically, in
the same history) so a restart neither double-fires nor skips, and a watcher and a
`lake tick` running at once fire an instant once. Differences from EventBridge Scheduler:
`flexible_window_minutes` is ignored (the local twin fires on the instant); instants missed
while nothing was running are fired when it runs again, oldest first, at most
`max_catch_up` per schedule per tick (`lake watch` uses 1, so catching up after downtime
interleaves with polling bronze; the next tick continues where this one stopped).

The clock is `LAKE_NOW` (a fixed ISO instant) when set, else the system clock; tests use
`lake tick --since ... --now ...` or `lake watch --once` instead of waiting for real time.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from data_platform.local.history import parse_iso
from data_platform.local.lake import Dispatch, LocalLake
from data_platform.local.records import RunRecord

DEFAULT_MAX_CATCH_UP = 24


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True)
class FixedClock(Clock):
    moment: datetime

    def now(self) -> datetime:
        return self.moment


def clock_from_env() -> Clock:
    raw = os.environ.get("LAKE_NOW")
    return FixedClock(parse_iso(raw)) if raw else Clock()


# ------------------------------------------------------------------------------------------
# Scheduler


@dataclass(frozen=True)
class Fire:
    schedule: str
    job: str
    instant: datetime


@dataclass
class TickResult:
    window_start: dict[str, datetime | None] = field(default_factory=dict)
    fired: list[tuple[Fire, list[RunRecord]]] = field(default_factory=list)
    due: list[Fire] = field(default_factory=list)
    initialized: list[str] = field(default_factory=list)
    more_due: list[str] = field(default_factory=list)  # schedules with fires left for the next tick

    @property
    def failed(self) -> bool:
        return any(run.failed for _fire, runs in self.fired for run in runs)


class Scheduler:
    def __init__(self, lake: LocalLake, *, max_catch_up: int = DEFAULT_MAX_CATCH_UP) -> None:
        from data_platform.contract import schedules  # pure Python; imported here to keep `lake --help` lean

        self._next_fire_times = schedules.next_fire_times
        self.lake = lake
        self.stack = lake.stack.stack
        self.max_catch_up = max_catch_up

    def due(self, now: datetime, since: datetime | None = None, *, record_watermarks: bool = True) -> TickResult:
        """Fires in (start, now] per schedule, start = the later of `since` and its last fire.

        A schedule with neither (first tick ever) fires nothing; `now` becomes its watermark.
        """
        result = TickResult()
        history = self.lake.history
        for name, sched in sorted(self.lake.cfg.schedules.items()):
            if not sched.enabled:
                continue
            starts = [moment for moment in (since, history.last_fire(self.stack, name)) if moment is not None]
            start = max(starts) if starts else None
            result.window_start[name] = start
            if start is None:
                result.initialized.append(name)
                if record_watermarks:
                    history.set_watermark(self.stack, name, now)
                continue
            times = self._next_fire_times(sched.expression, start, self.max_catch_up + 1, sched.timezone)
            due = [moment for moment in times if moment <= now]
            if len(due) > self.max_catch_up:
                due = due[: self.max_catch_up]
                result.more_due.append(name)
            result.due.extend(Fire(name, sched.job, moment) for moment in due)
        result.due.sort(key=lambda fire: (fire.instant, fire.schedule))
        return result

    def tick(self, now: datetime, since: datetime | None = None, *, dry_run: bool = False) -> TickResult:
        result = self.due(now, since, record_watermarks=not dry_run)
        if dry_run:
            return result
        for fire in result.due:
            # Claimed before the run starts: a crash mid-run leaves a FAILED run in the history
            # (and an alert), never a second fire of the same instant.
            if self.lake.history.claim_fire(self.stack, fire.schedule, fire.instant):
                result.fired.append((fire, self.lake.fire_schedule(fire.schedule, fire.instant)))
        return result


# ------------------------------------------------------------------------------------------
# Watcher


@dataclass
class PollResult:
    dispatches: list[Dispatch] = field(default_factory=list)
    settling: list[str] = field(default_factory=list)  # keys too fresh to read yet

    @property
    def failed(self) -> bool:
        return any(d.failed for d in self.dispatches)


class Watcher:
    def __init__(
        self, lake: LocalLake, *, settle_seconds: float = 2.0, wall_clock: Callable[[], float] = time.time
    ) -> None:
        self.lake = lake
        self.settle_seconds = settle_seconds
        self.wall_clock = wall_clock  # file mtimes are wall-clock times, whatever LAKE_NOW says
        self._complete: dict[str, tuple[int, int]] = {}  # key -> (size, mtime_ns) when it was complete
        self._complete_lock = threading.Lock()

    def note_complete(self, key: str, size: int, mtime_ns: int) -> None:
        """The file system reported `key` complete (renamed into place, or closed after
        writing) when it had this size and mtime; it is routed without settling as long as
        it still has them."""
        with self._complete_lock:
            self._complete[key] = (size, mtime_ns)

    def _known_complete(self, key: str, size: int, mtime_ns: int) -> bool:
        with self._complete_lock:
            return self._complete.get(key) == (size, mtime_ns)

    def _forget_complete(self, key: str) -> None:
        with self._complete_lock:
            self._complete.pop(key, None)

    def poll(self) -> PollResult:
        result = PollResult()
        bronze = self.lake.bronze
        seen = self.lake.history.seen_objects(bronze)
        now = self.wall_clock()
        for obj in self.lake.bronze_objects():
            if seen.get(obj.key) == (obj.size, obj.mtime_ns):
                self._forget_complete(obj.key)  # routed already (by `lake upload`, say)
                continue
            complete = self._known_complete(obj.key, obj.size, obj.mtime_ns)
            if not complete and now - obj.mtime_ns / 1e9 < self.settle_seconds:
                result.settling.append(obj.key)
                continue
            self._forget_complete(obj.key)
            # Claimed first: two watchers on one home route a file once.
            if self.lake.history.claim_object(bronze, obj.key, obj.size, obj.mtime_ns):
                result.dispatches.append(self.lake.dispatch(obj))
        return result


class BronzeEvents:
    """File-system notifications for local bronze: wake the watch loop at once, and tell the
    watcher which files are complete. Without them (`start()` returned False) the loop polls."""

    def __init__(self, watcher: Watcher, wake: threading.Event) -> None:
        self.watcher = watcher
        self.wake = wake
        self.root = watcher.lake.bucket_dir(watcher.lake.bronze)
        self._observer: Any = None
        self.error: str | None = None

    def start(self) -> bool:
        try:
            from watchdog.events import FileSystemEventHandler
            from watchdog.observers import Observer
        except ImportError as error:  # pragma: no cover - watchdog is a pinned dependency
            self.error = f"watchdog is not installed ({error})"
            return False
        source = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: Any) -> None:
                source._on_event(event)

        try:
            self.root.mkdir(parents=True, exist_ok=True)
            observer = Observer()
            observer.daemon = True
            observer.schedule(Handler(), str(self.root), recursive=True)
            observer.start()
        except (OSError, RuntimeError) as error:  # e.g. the inotify watch limit is reached
            self.error = f"{type(error).__name__}: {error}"
            return False
        self._observer = observer
        return True

    def _on_event(self, event: Any) -> None:
        # "This file is whole now": the writer closed it, or it was renamed into place (the
        # destination of a move). A creation, modification or deletion only wakes the loop.
        if event.is_directory:
            if event.event_type in ("created", "moved"):
                self.wake.set()  # files may already be inside: poll
            return
        if event.event_type == "moved":
            path = event.dest_path
        elif event.event_type == "closed":
            path = event.src_path
        elif event.event_type in ("created", "modified", "deleted"):
            self.wake.set()
            return
        else:  # opened, closed without writing, attribute changes
            return
        key = self._key(path)
        if key is not None:
            try:
                stat = os.stat(path)
            except OSError:  # gone again already
                pass
            else:
                self.watcher.note_complete(key, stat.st_size, stat.st_mtime_ns)
        self.wake.set()

    def _key(self, path: str | bytes) -> str | None:
        path = os.fsdecode(path)
        try:
            relative = Path(path).relative_to(self.root)
        except ValueError:
            return None
        if any(part.startswith(".") for part in relative.parts):
            return None  # hidden and temporary files are never routed (LocalLake.bronze_objects)
        return relative.as_posix()

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None


def watch_loop(
    watcher: Watcher,
    scheduler: Scheduler | None,
    clock: Clock,
    *,
    interval: float,
    stop: threading.Event,
    on_poll: Callable[[PollResult], None],
    on_tick: Callable[[TickResult], None],
    wake: threading.Event | None = None,
) -> None:
    """Poll and tick until `stop` is set (by a signal handler); finishes the current run first.

    Between passes it sleeps `interval`, or less when `wake` is set (bronze changed; whoever
    sets `stop` sets `wake` too). `wake` is cleared before a pass, so a change during one
    brings the next at once."""
    wake = wake or stop
    while not stop.is_set():
        if wake is not stop:
            wake.clear()
        on_poll(watcher.poll())
        if scheduler is not None and not stop.is_set():
            on_tick(scheduler.tick(clock.now()))
        wake.wait(interval)
