"""The local runner: the Step Functions runner's retry, Glue's MaxRetries; faults injected
through the runner's own seams (tests/support/faults.py)."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from support.faults import FaultPlan, FaultSpecError, FaultyRunner

from data_platform.contract.runner_errors import RUNNER_RETRY
from data_platform.local import run_events
from data_platform.local.history import History, Owner
from data_platform.local.records import RunRecord
from data_platform.local.runner import LocalRunner, RunRequest, retry_scale_from_env

RUN_INPUT = {
    "trigger_source": "manual",
    "source_bucket": "",
    "source_key": "",
    "upstream_job": "",
    "upstream_run_id": "",
    "event_id": "",
    "event_time": "",
}


def request(run_id: str = "r1", *, max_retries: int = 1, max_concurrent_runs: int = 1) -> RunRequest:
    return RunRequest(
        job="sales_etl",
        glue_job="data-lake-dev-sales_etl",
        env="dev",
        run_id=run_id,
        arguments={"--JOB_RUN_ID": run_id},
        run_input=RUN_INPUT,
        max_concurrent_runs=max_concurrent_runs,
        max_retries=max_retries,
    )


class ScriptedJob:
    """Returns the scripted summaries in order (the last one repeats) and records each call."""

    def __init__(self, *summaries: Mapping[str, Any]) -> None:
        self.summaries = list(summaries) or [{"state": "SUCCEEDED", "rows_read": 1, "rows_written": 1}]
        self.calls: list[tuple[str, dict[str, str]]] = []

    def __call__(self, job: str, arguments: Mapping[str, str]) -> Mapping[str, Any]:
        self.calls.append((job, dict(arguments)))
        return self.summaries[min(len(self.calls), len(self.summaries)) - 1]


FAILED_INTERNAL = {"state": "FAILED", "error": "executor lost", "error_kind": "internal"}
FAILED_QUALITY = {
    "state": "FAILED",
    "error": "rule quantity_positive failed for 40% of rows",
    "error_kind": "data_quality",
}
SUCCEEDED = {"state": "SUCCEEDED", "rows_read": 5, "rows_written": 5, "rows_quarantined": 0}


@pytest.fixture
def history(tmp_path: Path) -> History:
    with History.for_home(tmp_path) as db:
        yield db


def make_runner(history: History, job: ScriptedJob, faults: str = "", scale: float = 0.0) -> tuple[LocalRunner, list]:
    sleeps: list[float] = []
    runner = FaultyRunner(history, job, retry_scale=scale, faults=FaultPlan.parse(faults), sleep=sleeps.append)
    return runner, sleeps


def test_a_successful_run_is_recorded_with_one_attempt(history: History) -> None:
    job = ScriptedJob(SUCCEEDED)
    runner, _ = make_runner(history, job)
    run = runner.run(request())
    assert (run.state, run.attempts, run.rows_written) == ("SUCCEEDED", 1, 5)
    assert job.calls == [("sales_etl", {"--JOB_RUN_ID": "r1"})]
    assert history.slots_held("data-lake-dev-sales_etl") == 0


def test_a_transient_failure_is_retried_up_to_max_retries(history: History) -> None:
    job = ScriptedJob(FAILED_INTERNAL, SUCCEEDED)
    runner, _ = make_runner(history, job)
    run = runner.run(request(max_retries=1))
    assert (run.state, run.attempts, len(job.calls)) == ("SUCCEEDED", 2, 2)


def test_a_transient_failure_beyond_max_retries_fails_the_run(history: History) -> None:
    job = ScriptedJob(FAILED_INTERNAL)
    runner, _ = make_runner(history, job)
    run = runner.run(request(max_retries=2))
    assert (run.state, run.attempts, run.error, len(job.calls)) == ("FAILED", 3, "executor lost", 3)


def test_a_data_quality_failure_is_not_retried(history: History) -> None:
    job = ScriptedJob(FAILED_QUALITY, SUCCEEDED)
    runner, _ = make_runner(history, job)
    run = runner.run(request(max_retries=3))
    assert (run.state, run.attempts, run.error_kind, len(job.calls)) == ("FAILED", 1, "data_quality", 1)


def test_a_crashing_job_function_is_an_internal_failure(history: History) -> None:
    def crash(job: str, arguments: Mapping[str, str]) -> Mapping[str, Any]:
        raise RuntimeError("py4j gateway gone")

    runner = LocalRunner(history, crash, sleep=lambda _s: None)
    run = runner.run(request(max_retries=0))
    assert (run.state, run.error_kind) == ("FAILED", "internal")
    assert "RuntimeError: py4j gateway gone" in run.error


def test_injected_transient_faults_consume_attempts(history: History) -> None:
    job = ScriptedJob(SUCCEEDED)
    runner, _ = make_runner(history, job, faults="transient:sales_etl:1")
    run = runner.run(request(max_retries=1))
    assert (run.state, run.attempts, len(job.calls)) == ("SUCCEEDED", 2, 1)
    again = runner.run(request("r2", max_retries=1))  # counts are per process, across runs
    assert (again.state, again.attempts) == ("SUCCEEDED", 1)


def test_injected_faults_beyond_max_retries_fail_without_calling_the_job(history: History) -> None:
    job = ScriptedJob(SUCCEEDED)
    runner, _ = make_runner(history, job, faults="transient:sales_etl:5")
    run = runner.run(request(max_retries=1))
    assert (run.state, run.attempts, run.error_kind, job.calls) == ("FAILED", 2, "internal", [])
    assert "LAKE_FAULT" in run.error


def test_a_full_job_is_retried_with_the_runner_policy_then_fails(history: History) -> None:
    # Another live process holds the only slot for the whole retry policy.
    with History(history.path, owner=Owner(os.getppid(), socket.gethostname(), "")) as other:
        assert other.try_acquire_slot("data-lake-dev-sales_etl", 1, "someone-else")
    job = ScriptedJob(SUCCEEDED)
    runner, sleeps = make_runner(history, job, scale=0.5)
    run = runner.run(request())
    limits = [delay * 0.5 for delay in RUNNER_RETRY.delays()]
    assert len(sleeps) == len(limits) and all(0 <= s <= limit for s, limit in zip(sleeps, limits, strict=True))
    assert len(set(sleeps)) > len(sleeps) // 2, "FULL jitter: the waits are drawn, not fixed"
    assert (run.state, run.attempts, job.calls) == ("FAILED", 0, [])
    assert run.error.startswith("Glue.ConcurrentRunsExceededException")


def test_a_slot_freed_during_the_retries_lets_the_run_start(history: History) -> None:
    job = ScriptedJob(SUCCEEDED)
    runner, sleeps = make_runner(history, job, faults="concurrency:sales_etl:2", scale=0.01)
    run = runner.run(request())
    limits = [delay * 0.01 for delay in RUNNER_RETRY.delays()[:2]]
    assert len(sleeps) == 2 and all(0 <= s <= limit for s, limit in zip(sleeps, limits, strict=True))
    assert (run.state, run.attempts) == ("SUCCEEDED", 1)


def test_the_slot_is_released_when_the_run_is_interrupted(history: History) -> None:
    def interrupted(job: str, arguments: Mapping[str, str]) -> Mapping[str, Any]:
        raise KeyboardInterrupt

    runner = LocalRunner(history, interrupted, sleep=lambda _s: None)
    with pytest.raises(KeyboardInterrupt):
        runner.run(request())
    assert history.slots_held("data-lake-dev-sales_etl") == 0
    assert history.get_run("r1").state == "FAILED"


def test_each_state_change_is_published_as_the_history_holds_it(history: History) -> None:
    """Created (waiting for a slot), each attempt running, the end: what `lake watch` draws."""
    seen: list[tuple[str, int, int | None]] = []

    def listener(run: RunRecord) -> None:
        seen.append((run.state.value, run.attempts, run.rows_written))
        assert history.get_run(run.run_id) == run  # published after the history has it

    runner, _ = make_runner(history, ScriptedJob(FAILED_INTERNAL, SUCCEEDED))
    with run_events.subscribe(listener):
        runner.run(request(max_retries=1))
    runner.run(request("r2"))  # no longer subscribed
    assert seen == [("WAITING", 0, None), ("RUNNING", 1, None), ("RUNNING", 2, None), ("SUCCEEDED", 2, 5)]


def test_a_refused_and_an_interrupted_run_publish_their_end(history: History) -> None:
    seen: list[tuple[str, str]] = []

    def interrupted(job: str, arguments: Mapping[str, str]) -> Mapping[str, Any]:
        raise KeyboardInterrupt

    with run_events.subscribe(lambda run: seen.append((run.run_id, run.state.value))):
        refused, _ = make_runner(history, ScriptedJob(), faults="concurrency:sales_etl:99")
        refused.run(request("refused"))
        with pytest.raises(KeyboardInterrupt):
            LocalRunner(history, interrupted, sleep=lambda _s: None).run(request("stopped"))
    assert [state for run_id, state in seen if run_id == "refused"] == ["WAITING", "FAILED"]
    assert [state for run_id, state in seen if run_id == "stopped"] == ["WAITING", "RUNNING", "FAILED"]


def test_a_failing_listener_does_not_fail_the_run(history: History) -> None:
    def broken(_run: RunRecord) -> None:
        raise RuntimeError("listener bug")

    runner, _ = make_runner(history, ScriptedJob(SUCCEEDED))
    with run_events.subscribe(broken):
        assert runner.run(request()).state == "SUCCEEDED"


@pytest.mark.parametrize("spec", ["transient", "transient:sales_etl", "boom:sales_etl:1", "transient:x:one"])
def test_malformed_fault_specs_are_refused(spec: str) -> None:
    with pytest.raises(FaultSpecError, match="LAKE_FAULT"):
        FaultPlan.parse(spec)


def test_fault_specs_combine() -> None:
    plan = FaultPlan.parse("transient:a:1, concurrency:b:2")
    assert [plan.take("transient", "a"), plan.take("transient", "a")] == [True, False]
    assert [plan.take("concurrency", "b") for _ in range(3)] == [True, True, False]


def test_retry_scale_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKE_RETRY_SCALE", "0.01")
    assert retry_scale_from_env() == 0.01
    monkeypatch.setenv("LAKE_RETRY_SCALE", "fast")
    with pytest.raises(ValueError, match="LAKE_RETRY_SCALE"):
        retry_scale_from_env()
