"""The Amazon States Language definition of a job runner (pure).

EventBridge cannot target a Glue job, so every trigger targets the job's runner: a Step
Functions state machine with one Task that starts the Glue run and waits for it
(`glue:startJobRun.sync`). It passes the trigger's runner input as job arguments, retries
when Glue refused to *start* the run for lack of capacity (`runner_errors.RUNNER_RETRY`), fails at
once on errors that will not go away (`runner_errors.PERMANENT_ERRORS`), retries a run that started
and failed up to the job's `max_retries` (`run_retry_block`), and otherwise ends in a Fail state
carrying Glue's error and cause, so a failed run is one failed execution: the alert rule
listens for exactly that (runner_errors.RUNNER_ERRORS is the table).

Why the runner and not Glue retries failed runs: a Glue-internal retry is a *new* run id, while
`.sync` waits on the first one, so the execution would fail (and alarm) even when Glue's retry
then succeeded. The Glue job is therefore deployed with MaxRetries=0 and every retry is a new
StartJobRun with the same arguments, which is safe because job writes are idempotent.
"""

from __future__ import annotations

import json
from typing import Any

from data_platform.contract.data_docs import EXECUTION_NAME_ARGUMENT
from data_platform.contract.runner_errors import PERMANENT_ERRORS, RUN_FAILED, RUNNER_RETRY, RetryPolicy
from data_platform.contract.runs import RUN_ARGUMENT_FIELDS

START_STATE = "StartGlueJobRun"
FAIL_STATE = "JobRunFailed"
ERROR_RESULT_PATH = "$.error"

# Margin on top of the Glue timeout and the runner's own retry delays, so the Glue timeout
# (reported as a failed run) fires before the execution's.
EXECUTION_TIMEOUT_MARGIN_SECONDS = 15 * 60


def glue_sync_resource(partition: str = "aws") -> str:
    return f"arn:{partition}:states:::glue:startJobRun.sync"


def run_arguments() -> dict[str, str]:
    """`{"--trigger_source.$": "$.trigger_source", ...}`: every run argument from the input, and
    the execution's own name from the context object, which the job names its Data Docs link
    after (contract.data_docs: the alert finds the run's page by it).
    https://docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html"""
    return {
        **{f"--{field}.$": f"$.{field}" for field in RUN_ARGUMENT_FIELDS},
        f"{EXECUTION_NAME_ARGUMENT}.$": "$$.Execution.Name",
    }


def retry_block(policy: RetryPolicy = RUNNER_RETRY) -> dict[str, Any]:
    return {
        "ErrorEquals": list(policy.errors),
        "IntervalSeconds": policy.interval_seconds,
        "MaxAttempts": policy.max_attempts,
        "BackoffRate": policy.backoff_rate,
        "MaxDelaySeconds": policy.max_delay_seconds,
        "JitterStrategy": policy.jitter_strategy,
    }


# Pause before re-running a failed run: long enough for a transient cause (a throttled
# dependency, a lost executor) to clear.
RUN_RETRY_INTERVAL_SECONDS = 60
RUN_RETRY_BACKOFF_RATE = 2.0


def no_retry_block() -> dict[str, Any]:
    """Errors that will not go away (runner_errors.PERMANENT_ERRORS): never retried. It must come
    before `run_retry_block`, whose States.TaskFailed matches every error name."""
    return {"ErrorEquals": list(PERMANENT_ERRORS), "MaxAttempts": 0}


def run_retry_block(max_retries: int) -> dict[str, Any]:
    """Retry a run that started and failed (`States.TaskFailed` from the .sync integration)."""
    return {
        "ErrorEquals": [RUN_FAILED],
        "IntervalSeconds": RUN_RETRY_INTERVAL_SECONDS,
        "MaxAttempts": max_retries,
        "BackoffRate": RUN_RETRY_BACKOFF_RATE,
    }


def execution_timeout_seconds(
    job_timeout_minutes: int, policy: RetryPolicy = RUNNER_RETRY, max_retries: int = 0
) -> int:
    runs = max_retries + 1
    run_pauses = sum(RUN_RETRY_INTERVAL_SECONDS * RUN_RETRY_BACKOFF_RATE**i for i in range(max_retries))
    return int(runs * job_timeout_minutes * 60 + sum(policy.delays()) + run_pauses + EXECUTION_TIMEOUT_MARGIN_SECONDS)


def runner_definition(
    glue_job_name: str,
    *,
    job_timeout_minutes: int,
    max_retries: int = 0,
    partition: str = "aws",
    retry: RetryPolicy = RUNNER_RETRY,
) -> dict[str, Any]:
    retries = [retry_block(retry), no_retry_block()]
    if max_retries > 0:
        retries.append(run_retry_block(max_retries))
    return {
        "Comment": f"Runs Glue job {glue_job_name} once per trigger and fails when the run fails.",
        "StartAt": START_STATE,
        "TimeoutSeconds": execution_timeout_seconds(job_timeout_minutes, retry, max_retries),
        "States": {
            START_STATE: {
                "Type": "Task",
                "Resource": glue_sync_resource(partition),
                "Parameters": {"JobName": glue_job_name, "Arguments": run_arguments()},
                "Retry": retries,
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": ERROR_RESULT_PATH, "Next": FAIL_STATE}],
                "End": True,
            },
            FAIL_STATE: {
                "Type": "Fail",
                "Comment": "Glue refused or failed the run; the execution fails loudly with Glue's error.",
                "ErrorPath": f"{ERROR_RESULT_PATH}.Error",
                "CausePath": f"{ERROR_RESULT_PATH}.Cause",
            },
        },
    }


def runner_definition_json(
    glue_job_name: str, *, job_timeout_minutes: int, max_retries: int = 0, partition: str = "aws"
) -> str:
    return json.dumps(
        runner_definition(
            glue_job_name, job_timeout_minutes=job_timeout_minutes, max_retries=max_retries, partition=partition
        ),
        indent=2,
    )
