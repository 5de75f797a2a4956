"""Stage lines: one per finished stage, on stderr's console, in a pipe as on a terminal."""

from __future__ import annotations

import io

from rich.console import Console

from data_platform.cli.stage_view import StageView
from etl.progress import StageClock


def clock_run(stages):
    now = [0.0]
    clock = StageClock("sales_etl", "jr_1", clock=lambda: now[0])
    for name, seconds, rows in stages:
        clock.start(name)
        now[0] += seconds
        if rows is not None:
            clock.rows(rows)
    clock.close()


def test_a_pipe_gets_one_plain_line_per_finished_stage():
    buffer = io.StringIO()
    view = StageView(Console(file=buffer, force_terminal=False, width=200))
    with view.showing("running"):
        clock_run([("extract", 0.5, 10_000), ("quality gate", 1.25, 9_950), ("write", 2.0, 9_950)])
    lines = buffer.getvalue().splitlines()
    assert [line.split()[1:3] for line in lines] == [["extract", "0.50"], ["quality", "gate"], ["write", "2.00"]]
    assert "9,950 rows" in lines[1] and "1.25 s" in lines[1]


def test_a_terminal_gets_a_tick_mark_per_stage():
    buffer = io.StringIO()
    view = StageView(Console(file=buffer, force_terminal=True, width=120))
    with view.showing("running"):
        clock_run([("extract", 0.5, 10)])
    assert "✓ sales_etl" in buffer.getvalue() and "0.50 s" in buffer.getvalue()


def test_no_events_are_heard_outside_showing():
    buffer = io.StringIO()
    StageView(Console(file=buffer, force_terminal=False))
    clock_run([("extract", 0.5, 10)])
    assert buffer.getvalue() == ""
