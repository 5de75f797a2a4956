"""What a trigger hands to a job, and what a run ends as: one definition for the cloud runner,
the local runner and the jobs.

Cloud: an EventBridge rule or Scheduler schedule sends a *runner input* (a flat JSON object) to
the job's Step Functions runner, which starts the Glue run with `runner_arguments(...)`.
Local: the `lake` runtime builds the same runner input from the same event with the same input
transformer, and the same functions turn it into the same job arguments. The jobs (`etl`) parse
the same trigger sources and report the same run states.

Everything here takes plain values (names, buckets, prefixes), never the stack config:
`data_platform.job_arguments` reads those from the config.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from data_platform.contract.naming import DATA_LAYERS


class TriggerSource(StrEnum):
    """What started a run (`--trigger_source`)."""

    S3_EVENT = "s3_event"
    SCHEDULE = "schedule"
    JOB_SUCCEEDED = "job_succeeded"
    MANUAL = "manual"


class RunState(StrEnum):
    """The state of one run, as the jobs report it and the local run history records it.

    NO_INPUT is a run that found nothing to process: Glue reports it SUCCEEDED."""

    WAITING = "WAITING"  # created, waiting for a concurrency slot
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    NO_INPUT = "NO_INPUT"


ACTIVE_RUN_STATES: tuple[RunState, ...] = (RunState.WAITING, RunState.RUNNING)
FINAL_RUN_STATES: tuple[RunState, ...] = (RunState.SUCCEEDED, RunState.FAILED, RunState.NO_INPUT)
SUCCESSFUL_RUN_STATES: tuple[RunState, ...] = (RunState.SUCCEEDED, RunState.NO_INPUT)


class ErrorKind(StrEnum):
    """Why a run failed; the local runner re-runs only INTERNAL failures (the others would
    fail the same way again)."""

    DATA_QUALITY = "data_quality"
    INPUT = "input"
    INTERNAL = "internal"


class GlueRunState(StrEnum):
    """Glue's JobRunState as its `Glue Job State Change` events carry it
    (https://docs.aws.amazon.com/glue/latest/webapi/API_JobRun.html)."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMEOUT = "TIMEOUT"
    STOPPED = "STOPPED"


# The Glue states of a run attempt that did not succeed (what an alert on Glue's own events
# would follow; the alerts follow the runner's execution instead, see contract.alerts).
GLUE_FAILURE_STATES: tuple[GlueRunState, ...] = (GlueRunState.FAILED, GlueRunState.TIMEOUT)


def glue_state(state: RunState | str) -> GlueRunState:
    """The Glue state a finished run reports: a run with nothing to do still SUCCEEDED on Glue."""
    return GlueRunState.FAILED if state == RunState.FAILED else GlueRunState.SUCCEEDED


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


# --------------------------------------------------------------------------------------------
# Job arguments: fixed per job (Glue DefaultArguments) and per run (from the runner input).


def default_job_arguments(
    *,
    env: str,
    buckets: Mapping[str, str],
    database: str,
    job_arguments: Mapping[str, str],
    configured: Mapping[str, str],
) -> dict[str, str]:
    """Arguments fixed per job (Glue `DefaultArguments` minus Glue's own `--enable-*` flags):
    the stack's environment, data buckets (`bronze`, `silver`, `gold`) and catalog database,
    the job's own arguments (`dataset_job_arguments` or `maintenance_arguments`) and the extra
    arguments configured for it (keys without `--`)."""
    arguments = {"--env": env}
    arguments.update({f"--{layer}_bucket": buckets[layer] for layer in DATA_LAYERS})
    arguments["--database"] = database
    arguments.update(job_arguments)
    arguments.update({f"--{key}": value for key, value in sorted(configured.items())})
    return arguments


def dataset_job_arguments(*, source_prefix: str, source_suffix: str | None, max_drop_ratio: float) -> dict[str, str]:
    """A dataset job's input (its bronze or silver prefix and suffix) and its gate's drop threshold."""
    arguments = {"--source_prefix": source_prefix, "--max_drop_ratio": repr(max_drop_ratio)}
    if source_suffix:
        arguments["--source_suffix"] = source_suffix
    return arguments


def maintenance_arguments(
    *, tables: Iterable[str], snapshot_days: int, min_snapshots: int, orphan_file_days: int
) -> dict[str, str]:
    """The maintenance job's tables (every silver/gold dataset) and the stack's retention, as
    etl/jobs/table_maintenance.py reads them."""
    return {
        "--tables": ",".join(tables),
        "--snapshot_retention_days": str(snapshot_days),
        "--min_snapshots": str(min_snapshots),
        "--orphan_retention_days": str(orphan_file_days),
    }


def runner_arguments(run_input: Mapping[str, str]) -> dict[str, str]:
    """Per-run arguments the runner passes to StartJobRun (empty values are omitted locally;
    the cloud runner passes them as empty strings, which the job treats as absent)."""
    missing = [field for field in RUN_ARGUMENT_FIELDS if field not in run_input]
    if missing:
        raise ValueError(f"runner input lacks {', '.join(missing)}")
    return {f"--{field}": str(run_input[field]) for field in RUN_ARGUMENT_FIELDS}


def job_run_arguments(glue_job: str, defaults: Mapping[str, str], run_input: Mapping[str, str]) -> dict[str, str]:
    """All arguments one run of a job sees: its defaults overlaid with the runner's per-run ones."""
    return {"--JOB_NAME": glue_job, **defaults, **runner_arguments(run_input)}


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


def _runner_input_transformer(
    source: TriggerSource, input_paths: Mapping[str, str], **placeholders: str
) -> InputTransformer:
    """The rule's runner input: every field of RUNNER_INPUT_FIELDS (empty unless a placeholder
    fills it from the event), with the event's id and time."""
    fields = {field: "" for field in RUNNER_INPUT_FIELDS}
    fields.update(trigger_source=source.value, event_id="<id>", event_time="<time>", **placeholders)
    return InputTransformer(
        input_paths={**input_paths, "id": "$.id", "time": "$.time"}, input_template=_template(fields)
    )


def s3_event_transformer() -> InputTransformer:
    return _runner_input_transformer(
        TriggerSource.S3_EVENT,
        {"bucket": "$.detail.bucket.name", "key": "$.detail.object.key"},
        source_bucket="<bucket>",
        source_key="<key>",
    )


def job_succeeded_transformer() -> InputTransformer:
    return _runner_input_transformer(
        TriggerSource.JOB_SUCCEEDED,
        {"job": "$.detail.jobName", "run": "$.detail.jobRunId"},
        upstream_job="<job>",
        upstream_run_id="<run>",
    )


def schedule_input() -> dict[str, str]:
    """Scheduler sends a static input; the run's time is Glue's own start time."""
    return runner_input(TriggerSource.SCHEDULE)


# --------------------------------------------------------------------------------------------
# Glue's job-state change: what after-job rules match.


GLUE_JOB_STATE_CHANGE = "Glue Job State Change"


def glue_job_state_change_pattern(glue_job_names: list[str], states: list[str]) -> dict[str, Any]:
    return {
        "source": ["aws.glue"],
        "detail-type": [GLUE_JOB_STATE_CHANGE],
        "detail": {"jobName": sorted(glue_job_names), "state": [str(state) for state in states]},
    }


def upstream_succeeded_pattern(upstream_glue_job: str) -> dict[str, Any]:
    """What an after-job rule matches: its upstream job's run SUCCEEDED (cloud and local)."""
    return glue_job_state_change_pattern([upstream_glue_job], [GlueRunState.SUCCEEDED])


def glue_job_state_change_event(
    job_name: str,
    run_id: str,
    state: str = GlueRunState.SUCCEEDED,
    *,
    message: str = "",
    region: str = "us-east-1",
    account: str = "123456789012",
    time: str = "",
    event_id: str = "",
) -> dict[str, Any]:
    """The event Glue emits on a run's state change (used locally to route after-job rules)."""
    state = str(state)
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": GLUE_JOB_STATE_CHANGE,
        "source": "aws.glue",
        "account": account,
        "time": time or utc_stamp(),
        "region": region,
        "resources": [],
        "detail": {
            "jobName": job_name,
            "severity": "INFO" if state == GlueRunState.SUCCEEDED else "ERROR",
            "state": state,
            "jobRunId": run_id,
            "message": message or f"Job run {state.lower()}",
        },
    }


def utc_stamp(moment: datetime | None = None) -> str:
    """An event's `time`: UTC, second precision, `Z` suffix (what AWS sends)."""
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
