"""One alert per failed run: the runner's execution status, after all its retries.

Step Functions sends `Step Functions Execution Status Change` events to the default bus for
every Standard workflow; FAILED, TIMED_OUT and ABORTED are the statuses of a run that did not
succeed (https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html). The cloud's
alert rule matches `runner_failure_pattern` and mails the text `runner_failure_transformer`
makes; the local runtime builds the same event for a failed run and puts the same text in
its alerts outbox.

The text ends with where the run's validation page is (its Data Docs, when the run's quality
gate dropped or failed rows): the link the job writes under the execution's name
(`contract.data_docs`), since the event carries that name and nothing else of the run's page.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from data_platform.contract.data_docs import run_links_location
from data_platform.contract.runner_errors import RUN_FAILED
from data_platform.contract.runs import GlueRunState, InputTransformer, utc_stamp


class ExecutionStatus(StrEnum):
    """A Step Functions execution's status (the runner's, one per run)."""

    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    ABORTED = "ABORTED"


RUNNER_FAILURE_STATUSES: tuple[ExecutionStatus, ...] = (
    ExecutionStatus.FAILED,
    ExecutionStatus.TIMED_OUT,
    ExecutionStatus.ABORTED,
)
EXECUTION_STATUS_CHANGE = "Step Functions Execution Status Change"
RUN_FAILURE_RULE_DESCRIPTION = (
    "Runs of this stack whose runner execution FAILED, TIMED_OUT or was ABORTED after its retries"
)
# The error of an execution that failed for another reason than Glue (the runner's own).
RUNTIME_ERROR = "States.Runtime"


def runner_failure_pattern(state_machine_arns: list[str]) -> dict[str, Any]:
    return {
        "source": ["aws.states"],
        "detail-type": [EXECUTION_STATUS_CHANGE],
        "detail": {
            "status": [str(status) for status in RUNNER_FAILURE_STATUSES],
            "stateMachineArn": sorted(state_machine_arns),
        },
    }


def runner_failure_transformer(data_docs: str) -> InputTransformer:
    """The alert mail. The runner's name carries the job; a failed run's cause is Glue's job
    run (its `Id` and `ErrorMessage`), as the runner's Fail state passes it on; the run's
    validation page is the link named after the execution under `data_docs`, where the stack's
    Data Docs prefix is (`s3://<artifacts bucket>/data-docs/<env>/`; locally its folder), a
    constant of the template. A run refused before its gate (or one whose gate passed every
    row) has no page: the text says when there is one, the event cannot tell."""
    links = run_links_location(data_docs)
    if "<" in links or ">" in links:
        raise ValueError(f"Data Docs location {links!r} contains '<' or '>', which a template reads as a placeholder")
    return InputTransformer(
        input_paths={
            "runner": "$.detail.stateMachineArn",
            "execution": "$.detail.name",
            "status": "$.detail.status",
            "error": "$.detail.error",
            "cause": "$.detail.cause",
        },
        # A template holds only the event's fields (`<name>`, from InputPathsMap) and constants
        # (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html).
        # The constant sits inside the template's JSON string: JSON-escaped like the values.
        input_template='"Runner <runner> execution <execution> <status> after its retries. Error: <error>. '
        "Cause: <cause>. Validation page (Data Docs; a run whose quality gate dropped or failed rows has one): "
        f'{json.dumps(links)[1:-1]}<execution>.html"',
    )


def alert_message(event: Mapping[str, Any], data_docs: str) -> str:
    """The alert text for a runner's execution status change, built by the very input
    transformer the cloud's alert rule uses (`data_docs`: see `runner_failure_transformer`)."""
    return str(runner_failure_transformer(data_docs).apply(event))


def alert_subject(runner: str, status: ExecutionStatus = ExecutionStatus.FAILED) -> str:
    return f"Runner {runner} execution {status}"


def glue_run_cause(glue_job: str, run_id: str, state: str, message: str) -> str:
    """What the runner's Fail state carries for a failed run: Glue's job run, as the .sync
    integration reports it (https://docs.aws.amazon.com/glue/latest/webapi/API_JobRun.html)."""
    return json.dumps({"Id": run_id, "JobName": glue_job, "JobRunState": str(state), "ErrorMessage": message})


def failed_execution_error(glue_job: str, run_id: str, message: str, *, started: bool) -> tuple[str, str]:
    """(error, cause) of a runner execution that failed: a run that started and failed carries
    Glue's job run as the cause; a run Glue never started fails with the runner's error (a
    `Glue.*` error name leads its message)."""
    if started:
        return RUN_FAILED, glue_run_cause(glue_job, run_id, GlueRunState.FAILED, message)
    return (message.split(":", 1)[0] if message.startswith("Glue.") else RUNTIME_ERROR), message


def execution_status_change_event(
    state_machine_arn: str,
    execution: str,
    status: str,
    *,
    error: str = "",
    cause: str = "",
    region: str = "us-east-1",
    account: str = "123456789012",
    time: str = "",
) -> dict[str, Any]:
    """The event Step Functions emits when an execution ends (used locally for alerts)."""
    machine = state_machine_arn.rsplit(":", 1)[-1]
    execution_arn = f"arn:aws:states:{region}:{account}:execution:{machine}:{execution}"
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": EXECUTION_STATUS_CHANGE,
        "source": "aws.states",
        "account": account,
        "time": time or utc_stamp(),
        "region": region,
        "resources": [execution_arn],
        "detail": {
            "executionArn": execution_arn,
            "stateMachineArn": state_machine_arn,
            "name": execution,
            "status": str(status),
            "error": error or None,
            "cause": cause or None,
        },
    }
