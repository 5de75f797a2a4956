"""`lake watch` as people see it: on a terminal a live table of the runs, redrawn as they
progress; in a pipe the plain lines it has always printed. Each test runs the real `lake`
in a subprocess on a scratch lake home and drops a file into bronze, as a user would.

Runs that must fail quickly (no Spark) go through `tests.support.faulty_lake`
(`LAKE_FAULT=transient:sales_etl:9` fails every attempt before the job is called); the run
that shows its stages and rows is a real one on local Spark.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.faults import lake_command
from support.terminal import Terminal

from data_platform.cli.demo import sample_files
from data_platform.contract.runs import ACTIVE_RUN_STATES
from data_platform.local.history import History

pytestmark = pytest.mark.cli

LAKE = Path(sys.executable).with_name("lake")
BRONZE = "data-lake-dev-bronze"
WATCH = ["watch", "--no-warm", "--interval", "0.2"]
HIDE_CURSOR, SHOW_CURSOR = "\x1b[?25l", "\x1b[?25h"
TIME = r"(?:\d+\.\d s|\d+m \d\ds|\d+h \d\dm)"  # the time column: 2.1 s, 1m 05s, 1h 02m


def command(home: Path, *args: str, fault: str = "") -> tuple[list[str], dict[str, str]]:
    clean = {k: v for k, v in os.environ.items() if k not in ("LAKE_FAULT", "LAKE_NOW", "LAKE_HOME", "COLUMNS")}
    base, env = lake_command({**clean, "LAKE_RETRY_SCALE": "0", "LAKE_FAULT": fault}, LAKE)
    return [*base, "--home", str(home), *args], env


def drop(home: Path, key: str, body: bytes) -> None:
    """Into bronze the way copy tools do it: written aside, renamed into place."""
    target = home / BRONZE / key
    target.parent.mkdir(parents=True, exist_ok=True)
    aside = target.with_name(f".{target.name}.tmp")
    aside.write_bytes(body)
    os.replace(aside, target)


def assert_terminal_restored(raw: str) -> None:
    assert HIDE_CURSOR in raw, "the live table never started"
    assert raw.rfind(SHOW_CURSOR) > raw.rfind(HIDE_CURSOR), "the cursor was left hidden"


def test_on_a_terminal_a_run_appears_in_the_live_table_and_ctrl_c_stops_cleanly(tmp_path: Path) -> None:
    home = tmp_path / "home"
    argv, env = command(home, *WATCH, fault="transient:sales_etl:9")
    terminal = Terminal(argv, env, tmp_path)
    try:
        terminal.wait_for(r"Watching .*\(Ctrl-C to stop\)", timeout=120)
        terminal.wait_for(r"Runs: in flight and the 10 most recent", timeout=60)
        drop(home, "sales/2024-06-01.csv", b"order_id\n1\n")
        # The run's row: job, key, state with its attempt, time; the routing line above it.
        terminal.wait_for(rf"sales_etl\s+sales/2024-06-01\.csv\s+FAILED \(try 2\)\s+{TIME}", timeout=120)
        terminal.wait_for(rf"s3://{BRONZE}/sales/2024-06-01\.csv -> sales_etl \(rule sales_file_trigger\)", 10)
        terminal.wait_for(r"error: LAKE_FAULT: injected transient failure", timeout=10)
        code = terminal.stop(signal.SIGINT)
    finally:
        terminal.kill()
    assert code == 0, terminal.screen[-4000:]
    assert "Stopped." in terminal.screen and "Traceback" not in terminal.screen
    assert_terminal_restored(terminal.raw)


@pytest.mark.spark
def test_on_a_terminal_a_real_run_shows_its_stage_then_succeeds_with_its_rows(tmp_path: Path) -> None:
    sample = next(s for s in sample_files() if s.key.startswith("sales/") and not s.expect_failure)
    home = tmp_path / "home"
    argv, env = command(home, *WATCH, "--no-schedules")
    terminal = Terminal(argv, env, tmp_path)
    key = re.escape(sample.key)
    try:
        terminal.wait_for(r"Runs: in flight and the 10 most recent", timeout=120)
        drop(home, sample.key, sample.body)
        running = terminal.wait_for(
            rf"sales_etl\s+{key}\s+RUNNING\s+(extract|raw checks|quality gate|write)\s", timeout=600
        )
        done = terminal.wait_for(rf"sales_etl\s+{key}\s+SUCCEEDED\s+([\d,]+)\s+{TIME}", timeout=600)
        # The gold job the after-job rule starts gets its own row.
        terminal.wait_for(rf"sales_daily\s+after sales_etl\s+SUCCEEDED\s+[\d,]+\s+{TIME}", timeout=600)
        code = terminal.stop(signal.SIGTERM)
    finally:
        terminal.kill()
    assert running.start() < done.start()  # running first, then done
    assert code == 0, terminal.screen[-4000:]
    assert "Stopped." in terminal.screen and "Traceback" not in terminal.screen
    assert_terminal_restored(terminal.raw)
    with History.for_home(home) as history:
        [run] = history.runs(job="sales_etl")
    assert run.rows_written and done.group(1) == f"{run.rows_written:,}"  # the rows the run wrote


def test_in_a_pipe_watch_prints_plain_lines(tmp_path: Path) -> None:
    home = tmp_path / "home"
    argv, env = command(home, *WATCH, "--no-schedules", fault="transient:sales_etl:9")
    watcher = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 120
        while not (home / "_lake" / "history.sqlite3").exists():
            assert time.monotonic() < deadline, "lake watch did not open its lake home"
            time.sleep(0.1)
        drop(home, "sales/2024-06-01.csv", b"order_id\n1\n")
        while not _finished_runs(home):
            assert time.monotonic() < deadline, "the dropped file was not routed"
            time.sleep(0.2)
        time.sleep(0.5)  # its report
        watcher.send_signal(signal.SIGTERM)
        out, err = watcher.communicate(timeout=60)
    finally:
        watcher.kill()
    assert watcher.returncode == 0, err
    assert "\x1b[" not in out + err  # no colours, no cursor moves: nothing redrawn
    assert "in flight and the" not in out
    lines = out.splitlines()
    assert f"s3://{BRONZE}/sales/2024-06-01.csv" in lines
    assert "  matched rule sales_file_trigger -> job sales_etl" in lines
    assert any(
        re.match(r"\s*local-\S+\s+sales_etl\s+s3_event:sales_file_trigger\s+FAILED\s+2\b", line) for line in lines
    )
    assert "Stopped." in err


def _finished_runs(home: Path) -> list[str]:
    with History.for_home(home) as history:
        return [run.run_id for run in history.runs() if run.state not in ACTIVE_RUN_STATES]
