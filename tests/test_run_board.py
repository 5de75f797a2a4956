"""`lake watch`'s live table: which runs it shows, in what order and state (`RunBoard`), and how
the table draws them (`watch_view`), fed by the runner's and the job's events."""

from __future__ import annotations

import dataclasses
import io
import re
from typing import Any

import pytest
from rich.console import Console

from data_platform.cli.run_board import RunBoard, trigger_label
from data_platform.cli.watch_view import LiveRuns, duration, runs_table
from data_platform.contract.runs import RunState
from data_platform.local import run_events
from data_platform.local.records import RunRecord
from etl.progress import FINISHED, STARTED, StageClock, StageEvent

ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")


def record(run_id: str, state: str = "WAITING", **values: Any) -> RunRecord:
    base: dict[str, Any] = {name.name: None for name in dataclasses.fields(RunRecord)}
    base.update(
        run_id=run_id,
        job="sales_etl",
        glue_job="data-lake-dev-sales_etl",
        env="dev",
        trigger_source="s3_event",
        trigger_name="sales_file_trigger",
        source_bucket="data-lake-dev-bronze",
        source_key=f"sales/{run_id}.csv",
        upstream_job="",
        upstream_run_id="",
        event_id="",
        state=RunState(state),
        started_at="2024-01-01T00:00:00Z",
        attempts=0,
    )
    base.update(values)
    return RunRecord(**base)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def finish(board: RunBoard, run_id: str, state: str = "SUCCEEDED", **values: Any) -> None:
    board.run_changed(record(run_id))
    board.run_changed(record(run_id, "RUNNING", attempts=1))
    board.run_changed(record(run_id, state, attempts=1, **values))


def stage(board: RunBoard, run_id: str, name: str, state: str = STARTED, rows: int | None = None) -> None:
    board.stage_changed(StageEvent("sales_etl", run_id, name, state, 0.1 if state == FINISHED else None, rows))


# ------------------------------------------------------------------------------------------
# the board


def test_in_flight_runs_and_the_most_recent_finished_ones_in_start_order() -> None:
    board = RunBoard(recent=2, clock=Clock())
    board.run_changed(record("a"))
    board.run_changed(record("a", "RUNNING", attempts=1))  # started first, still running
    for run_id in ("b", "c", "d"):
        finish(board, run_id)
    board.run_changed(record("e"))  # waiting for a slot
    assert [(row.run_id, row.state.value) for row in board.rows()] == [
        ("a", "RUNNING"),
        ("c", "SUCCEEDED"),
        ("d", "SUCCEEDED"),
        ("e", "WAITING"),
    ]
    finish(board, "a")  # the oldest finished one (c) leaves; a keeps its place at the top
    assert [row.run_id for row in board.rows()] == ["a", "d", "e"]


def test_no_finished_runs_are_kept_with_recent_zero() -> None:
    board = RunBoard(recent=0, clock=Clock())
    finish(board, "a")
    board.run_changed(record("b", "RUNNING", attempts=1))
    assert [row.run_id for row in board.rows()] == ["b"]


def test_a_run_goes_from_waiting_through_its_stages_to_succeeded() -> None:
    clock = Clock()
    board = RunBoard(clock=clock)
    board.run_changed(record("r"))
    [row] = board.rows()
    assert (row.state, row.stage, row.rows, row.in_flight) == (RunState.WAITING, None, None, True)

    clock.now += 1
    board.run_changed(record("r", "RUNNING", attempts=1))
    stage(board, "r", "extract")
    [row] = board.rows()
    assert (row.state, row.stage, row.rows, row.seconds) == (RunState.RUNNING, "extract", None, 1.0)

    stage(board, "r", "extract", FINISHED, rows=10_000)
    stage(board, "r", "quality gate")
    clock.now += 2
    [row] = board.rows()
    assert (row.stage, row.rows, row.seconds) == ("quality gate", 10_000, 3.0)  # the time ticks

    board.run_changed(record("r", "SUCCEEDED", attempts=1, rows_read=10_000, rows_written=9_950))
    clock.now += 60
    [row] = board.rows()
    # Ended: no current stage, the rows written, the duration frozen.
    assert (row.state, row.stage, row.rows, row.seconds, row.in_flight) == (RunState.SUCCEEDED, None, 9_950, 3.0, False)


def test_a_failed_run_shows_the_stage_it_failed_in_and_no_rows_written() -> None:
    board = RunBoard(clock=Clock())
    board.run_changed(record("r", "RUNNING", attempts=1))
    stage(board, "r", "raw checks", FINISHED, rows=40)
    stage(board, "r", "quality gate")
    board.run_changed(record("r", "FAILED", attempts=1, rows_read=40))
    [row] = board.rows()
    assert (row.state, row.stage, row.rows) == (RunState.FAILED, "quality gate", None)


def test_a_retried_attempt_starts_over_from_its_first_stage() -> None:
    board = RunBoard(clock=Clock())
    board.run_changed(record("r", "RUNNING", attempts=1))
    stage(board, "r", "extract", FINISHED, rows=5)
    stage(board, "r", "transform")
    board.run_changed(record("r", "RUNNING", attempts=2))
    [row] = board.rows()
    assert (row.attempt, row.stage, row.rows) == (2, None, None)


