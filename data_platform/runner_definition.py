"""The Amazon States Language definition of a job runner (pure).

EventBridge cannot target a Glue job, so every trigger targets the job's runner: a Step
Functions state machine with one Task that starts the Glue run and waits for it
(`glue:startJobRun.sync`). It passes the trigger's runner input as job arguments, retries
only when Glue refused to *start* the run (`contract.RUNNER_RETRY`), and otherwise ends in a
Fail state carrying Glue's error and cause, so a failed run is a failed execution.
"""

from __future__ import annotations

import json
from typing import Any

from data_platform.contract import RUN_ARGUMENT_FIELDS, RUNNER_RETRY, RetryPolicy

START_STATE = "StartGlueJobRun"
FAIL_STATE = "JobRunFailed"
ERROR_RESULT_PATH = "$.error"

# Margin on top of the Glue timeout and the runner's own retry delays, so the Glue timeout
# (reported as a failed run) fires before the execution's.
EXECUTION_TIMEOUT_MARGIN_SECONDS = 15 * 60


def glue_sync_resource(partition: str = "aws") -> str:
    return f"arn:{partition}:states:::glue:startJobRun.sync"


def run_arguments() -> dict[str, str]:
    """`{"--trigger_source.$": "$.trigger_source", ...}`: every run argument from the input."""
    return {f"--{field}.$": f"$.{field}" for field in RUN_ARGUMENT_FIELDS}


def retry_block(policy: RetryPolicy = RUNNER_RETRY) -> dict[str, Any]:
    return {
        "ErrorEquals": list(policy.errors),
        "IntervalSeconds": policy.interval_seconds,
        "MaxAttempts": policy.max_attempts,
        "BackoffRate": policy.backoff_rate,
        "MaxDelaySeconds": policy.max_delay_seconds,
    }


def execution_timeout_seconds(job_timeout_minutes: int, policy: RetryPolicy = RUNNER_RETRY) -> int:
    return int(job_timeout_minutes * 60 + sum(policy.delays()) + EXECUTION_TIMEOUT_MARGIN_SECONDS)


def runner_definition(glue_job_name: str, *, job_timeout_minutes: int, partition: str = "aws",
                      retry: RetryPolicy = RUNNER_RETRY) -> dict[str, Any]:
    return {
        "Comment": f"Runs Glue job {glue_job_name} once per trigger and fails when the run fails.",
        "StartAt": START_STATE,
        "TimeoutSeconds": execution_timeout_seconds(job_timeout_minutes, retry),
        "States": {
            START_STATE: {
                "Type": "Task",
                "Resource": glue_sync_resource(partition),
                "Parameters": {"JobName": glue_job_name, "Arguments": run_arguments()},
                "Retry": [retry_block(retry)],
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


def runner_definition_json(glue_job_name: str, *, job_timeout_minutes: int, partition: str = "aws") -> str:
    return json.dumps(runner_definition(glue_job_name, job_timeout_minutes=job_timeout_minutes,
                                        partition=partition), indent=2)
