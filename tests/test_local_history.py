"""The SQLite run history: runs, slots across processes, schedule fires, seen objects, alerts."""

from __future__ import annotations

import multiprocessing
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from data_platform.local.history import History, Owner, parse_iso
from data_platform.local.records import JobOutcome

RUN_INPUT = {
    "trigger_source": "s3_event",
    "source_bucket": "b",
    "source_key": "sales/a.csv",
    "upstream_job": "",
    "upstream_run_id": "",
    "event_id": "e-1",
    "event_time": "",
}


def dead_owner() -> Owner:
    """An owner whose process has exited (a `kill -9`ed lake process, as far as we can tell)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return Owner(child.pid, socket.gethostname(), "")


@pytest.fixture
def history(tmp_path: Path) -> History:
    with History.for_home(tmp_path) as db:
        yield db


def test_a_run_is_recorded_at_start_and_at_end(history: History) -> None:
    history.create_run(
        run_id="r1",
        job="sales_etl",
        glue_job="g-sales_etl",
        env="dev",
        run_input=RUN_INPUT,
        trigger_name="sales_file_trigger",
    )
    assert history.get_run("r1").state == "WAITING"
    history.mark_attempt("r1", 1)
    assert history.get_run("r1").state == "RUNNING"
    summary = {
        "state": "SUCCEEDED",
        "rows_read": 3,
        "rows_written": 2,
        "rows_quarantined": 1,
        "quarantine_path": "/q",
        "outputs": ["data_lake_dev.sales@42"],
        "rules_failed": {"quantity_positive": 1},
        "warnings": {},
    }
    run = history.finish_run("r1", JobOutcome.from_summary(summary), attempts=1)
    assert {
        k: getattr(run, k)
        for k in (
            "state",
            "rows_read",
            "rows_written",
            "rows_quarantined",
            "quarantine_path",
            "outputs",
            "rules_failed",
            "attempts",
            "source_key",
            "trigger_name",
        )
    } == {
        "state": "SUCCEEDED",
        "rows_read": 3,
        "rows_written": 2,
        "rows_quarantined": 1,
        "quarantine_path": "/q",
        "outputs": ["data_lake_dev.sales@42"],
        "rules_failed": {"quantity_positive": 1},
        "attempts": 1,
        "source_key": "sales/a.csv",
        "trigger_name": "sales_file_trigger",
    }
    assert run.ended_at is not None


def test_runs_are_listed_newest_first_with_limit_and_job_filter(history: History) -> None:
    for i, job in enumerate(["a", "b", "a"]):
        history.create_run(
            run_id=f"r{i}",
            job=job,
            glue_job=job,
            env="dev",
            run_input=RUN_INPUT,
            started_at=datetime(2024, 1, 1, 0, i, tzinfo=UTC),
        )
    assert [r.run_id for r in history.runs()] == ["r2", "r1", "r0"]
    assert [r.run_id for r in history.runs(limit=1)] == ["r2"]
    assert [r.run_id for r in history.runs(job="a")] == ["r2", "r0"]


def test_slots_honour_the_limit_and_are_freed_on_release(history: History) -> None:
    assert history.try_acquire_slot("job", 2, "r1")
    assert history.try_acquire_slot("job", 2, "r2")
    assert not history.try_acquire_slot("job", 2, "r3")
    assert history.try_acquire_slot("other-job", 1, "r4")  # limits are per Glue job
    history.release_slot("r1")
    assert history.try_acquire_slot("job", 2, "r3")


def test_a_dead_process_slot_is_reclaimed(tmp_path: Path) -> None:
    with History.for_home(tmp_path, owner=dead_owner()) as crashed:
        assert crashed.try_acquire_slot("job", 1, "r-crashed")
    with History.for_home(tmp_path) as alive:
        assert alive.slots_held("job") == 1
        assert alive.try_acquire_slot("job", 1, "r-new")
        assert alive.slots_held("job") == 1


def test_a_live_process_slot_is_not_reclaimed(tmp_path: Path) -> None:
    with History.for_home(tmp_path, owner=Owner(os.getppid(), socket.gethostname(), "")) as other:
        assert other.try_acquire_slot("job", 1, "r-other")
    with History.for_home(tmp_path) as me:
        assert not me.try_acquire_slot("job", 1, "r-me")


def test_a_recycled_pid_does_not_keep_a_slot(tmp_path: Path) -> None:
    # Same pid as a live process, but a different start time: the owner died, the pid was reused.
    with History.for_home(tmp_path, owner=Owner(os.getpid(), socket.gethostname(), "1")) as stale:
        assert stale.try_acquire_slot("job", 1, "r-stale")
    with History.for_home(tmp_path) as me:
        assert me.try_acquire_slot("job", 1, "r-me")


def test_runs_of_dead_processes_are_reaped_as_failed(tmp_path: Path) -> None:
    with History.for_home(tmp_path, owner=dead_owner()) as crashed:
        crashed.create_run(run_id="r1", job="j", glue_job="g", env="dev", run_input=RUN_INPUT)
        crashed.try_acquire_slot("g", 1, "r1")
    with History.for_home(tmp_path) as history:
        reaped = history.reap_dead_runs()
        assert [r.run_id for r in reaped] == ["r1"]
        run = history.get_run("r1")
        assert run.state == "FAILED" and "died" in run.error
        assert history.slots_held("g") == 0
        assert history.reap_dead_runs() == []


def test_a_fire_is_claimed_once(history: History) -> None:
    at = parse_iso("2024-01-01T02:00Z")
    assert history.claim_fire("dev", "daily", at)
    assert not history.claim_fire("dev", "daily", at)
    assert not history.claim_fire("dev", "daily", parse_iso("2024-01-01T01:00Z"))
    assert history.last_fire("dev", "daily") == at
    assert history.last_fire("prod", "daily") is None


def test_objects_are_claimed_when_new_or_changed(history: History) -> None:
    assert history.claim_object("b", "k", 10, 1)
    assert not history.claim_object("b", "k", 10, 1)
    assert history.claim_object("b", "k", 11, 1)
    assert history.claim_object("b", "k", 11, 2)
    assert history.seen_objects("b") == {"k": (11, 2)}


def test_alerts_are_kept_newest_first(history: History) -> None:
    history.add_alert(topic="t", subject="s1", message="m1", job="j", run_id="r1", state="FAILED")
    history.add_alert(topic="t", subject="s2", message="m2")
    assert [a.subject for a in history.alerts()] == ["s2", "s1"]


def test_iso_times_parse_with_and_without_zone() -> None:
    assert parse_iso("2024-01-01T02:00Z") == datetime(2024, 1, 1, 2, tzinfo=UTC)
    assert parse_iso("2024-01-01T03:00+01:00") == datetime(2024, 1, 1, 2, tzinfo=UTC)
    assert parse_iso("2024-01-01") == datetime(2024, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="ISO-8601"):
        parse_iso("yesterday")


# ------------------------------------------------------------------------------------------
# Across processes: the limit holds when separate processes compete for slots.


def _worker(db_path: str, log_path: str, run_id: str, go: Any) -> None:
    history = History(db_path)
    go.wait(60)  # all workers compete at the same moment
    while not history.try_acquire_slot("job", 2, run_id):
        time.sleep(0.005)
    start = time.monotonic()
    time.sleep(0.3)
    end = time.monotonic()
    history.release_slot(run_id)
    with open(log_path, "a") as log:
        log.write(f"{start} {end}\n")
    history.close()


def test_the_concurrency_limit_holds_across_processes(tmp_path: Path) -> None:
    db, log = tmp_path / "h.sqlite3", tmp_path / "intervals.txt"
    History(db).close()
    ctx = multiprocessing.get_context("spawn")
    go = ctx.Event()
    workers = [ctx.Process(target=_worker, args=(str(db), str(log), f"r{i}", go)) for i in range(6)]
    for worker in workers:
        worker.start()
    time.sleep(1.0)  # let every worker open the history
    go.set()
    for worker in workers:
        worker.join(60)
    assert [w.exitcode for w in workers] == [0] * 6
    intervals = [tuple(map(float, line.split())) for line in log.read_text().splitlines()]
    assert len(intervals) == 6
    most_at_once = max(sum(1 for s, e in intervals if s <= t < e) for t, _ in intervals)
    assert most_at_once == 2  # never 3+, and the limit was actually reached


def test_processes_opening_a_fresh_home_at_once_all_get_the_history(tmp_path):
    """The first open switches the database to WAL, which SQLite does without waiting on the
    busy timeout; without a retry about one round in eight had a process fail "locked"."""
    import subprocess
    import sys

    code = "import sys; from data_platform.local.history import History; History.for_home(sys.argv[1]).close()"
    for round_ in range(20):
        home = tmp_path / f"home{round_}"
        procs = [
            subprocess.Popen([sys.executable, "-c", code, str(home)], stderr=subprocess.PIPE, text=True)
            for _ in range(4)
        ]
        failures = [err for p in procs if (err := p.communicate()[1]) and p.returncode]
        assert failures == [], f"round {round_}: {failures[0][-300:]}"


def test_a_history_from_before_iceberg_gains_the_outputs_column(tmp_path):
    """Old homes recorded output files (`output_paths`); opening them adds `outputs`, keeps the old rows."""
    import sqlite3

    path = tmp_path / "_lake" / "history.sqlite3"
    path.parent.mkdir()
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE runs (run_id TEXT PRIMARY KEY, job TEXT NOT NULL, glue_job TEXT NOT NULL, env TEXT NOT NULL,"
        " trigger_source TEXT NOT NULL, trigger_name TEXT NOT NULL DEFAULT '', source_bucket TEXT NOT NULL DEFAULT '',"
        " source_key TEXT NOT NULL DEFAULT '', upstream_job TEXT NOT NULL DEFAULT '', upstream_run_id TEXT NOT NULL"
        " DEFAULT '', event_id TEXT NOT NULL DEFAULT '', state TEXT NOT NULL, started_at TEXT NOT NULL, ended_at TEXT,"
        " rows_read INTEGER, rows_written INTEGER, rows_quarantined INTEGER, quarantine_path TEXT, output_paths TEXT"
        " NOT NULL DEFAULT '[]', rules_failed TEXT NOT NULL DEFAULT '{}', warnings TEXT NOT NULL DEFAULT '{}',"
        " error TEXT, error_kind TEXT, attempts INTEGER NOT NULL DEFAULT 0, pid INTEGER NOT NULL, host TEXT NOT NULL,"
        " proc_start TEXT NOT NULL DEFAULT '');"
        "INSERT INTO runs (run_id, job, glue_job, env, trigger_source, state, started_at, pid, host, output_paths)"
        " VALUES ('r-old', 'sales_etl', 'data-lake-dev-sales_etl', 'dev', 'manual', 'SUCCEEDED', '2024-01-01T00:00:00Z',"
        " 1, 'h', '[\"/old/part-00000.parquet\"]');"
    )
    old.commit()
    old.close()
    with History.for_home(tmp_path) as history:
        [run] = history.runs()
    assert (run.run_id, run.state, run.outputs) == ("r-old", "SUCCEEDED", [])
