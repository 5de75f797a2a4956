"""Stage events: timed by the job, delivered to this process's listeners, kept for the summary."""

from __future__ import annotations

import logging

from etl.progress import FINISHED, STARTED, StageClock, subscribe


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_each_stage_ends_when_the_next_begins_and_the_last_with_the_run(caplog):
    clock, seen = FakeClock(), []
    stages = StageClock("sales_etl", "jr_1", clock=clock)
    with caplog.at_level(logging.INFO, logger="etl"), subscribe(seen.append):
        stages.start("extract")
        clock.now += 1.5
        stages.rows(1000)
        stages.start("quality gate")
        clock.now += 0.25
        kept = stages.close()
    assert kept == [
        {"name": "extract", "seconds": 1.5, "rows": 1000},
        {"name": "quality gate", "seconds": 0.25, "rows": None},
    ]
    assert [(e.stage, e.state, e.seconds, e.rows) for e in seen] == [
        ("extract", STARTED, None, None),
        ("extract", FINISHED, 1.5, 1000),
        ("quality gate", STARTED, None, None),
        ("quality gate", FINISHED, 0.25, None),
    ]
    assert "stage job=sales_etl run_id=jr_1 name=quality gate" in caplog.text


def test_a_failing_listener_never_fails_the_run_and_others_still_hear():
    seen = []

    def broken(_event):
        raise RuntimeError("display gone")

    with subscribe(broken), subscribe(seen.append):
        StageClock("j", "r").start("extract")
    assert [e.stage for e in seen] == ["extract"]


def test_listeners_hear_nothing_after_they_leave():
    seen = []
    with subscribe(seen.append):
        pass
    StageClock("j", "r").start("extract")
    assert seen == []
