"""Watcher and scheduler with an injected clock and a fake job function (no Spark)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from data_platform.config import StackConfig, load_stack
from data_platform.local.history import parse_iso
from data_platform.local.lake import LocalLake
from data_platform.local.watch import BronzeEvents, FixedClock, Scheduler, Watcher, clock_from_env, watch_loop

REPO = Path(__file__).resolve().parents[1]


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str]]] = []

    def __call__(self, job, arguments):
        self.calls.append((job, dict(arguments)))
        return {"state": "SUCCEEDED", "rows_read": 1, "rows_written": 1, "rows_quarantined": 0}

    @property
    def jobs(self) -> list[str]:
        return [job for job, _ in self.calls]


@pytest.fixture(scope="module")
def stack() -> StackConfig:
    return load_stack("dev", REPO)


@pytest.fixture
def jobs() -> Recorder:
    return Recorder()


@pytest.fixture
def lake(stack: StackConfig, tmp_path: Path, jobs: Recorder, monkeypatch: pytest.MonkeyPatch) -> LocalLake:
    monkeypatch.delenv("LAKE_FAULT", raising=False)
    lake = LocalLake(stack, tmp_path / "home", job_fn=jobs)
    yield lake
    lake.close()


def drop(lake: LocalLake, key: str, body: bytes = b"a\n1\n", age: float = 60.0) -> Path:
    """Put a file straight into the bronze folder (what `cp` into the lake home does)."""
    path = lake.bucket_dir(lake.bronze) / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    then = time.time() - age
    os.utime(path, (then, then))
    return path


# ------------------------------------------------------------------------------------------
# watcher


def test_a_dropped_file_is_routed_once(lake: LocalLake, jobs: Recorder) -> None:
    drop(lake, "sales/a.csv")
    drop(lake, "notes/readme.txt")
    watcher = Watcher(lake, settle_seconds=1)
    first = watcher.poll()
    assert [d.key for d in first.dispatches] == ["notes/readme.txt", "sales/a.csv"]
    assert first.dispatches[0].no_match is not None
    assert jobs.jobs == ["sales_etl", "sales_daily"]
    assert watcher.poll().dispatches == []
    assert Watcher(lake, settle_seconds=1).poll().dispatches == []  # a restarted watcher too


def test_a_changed_file_is_routed_again(lake: LocalLake, jobs: Recorder) -> None:
    path = drop(lake, "sales/a.csv")
    watcher = Watcher(lake, settle_seconds=1)
    watcher.poll()
    path.write_bytes(b"a\n1\n2\n")
    os.utime(path, (time.time() - 30, time.time() - 30))
    assert [d.key for d in watcher.poll().dispatches] == ["sales/a.csv"]


def test_a_file_still_being_written_waits_for_the_next_poll(lake: LocalLake, jobs: Recorder) -> None:
    drop(lake, "sales/a.csv", age=0)
    result = Watcher(lake, settle_seconds=30).poll()
    assert (result.dispatches, result.settling) == ([], ["sales/a.csv"])
    later = Watcher(lake, settle_seconds=30, wall_clock=lambda: time.time() + 60).poll()
    assert [d.key for d in later.dispatches] == ["sales/a.csv"]


def test_a_file_reported_complete_is_routed_without_settling(lake: LocalLake, jobs: Recorder) -> None:
    path = drop(lake, "sales/a.csv", age=0)
    watcher = Watcher(lake, settle_seconds=3600)
    stat = path.stat()
    watcher.note_complete("sales/a.csv", stat.st_size, stat.st_mtime_ns)
    assert [d.key for d in watcher.poll().dispatches] == ["sales/a.csv"]
    assert jobs.jobs == ["sales_etl", "sales_daily"]


def test_a_file_changed_after_it_was_reported_complete_settles_again(lake: LocalLake, jobs: Recorder) -> None:
    path = drop(lake, "sales/a.csv", age=0)
    watcher = Watcher(lake, settle_seconds=3600)
    stat = path.stat()
    watcher.note_complete("sales/a.csv", stat.st_size, stat.st_mtime_ns)
    with path.open("ab") as handle:  # the writer opened it again
        handle.write(b"2\n")
    result = watcher.poll()
    assert (result.dispatches, result.settling) == ([], ["sales/a.csv"])
    assert jobs.jobs == []


def _wait(condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_file_system_events_route_complete_files_and_wait_for_one_being_written(
    lake: LocalLake, jobs: Recorder
) -> None:
    """A one-hour poll interval and settle time: only the notifications can route anything.
    The loop runs here (the history is bound to this thread); a writer thread drops files."""
    watcher = Watcher(lake, settle_seconds=3600)
    stop, wake = threading.Event(), threading.Event()
    polls: list[list[str]] = []
    failures: list[str] = []
    bronze = lake.bucket_dir(lake.bronze) / "sales"
    bronze.mkdir(parents=True, exist_ok=True)

    def writer() -> None:
        try:
            _wait(lambda: len(polls) >= 1, "the first poll")
            with (bronze / "slow.csv").open("wb") as slow:
                slow.write(b"a\n1\n")
                slow.flush()
                tmp = bronze / ".renamed.csv.tmp"
                tmp.write_bytes(b"a\n2\n")
                os.replace(tmp, bronze / "renamed.csv")  # what `lake upload` and `aws s3 cp` do
                _wait(lambda: ["sales/renamed.csv"] in polls, "the renamed file to be routed")
                if any("sales/slow.csv" in keys for keys in polls):
                    failures.append("a file still open for writing was routed")
                slow.write(b"3\n")
            _wait(lambda: ["sales/slow.csv"] in polls, "the file closed after writing to be routed")
        except AssertionError as error:
            failures.append(str(error))
        finally:
            stop.set()
            wake.set()

    events = BronzeEvents(watcher, wake)
    assert events.start(), events.error
    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        watch_loop(
            watcher,
            None,
            FixedClock(parse_iso("2024-01-01T00:00Z")),
            interval=3600,
            stop=stop,
            wake=wake,
            on_poll=lambda r: polls.append([d.key for d in r.dispatches]),
            on_tick=lambda _r: None,
        )
    finally:
        events.stop()
        thread.join(timeout=30)
    assert failures == []
    assert jobs.jobs == ["sales_etl", "sales_daily"] * 2
    assert [call[1]["--source_key"] for call in jobs.calls if call[0] == "sales_etl"] == [
        "sales/renamed.csv",
        "sales/slow.csv",
    ]


def test_uploaded_files_are_not_routed_again_by_the_watcher(lake: LocalLake, jobs: Recorder, tmp_path: Path) -> None:
    source = tmp_path / "a.csv"
    source.write_bytes(b"a\n1\n")
    lake.upload(source, "sales/a.csv")
    assert Watcher(lake, settle_seconds=0).poll().dispatches == []
    assert jobs.jobs == ["sales_etl", "sales_daily"]


def test_temporary_files_are_ignored(lake: LocalLake, jobs: Recorder) -> None:
    drop(lake, "sales/.upload-123.tmp")
    assert Watcher(lake, settle_seconds=0).poll().dispatches == []


def test_the_loop_stops_when_asked(lake: LocalLake, jobs: Recorder) -> None:
    drop(lake, "sales/a.csv")
    stop = threading.Event()
    polls: list[int] = []

    def on_poll(result) -> None:
        polls.append(len(result.dispatches))
        stop.set()  # what the SIGTERM handler does

    watch_loop(
        Watcher(lake, settle_seconds=0),
        Scheduler(lake),
        FixedClock(parse_iso("2024-01-01T00:00Z")),
        interval=0.01,
        stop=stop,
        on_poll=on_poll,
        on_tick=lambda _r: None,
    )
    assert polls == [1]


# ------------------------------------------------------------------------------------------
# scheduler


def fired(result) -> list[tuple[str, str]]:
    return [(fire.schedule, f"{fire.instant:%Y-%m-%dT%H:%M}") for fire, _runs in result.fired]


def test_the_daily_schedule_fires_at_02_00_utc(lake: LocalLake, jobs: Recorder) -> None:
    result = Scheduler(lake).tick(parse_iso("2024-01-01T02:00Z"), parse_iso("2024-01-01T01:59Z"))
    assert fired(result) == [("daily_customer_import", "2024-01-01T02:00")]
    assert jobs.jobs == ["customer_import"]
    assert jobs.calls[0][1]["--trigger_source"] == "schedule"


def test_nothing_fires_just_before_the_instant(lake: LocalLake, jobs: Recorder) -> None:
    result = Scheduler(lake).tick(parse_iso("2024-01-01T01:59:59Z"), parse_iso("2024-01-01T01:00Z"))
    assert (fired(result), jobs.calls) == ([], [])


def test_the_weekly_schedule_fires_on_monday_03_00(lake: LocalLake, jobs: Recorder) -> None:
    # 2024-01-01 is a Monday; 2024-01-02 03:00 (Tuesday) is not a fire time.
    scheduler = Scheduler(lake)
    assert fired(scheduler.tick(parse_iso("2024-01-02T03:00Z"), parse_iso("2024-01-02T02:59Z"))) == []
    assert fired(scheduler.tick(parse_iso("2024-01-08T03:00Z"), parse_iso("2024-01-08T02:59Z"))) == [
        ("weekly_inventory_sync", "2024-01-08T03:00")
    ]
    assert jobs.jobs == ["inventory_sync"]


def test_a_window_fires_every_instant_in_order(lake: LocalLake, jobs: Recorder) -> None:
    result = Scheduler(lake).tick(parse_iso("2024-01-03T00:00Z"), parse_iso("2024-01-01T00:00Z"))
    assert fired(result) == [
        ("daily_customer_import", "2024-01-01T02:00"),
        ("weekly_inventory_sync", "2024-01-01T03:00"),
        ("daily_customer_import", "2024-01-02T02:00"),
    ]


def test_a_restart_neither_double_fires_nor_skips(stack: StackConfig, tmp_path: Path, jobs: Recorder) -> None:
    home = tmp_path / "home"
    first = LocalLake(stack, home, job_fn=jobs)
    assert fired(Scheduler(first).tick(parse_iso("2024-01-01T02:00Z"), parse_iso("2024-01-01T01:00Z"))) == [
        ("daily_customer_import", "2024-01-01T02:00")
    ]
    first.close()
    restarted = LocalLake(stack, home, job_fn=jobs)
    scheduler = Scheduler(restarted)
    # the same window again (even with the old --since): nothing
    assert fired(scheduler.tick(parse_iso("2024-01-01T02:00Z"), parse_iso("2024-01-01T01:00Z"))) == []
    # without --since, from the recorded last fire: the next day's instant, not earlier ones
    assert fired(scheduler.tick(parse_iso("2024-01-02T02:30Z"))) == [("daily_customer_import", "2024-01-02T02:00")]
    restarted.close()


def test_the_first_tick_without_since_only_sets_the_watermark(lake: LocalLake, jobs: Recorder) -> None:
    scheduler = Scheduler(lake)
    result = scheduler.tick(parse_iso("2024-01-01T00:00Z"))
    assert (fired(result), sorted(result.initialized)) == (
        [],
        ["daily_customer_import", "weekly_inventory_sync", "weekly_table_maintenance"],
    )
    assert fired(scheduler.tick(parse_iso("2024-01-01T02:00Z"))) == [("daily_customer_import", "2024-01-01T02:00")]


def test_a_dry_run_fires_and_records_nothing(lake: LocalLake, jobs: Recorder) -> None:
    scheduler = Scheduler(lake)
    result = scheduler.tick(parse_iso("2024-01-01T02:00Z"), parse_iso("2024-01-01T01:59Z"), dry_run=True)
    assert ([f.schedule for f in result.due], result.fired, jobs.calls) == (["daily_customer_import"], [], [])
    assert lake.history.last_fire(lake.stack.stack, "daily_customer_import") is None


def test_catch_up_is_bounded_per_tick_and_resumes(lake: LocalLake, jobs: Recorder) -> None:
    scheduler = Scheduler(lake, max_catch_up=2)
    now = parse_iso("2024-01-06T00:00Z")
    first = scheduler.tick(now, parse_iso("2024-01-01T00:00Z"))
    daily = [f for f in fired(first) if f[0] == "daily_customer_import"]
    assert daily == [("daily_customer_import", "2024-01-01T02:00"), ("daily_customer_import", "2024-01-02T02:00")]
    assert "daily_customer_import" in first.more_due
    second = [f for f in fired(scheduler.tick(now)) if f[0] == "daily_customer_import"]
    assert second == [("daily_customer_import", "2024-01-03T02:00"), ("daily_customer_import", "2024-01-04T02:00")]


def test_the_clock_comes_from_lake_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKE_NOW", "2024-01-01T02:00Z")
    assert clock_from_env().now() == parse_iso("2024-01-01T02:00Z")
    monkeypatch.delenv("LAKE_NOW")
    assert abs(clock_from_env().now().timestamp() - time.time()) < 5