def test_stage_events_of_runs_the_board_does_not_follow_are_ignored() -> None:
    board = RunBoard(clock=Clock())
    stage(board, "elsewhere", "extract")
    finish(board, "r")
    stage(board, "r", "write")  # late, after the end
    assert [(row.run_id, row.stage) for row in board.rows()] == [("r", None)]


@pytest.mark.parametrize(
    ("values", "label"),
    [
        ({}, "sales/r.csv"),
        ({"trigger_source": "schedule", "trigger_name": "daily_import", "source_key": ""}, "schedule daily_import"),
        (
            {"trigger_source": "job_succeeded", "upstream_job": "data-lake-dev-sales_etl", "source_key": ""},
            "after sales_etl",
        ),
        ({"trigger_source": "manual", "source_key": ""}, "manual"),
        ({"trigger_source": "manual", "source_key": "sales/x.csv"}, "manual sales/x.csv"),
    ],
)
def test_the_trigger_names_what_started_the_run(values: dict[str, str], label: str) -> None:
    assert trigger_label(record("r", **values)) == label


# ------------------------------------------------------------------------------------------
# the table


def rendered(width: int, board: RunBoard, recent: int = 10) -> list[str]:
    console = Console(file=io.StringIO(), width=width, force_terminal=False)
    console.print(runs_table(board.rows(), recent, width=width))
    return console.file.getvalue().splitlines()  # type: ignore[attr-defined]


LONG_KEY = "sales/2024/06/01/orders-from-the-flagship-store-in-the-city-centre.csv"
LONG_JOB = "customer_import_with_a_long_name"


@pytest.mark.parametrize("width", [72, 80, 100, 160])
def test_names_never_break_mid_word_and_numbers_stay_whole(width: int) -> None:
    board = RunBoard(clock=Clock())
    finish(board, "r", source_key=LONG_KEY, job=LONG_JOB, rows_written=1_234_567)
    board.run_changed(record("s", "RUNNING", attempts=2))
    stage(board, "s", "quality gate")
    lines = rendered(width, board)
    assert all(len(line) <= width for line in lines)
    [done] = [line for line in lines if "SUCCEEDED" in line]
    [running] = [line for line in lines if "RUNNING" in line]
    assert re.search(r"SUCCEEDED\s+1,234,567\s+0\.0 s$", done.rstrip()), done
    assert re.search(r"RUNNING \(try 2\)\s+quality gate\s+0\.0 s$", running.rstrip()), running
    # A name too long for its column is cut on its own line with an ellipsis, never folded
    # onto the next line; with room enough it is whole.
    job, key = done.split()[:2]
    for name, shown in ((LONG_JOB, job), (LONG_KEY, key)):
        assert shown == name or (shown.endswith("…") and name.startswith(shown[:-1])), (name, shown)
    assert (key == LONG_KEY) == (width >= 160)
    assert not any("centre.csv" in line or "long_name" in line for line in lines if line is not done)


def test_an_empty_table_says_where_runs_come_from() -> None:
    assert any("no runs yet" in line for line in rendered(100, RunBoard()))


def test_a_retried_run_shows_its_attempt() -> None:
    board = RunBoard(clock=Clock())
    board.run_changed(record("r", "RUNNING", attempts=2))
    assert any("RUNNING (try 2)" in line for line in rendered(100, board))


@pytest.mark.parametrize(("seconds", "text"), [(0.04, "0.0 s"), (12.34, "12.3 s"), (65, "1m 05s"), (3725, "1h 02m")])
def test_durations(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_the_live_view_follows_run_and_stage_events_and_restores_the_cursor() -> None:
    """The view subscribes while it shows: the runner's events and the job's stage clock
    (the same code paths a real run takes) redraw it; the cursor is shown again at the end."""
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120, color_system=None)
    view = LiveRuns(console, RunBoard(recent=5))
    with view.showing(capture_stderr=False):
        run_events.publish(record("jr_1"))
        run_events.publish(record("jr_1", "RUNNING", attempts=1))
        clock = StageClock("sales_etl", "jr_1")
        clock.start("extract")
        screen_running = ANSI.sub("", buffer.getvalue())
        clock.rows(10)
        clock.close()
        run_events.publish(record("jr_1", "SUCCEEDED", attempts=1, rows_written=10))
        view.print(["[bold]s3://data-lake-dev-bronze/sales/jr_1.csv[/] -> sales_etl"])
    run_events.publish(record("jr_2"))  # no longer subscribed
    screen = ANSI.sub("", buffer.getvalue())
    assert re.search(r"sales_etl\s+sales/jr_1\.csv\s+RUNNING\s+extract\s+\d+\.\d s", screen_running), screen_running
    assert re.search(r"sales_etl\s+sales/jr_1\.csv\s+SUCCEEDED\s+10\s+\d+\.\d s", screen), screen
    assert "s3://data-lake-dev-bronze/sales/jr_1.csv -> sales_etl" in screen
    assert "jr_2" not in screen
    assert buffer.getvalue().rstrip().endswith("\x1b[?25h")  # the cursor, hidden while live, is back
