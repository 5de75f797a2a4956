"""py4j's callback server, started by threads at once (etl.jvm.start_callback_server)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _race(*args: str) -> dict[str, str]:
    # A process of its own: the suite's session started its callback server long ago.
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.callback_race", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_threads_starting_the_callback_server_at_once_all_get_their_calls_back():
    assert _race() == {"first": "ok", "second": "ok"}


def test_pysparks_own_start_refuses_a_thread_that_comes_while_another_starts_the_server():
    """What the lock is for: without it, the thread that comes second finds the server
    started before the JVM knows its port, and the JVM's call to Python is refused. (If a
    PySpark upgrade makes this pass, its start is safe and the lock may go.)"""
    outcomes = _race("--pyspark")
    assert outcomes["first"] == "ok"
    assert "Connection refused" in outcomes["second"], outcomes
