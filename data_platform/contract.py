"""What a trigger hands to a job: one definition for the cloud runner and the local runner.

Cloud: an EventBridge rule or Scheduler schedule sends a *runner input* (a flat JSON object) to
the job's Step Functions runner, which starts the Glue run with `runner_arguments(...)`.
Local: the `lake` runtime builds the same runner input from the same event with the same input
transformer, and the same functions turn it into the same job arguments.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from data_platform.config import JobConfig, JobKind, PlatformConfig, TriggerSource
from data_platform.runner_errors import (  # noqa: F401 - the runner's retries are part of the contract
    PERMANENT_ERRORS,
    RUN_FAILED,
    RUNNER_ERRORS,
    RUNNER_RETRY,
    ErrorClass,
    RetryPolicy,
)

# Every runner input carries every field (empty string when not applicable) because the Step
# Functions definition maps each with a JSONPath, and a missing path fails the execution.
RUNNER_INPUT_FIELDS: tuple[str, ...] = (
    "trigger_source",
    "source_bucket",
    "source_key",
    "upstream_job",
    "upstream_run_id",
    "event_id",
    "event_time",
)

# Fields of the runner input that become Glue job run arguments (`--<field>`).
RUN_ARGUMENT_FIELDS: tuple[str, ...] = (
    "trigger_source",
    "source_bucket",
    "source_key",
    "upstream_job",
    "upstream_run_id",
)


def runner_input(
    trigger_source: TriggerSource | str,
    *,
    source_bucket: str = "",
    source_key: str = "",
    upstream_job: str = "",
    upstream_run_id: str = "",
    event_id: str = "",
    event_time: str = "",
) -> dict[str, str]:
    source = TriggerSource(trigger_source)
    if source is TriggerSource.S3_EVENT and not (source_bucket and source_key):
        raise ValueError("an s3_event runner input needs source_bucket and source_key")
    values = {
        "trigger_source": source.value,
        "source_bucket": source_bucket,
        "source_key": source_key,
        "upstream_job": upstream_job,
        "upstream_run_id": upstream_run_id,
        "event_id": event_id,
        "event_time": event_time,
    }
    return {field: values[field] for field in RUNNER_INPUT_FIELDS}


def default_job_arguments(cfg: PlatformConfig, job: str) -> dict[str, str]:
    """Arguments fixed per job (Glue `DefaultArguments` minus Glue's own `--enable-*` flags)."""
    job_cfg = cfg.jobs[job]
    arguments = {
        "--env": cfg.environment,
        "--bronze_bucket": cfg.bucket_name("bronze"),
        "--silver_bucket": cfg.bucket_name("silver"),
        "--gold_bucket": cfg.bucket_name("gold"),
        "--database": cfg.names.glue_database(),
    }
    if job_cfg.kind is JobKind.MAINTENANCE:
        arguments.update(maintenance_arguments(cfg))
    else:
        arguments.update(_dataset_job_arguments(job_cfg))
    arguments.update({f"--{key}": value for key, value in sorted(job_cfg.arguments.items())})
    return arguments


def _dataset_job_arguments(job_cfg: JobConfig) -> dict[str, str]:
    source = job_cfg.source
    if source is None:
        raise ValueError("an etl job needs its source (config validation refuses one without)")
    arguments = {"--source_prefix": source.prefix, "--max_drop_ratio": repr(job_cfg.max_drop_ratio)}
    if source.suffix:
        arguments["--source_suffix"] = source.suffix
    return arguments


def maintenance_arguments(cfg: PlatformConfig) -> dict[str, str]:
    """The maintenance job's tables (every silver/gold dataset) and the stack's retention, as
    etl/jobs/table_maintenance.py reads them."""
    retention = cfg.retention
    return {
        "--tables": ",".join(cfg.datasets()),
        "--snapshot_retention_days": str(retention.snapshot_days),
        "--min_snapshots": str(retention.min_snapshots),
        "--orphan_retention_days": str(retention.orphan_file_days),
    }


def runner_arguments(run_input: Mapping[str, str]) -> dict[str, str]:
    """Per-run arguments the runner passes to StartJobRun (empty values are omitted locally;
    the cloud runner passes them as empty strings, which the job treats as absent)."""
    missing = [field for field in RUN_ARGUMENT_FIELDS if field not in run_input]
    if missing:
        raise ValueError(f"runner input lacks {', '.join(missing)}")
    return {f"--{field}": str(run_input[field]) for field in RUN_ARGUMENT_FIELDS}


def job_run_arguments(cfg: PlatformConfig, job: str, run_input: Mapping[str, str]) -> dict[str, str]:
    """All arguments one run of `job` sees: defaults overlaid with the runner's per-run ones."""
    if job not in cfg.jobs:
        raise KeyError(f"unknown job '{job}'; known jobs: {', '.join(sorted(cfg.jobs))}")
    return {"--JOB_NAME": cfg.names.glue_job(job), **default_job_arguments(cfg, job), **runner_arguments(run_input)}


# --------------------------------------------------------------------------------------------
# EventBridge input transformers: the same templates deploy to AWS and run locally.


@dataclass(frozen=True)
class InputTransformer:
    input_paths: dict[str, str]
    input_template: str

    def apply(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """Apply like EventBridge: resolve each path, substitute `<name>` in the template.

        Template placeholders sit inside JSON strings, so values are JSON-escaped (quotes,
        backslashes, unicode in keys) exactly as EventBridge does for string values.
        """
        values = {name: _resolve(event, path) for name, path in self.input_paths.items()}

        def substitute(match: re.Match[str]) -> str:
            value = values.get(match.group(1))
            if value is None:
                return ""
            text = value if isinstance(value, str) else json.dumps(value)
            return json.dumps(text)[1:-1]

        return json.loads(re.sub(r"<([A-Za-z0-9_.-]+)>", substitute, self.input_template))


def _resolve(event: Mapping[str, Any], path: str) -> Any:
    if not path.startswith("$."):
        raise ValueError(f"input path '{path}' must start with '$.'")
    node: Any = event
    for part in path[2:].split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _template(fields: Mapping[str, str]) -> str:
    # Hand-built so placeholders stay unquoted-inside-quotes as EventBridge expects.
    body = ", ".join(f'"{name}": "{value}"' for name, value in fields.items())
    return "{" + body + "}"


def s3_event_transformer() -> InputTransformer:
    return InputTransformer(
        input_paths={
            "bucket": "$.detail.bucket.name",
            "key": "$.detail.object.key",
            "id": "$.id",
            "time": "$.time",
        },
        input_template=_template({
            "trigger_source": TriggerSource.S3_EVENT.value,
            "source_bucket": "<bucket>",
            "source_key": "<key>",
            "upstream_job": "",
            "upstream_run_id": "",
            "event_id": "<id>",
            "event_time": "<time>",
        }),
    )


def job_succeeded_transformer() -> InputTransformer:
    return InputTransformer(
        input_paths={
            "job": "$.detail.jobName",
            "run": "$.detail.jobRunId",
            "id": "$.id",
            "time": "$.time",
        },
        input_template=_template({
            "trigger_source": TriggerSource.JOB_SUCCEEDED.value,
            "source_bucket": "",
            "source_key": "",
            "upstream_job": "<job>",
            "upstream_run_id": "<run>",
            "event_id": "<id>",
            "event_time": "<time>",
        }),
    )


def schedule_input() -> dict[str, str]:
    """Scheduler sends a static input; the run's time is Glue's own start time."""
    return runner_input(TriggerSource.SCHEDULE)


def glue_job_state_change_pattern(glue_job_names: list[str], states: list[str]) -> dict[str, Any]:
    return {
        "source": ["aws.glue"],
        "detail-type": ["Glue Job State Change"],
        "detail": {"jobName": sorted(glue_job_names), "state": states},
    }


def glue_job_state_change_event(job_name: str, run_id: str, state: str = "SUCCEEDED", *,
                                message: str = "", region: str = "us-east-1",
                                account: str = "123456789012", time: str = "",
                                event_id: str = "") -> dict[str, Any]:
    """The event Glue emits on a run's state change (used locally to route after-job rules)."""
    import uuid
    from datetime import UTC, datetime

    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": "Glue Job State Change",
        "source": "aws.glue",
        "account": account,
        "time": time or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [],
        "detail": {
            "jobName": job_name,
            "severity": "INFO" if state == "SUCCEEDED" else "ERROR",
            "state": state,
            "jobRunId": run_id,
            "message": message or f"Job run {state.lower()}",
        },
    }


# --------------------------------------------------------------------------------------------
# One alert per failed run: the runner's execution status, after all its retries. Step
# Functions sends `Step Functions Execution Status Change` events to the default bus for every
# Standard workflow; FAILED, TIMED_OUT and ABORTED are the statuses of a run that did not
# succeed. https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html


RUNNER_FAILURE_STATUSES: tuple[str, ...] = ("FAILED", "TIMED_OUT", "ABORTED")
EXECUTION_STATUS_CHANGE = "Step Functions Execution Status Change"


def runner_failure_pattern(state_machine_arns: list[str]) -> dict[str, Any]:
    return {
        "source": ["aws.states"],
        "detail-type": [EXECUTION_STATUS_CHANGE],
        "detail": {"status": list(RUNNER_FAILURE_STATUSES), "stateMachineArn": sorted(state_machine_arns)},
    }


def runner_failure_transformer() -> InputTransformer:
    """The alert mail. The runner's name carries the job; a failed run's cause is Glue's job
    run (its `Id` and `ErrorMessage`), as the runner's Fail state passes it on."""
    return InputTransformer(
        input_paths={"runner": "$.detail.stateMachineArn", "execution": "$.detail.name",
                     "status": "$.detail.status", "error": "$.detail.error", "cause": "$.detail.cause"},
        input_template='"Runner <runner> execution <execution> <status> after its retries. Error: <error>. '
                       'Cause: <cause>"',
    )


def glue_run_cause(glue_job: str, run_id: str, state: str, message: str) -> str:
    """What the runner's Fail state carries for a failed run: Glue's job run, as the .sync
    integration reports it (https://docs.aws.amazon.com/glue/latest/webapi/API_JobRun.html)."""
    return json.dumps({"Id": run_id, "JobName": glue_job, "JobRunState": state, "ErrorMessage": message})


def execution_status_change_event(state_machine_arn: str, execution: str, status: str, *, error: str = "",
                                  cause: str = "", region: str = "us-east-1", account: str = "123456789012",
                                  time: str = "") -> dict[str, Any]:
    """The event Step Functions emits when an execution ends (used locally for alerts)."""
    import uuid
    from datetime import UTC, datetime

    machine = state_machine_arn.rsplit(":", 1)[-1]
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": EXECUTION_STATUS_CHANGE,
        "source": "aws.states",
        "account": account,
        "time": time or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:states:{region}:{account}:execution:{machine}:{execution}"],
        "detail": {
            "executionArn": f"arn:aws:states:{region}:{account}:execution:{machine}:{execution}",
            "stateMachineArn": state_machine_arn,
            "name": execution,
            "status": status,
            "error": error or None,
            "cause": cause or None,
        },
    }
