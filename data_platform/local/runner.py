"""The local twin of a job's Step Functions runner (and of Glue's own run management).

Two different retries happen to a cloud run, and the local runner reproduces both:

1. **The runner's retry** (Step Functions `Retry` on `glue:startJobRun.sync`): Glue refused to
   *start* the run, e.g. `Glue.ConcurrentRunsExceededException` because the job already has
   `max_concurrent_runs` runs. The runner waits `runner_errors.RUNNER_RETRY.delays()` and tries
   again; when the policy is exhausted the execution fails with that error. Locally the
   concurrency limit is a slot table in the run history (SQLite), so it holds across
   processes: two `lake upload`s, or an upload while `lake watch` runs.
2. **Glue's retry** (`MaxRetries`): a run that started and failed is retried by Glue up to
   the job's `max_retries`. Locally only failures with `error_kind == "internal"` (transient:
   a crashed executor, a lost connection) are retried. `data_quality` and `input` failures
   are NOT retried: the same input through the same gate fails identically, so a retry
   would only delay the alert (Glue would retry them, wasting a run; here we save the time).

`LAKE_RETRY_SCALE` (float, default 1) multiplies the runner's delays, e.g. `0.01` in tests.

Tests drive failures through the same seams a real run takes: the job function, the history
(a held slot), or a runner whose `_try_slot` / `_one_attempt` refuse or fail (tests/support).
"""

from __future__ import annotations

import os
import random
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from data_platform.contract.runner_errors import RUNNER_RETRY, RetryPolicy
from data_platform.local import run_events
from data_platform.local.history import History
from data_platform.local.records import JobOutcome, RunRecord

# (job key, Glue-style arguments) -> RunSummary.to_dict()-shaped mapping
JobFn = Callable[[str, Mapping[str, str]], Mapping[str, Any]]
Progress = Callable[[str], None]

CONCURRENT_RUNS_EXCEEDED = "Glue.ConcurrentRunsExceededException"


def retry_scale_from_env() -> float:
    raw = os.environ.get("LAKE_RETRY_SCALE", "1")
    try:
        scale = float(raw)
    except ValueError:
        raise ValueError(f"LAKE_RETRY_SCALE '{raw}' is not a number; use e.g. 0.01") from None
    if scale < 0:
        raise ValueError(f"LAKE_RETRY_SCALE '{raw}' must be >= 0")
    return scale


@dataclass(frozen=True)
class RunRequest:
    job: str
    glue_job: str
    env: str
    run_id: str
    arguments: Mapping[str, str]
    run_input: Mapping[str, str]
    max_concurrent_runs: int
    max_retries: int
    trigger_name: str = ""


class LocalRunner:
    """Runs one job run to its final state and records it in the history."""

    def __init__(
        self,
        history: History,
        job_fn: JobFn,
        *,
        policy: RetryPolicy = RUNNER_RETRY,
        retry_scale: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        progress: Progress | None = None,
        jitter: Callable[[float], float] | None = None,
    ) -> None:
        self.history = history
        # Step Functions' FULL jitter: a wait uniform in [0, delay] (injectable for tests).
        self.jitter = jitter or (
            (lambda d: random.uniform(0, d)) if policy.jitter_strategy == "FULL" else (lambda d: d)
        )
        self.job_fn = job_fn
        self.policy = policy
        self.retry_scale = retry_scale
        self.sleep = sleep
        self.progress = progress or (lambda _message: None)

    def run(self, request: RunRequest) -> RunRecord:
        """Start, retry and finish one run; return its history record. Never raises for job failures.

        Each state change is published (`run_events`) once the history holds it."""
        self.history.create_run(
            run_id=request.run_id,
            job=request.job,
            glue_job=request.glue_job,
            env=request.env,
            run_input=request.run_input,
            trigger_name=request.trigger_name,
        )
        self._changed(request.run_id)
        try:
            refusal = self._acquire_slot(request)
            if refusal is not None:
                return self._finish(request.run_id, refusal, attempts=0)
            try:
                outcome, attempts = self._attempts(request)
            finally:
                self.history.release_slot(request.run_id)
            return self._finish(request.run_id, outcome, attempts)
        except KeyboardInterrupt:
            self.history.release_slot(request.run_id)
            self._finish(
                request.run_id,
                JobOutcome.failure("interrupted (Ctrl-C or SIGTERM) before the run finished"),
                attempts=0,
            )
            raise

    def _changed(self, run_id: str) -> None:
        run = self.history.get_run(run_id)
        if run is not None:
            run_events.publish(run)

    def _finish(self, run_id: str, outcome: JobOutcome, attempts: int) -> RunRecord:
        run = self.history.finish_run(run_id, outcome, attempts)
        run_events.publish(run)
        return run

    def _acquire_slot(self, request: RunRequest) -> JobOutcome | None:
        """The runner's retry: None once a slot is held, else the failed outcome."""
        delays = self.policy.delays()
        for attempt in range(len(delays) + 1):
            if self._try_slot(request):
                return None
            if attempt == len(delays):
                break
            wait = self.jitter(delays[attempt]) * self.retry_scale
            if attempt % 10 == 0:  # a burst can wait through many retries; say so now and then
                self.progress(
                    f"{request.job}: {CONCURRENT_RUNS_EXCEEDED} (max_concurrent_runs="
                    f"{request.max_concurrent_runs}); waiting, retry {attempt + 1}/{len(delays)} "
                    f"in {wait:.1f}s"
                )
            self.sleep(wait)
        return JobOutcome.failure(
            f"{CONCURRENT_RUNS_EXCEEDED}: job {request.glue_job} already has {request.max_concurrent_runs} "
            f"concurrent run(s) (max_concurrent_runs); the runner gave up after {len(delays)} retries"
        )

    def _try_slot(self, request: RunRequest) -> bool:
        """Glue's MaxConcurrentRuns: a slot of the job's, held in the history across processes."""
        return self.history.try_acquire_slot(request.glue_job, request.max_concurrent_runs, request.run_id)

    def _attempts(self, request: RunRequest) -> tuple[JobOutcome, int]:
        """Glue's retry: re-run transient (internal) failures up to max_retries."""
        total = request.max_retries + 1
        for attempt in range(1, total + 1):
            self.history.mark_attempt(request.run_id, attempt)
            self._changed(request.run_id)
            self.progress(f"running {request.job} (run {request.run_id}, attempt {attempt}/{total})")
            outcome = self._one_attempt(request, attempt)
            if not outcome.retryable:
                return outcome, attempt
            if attempt < total:
                self.progress(f"{request.job}: attempt {attempt} failed with a transient error; Glue retries it")
        return outcome, total

    def _one_attempt(self, request: RunRequest, attempt: int) -> JobOutcome:
        """Run the job once; a job function that raises is an internal (transient) failure."""
        try:
            return JobOutcome.from_summary(self.job_fn(request.job, dict(request.arguments)))
        except KeyboardInterrupt:
            raise
        except Exception as error:  # noqa: BLE001 - run_job should not raise; if it does, it is internal
            detail = "".join(traceback.format_exception_only(type(error), error)).strip()
            return JobOutcome.failure(f"the job crashed: {detail}")
