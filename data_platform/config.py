"""Typed stack configuration, read from `Pulumi.<stack>.yaml` (key `data-lake:platform`).

The Pulumi program and the `lake` CLI both load the stack's YAML through this module, so a
typo or a dangling reference fails the same way in `lake validate` and `pulumi preview`, with
the YAML key path in the message and before any resource is declared.
"""

from __future__ import annotations

import copy
import re
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from data_platform.contract.naming import BUCKET_PURPOSES, DEFAULT_NAME_PREFIX, Names, check_name

CONFIG_NAMESPACE = "data-lake"
CONFIG_KEY = "platform"
FULL_CONFIG_KEY = f"{CONFIG_NAMESPACE}:{CONFIG_KEY}"

# EventBridge / Scheduler logical keys become part of physical names; keep them simple.
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Layer(StrEnum):
    BRONZE = "bronze"
    SILVER = "silver"
    GOLD = "gold"


class WorkerType(StrEnum):
    """Glue 5.0 worker types for Spark ETL jobs (G.025X is for streaming jobs only)."""

    G_1X = "G.1X"
    G_2X = "G.2X"
    G_4X = "G.4X"
    G_8X = "G.8X"


class ExecutionClass(StrEnum):
    STANDARD = "STANDARD"
    FLEX = "FLEX"


class JobKind(StrEnum):
    """What a job does: `etl` loads one dataset from its source; `maintenance` looks after
    every silver/gold table of the stack (etl.jobs.MAINTENANCE_JOBS)."""

    ETL = "etl"
    MAINTENANCE = "maintenance"


class _Strict(BaseModel):
    # Unknown keys are almost always typos ("worker" for "workers"): reject them.
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


class SourceConfig(_Strict):
    layer: Layer = Field(Layer.BRONZE, description="Layer the job reads from.")
    prefix: str = Field(..., min_length=1, description="Key prefix of the job's input, e.g. 'sales/'.")
    suffix: str | None = Field(None, description="Key suffix of the job's input, e.g. '.csv'.")

    @field_validator("prefix")
    @classmethod
    def _prefix_shape(cls, value: str) -> str:
        if value.startswith("/") or ".." in value.split("/"):
            raise ValueError("prefix must be a relative key prefix such as 'sales/' (no leading '/', no '..')")
        return value


class JobConfig(_Strict):
    kind: JobKind = Field(
        JobKind.ETL,
        description=("etl: loads `dataset` from `source`; maintenance: compacts and expires the stack's tables."),
    )
    dataset: str | None = Field(
        None,
        pattern=r"^[a-z][a-z0-9_]*$",
        description=("Output dataset name (folder and table); etl jobs only, required there."),
    )
    layer: Literal[Layer.SILVER, Layer.GOLD] = Field(Layer.SILVER, description="Layer the job writes to (etl jobs).")
    source: SourceConfig | None = Field(None, description="Where the job's input lives; etl jobs only, required there.")
    description: str = ""
    worker_type: WorkerType = WorkerType.G_1X
    workers: int = Field(2, ge=2, le=299, description="Number of Glue workers (Glue needs at least 2).")
    timeout_minutes: int = Field(60, ge=1, le=2880)
    max_retries: int = Field(
        0,
        ge=0,
        le=10,
        description=(
            "Re-runs of a failed run, done by the job's runner (the Glue job itself is deployed with MaxRetries=0)."
        ),
    )
    # The dataset writer allows one writer per dataset (a run merges against silver as it found
    # it), so semantic_problems refuses more than 1; further runs wait in the runner's retry.
    max_concurrent_runs: int = Field(
        1, ge=1, le=1000, description=("Concurrent runs of this job; must be 1 (one writer per dataset).")
    )
    execution_class: ExecutionClass = ExecutionClass.STANDARD
    max_drop_ratio: float = Field(0.05, ge=0.0, le=1.0, description="Share of rows the gate may drop before failing.")
    arguments: dict[str, str] = Field(default_factory=dict, description="Extra job arguments, keys without '--'.")

    @field_validator("arguments")
    @classmethod
    def _argument_keys(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if key.startswith("-") or not re.match(r"^[A-Za-z][A-Za-z0-9_.-]*$", key):
                raise ValueError(f"argument key '{key}' must be written without leading '--' (e.g. 'log_level')")
        return value

    @model_validator(mode="after")
    def _flex_needs_batch_workers(self) -> JobConfig:
        if self.execution_class is ExecutionClass.FLEX and self.worker_type not in (WorkerType.G_1X, WorkerType.G_2X):
            raise ValueError("execution_class FLEX is available only for worker_type G.1X or G.2X")
        return self


class S3RuleConfig(_Strict):
    layer: Literal[Layer.BRONZE] = Field(Layer.BRONZE, description="Bucket whose Object Created events start the job.")
    prefix: str | None = Field(None, description="Key prefix filter, e.g. 'sales/'.")
    suffix: str | None = Field(None, description="Key suffix filter, e.g. '.csv'.")
    job: str = Field(..., description="Job to start (a key of `jobs`).")
    enabled: bool = True

    @model_validator(mode="after")
    def _needs_a_filter(self) -> S3RuleConfig:
        if not self.prefix and not self.suffix:
            raise ValueError("an S3 rule needs a prefix or a suffix; without one every upload starts the job")
        return self


class ScheduleConfig(_Strict):
    expression: str = Field(..., description="AWS schedule expression: cron(...), rate(...) or at(...).")
    timezone: str = Field("UTC", description="IANA time zone the cron is evaluated in.")
    flexible_window_minutes: int = Field(0, ge=0, le=1440, description="0 = fire exactly on time.")
    job: str
    enabled: bool = True

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone '{value}'; use an IANA name such as 'Europe/Berlin' or 'UTC'"
            ) from None
        return value

    @field_validator("expression")
    @classmethod
    def _valid_expression(cls, value: str) -> str:
        from data_platform.contract.schedules import validate_expression

        validate_expression(value, service="scheduler")
        return value


class AfterJobConfig(_Strict):
    upstream: str = Field(..., description="Job whose SUCCEEDED state starts `job`.")
    job: str
    enabled: bool = True


class RetentionConfig(_Strict):
    bronze_noncurrent_days: int = Field(30, ge=1, description="Keep overwritten bronze versions this long.")
    bronze_infrequent_access_days: int | None = Field(30, ge=30, description="Move bronze to STANDARD_IA after.")
    bronze_glacier_days: int | None = Field(None, ge=1, description="Move bronze to GLACIER_IR after.")
    silver_noncurrent_days: int = Field(30, ge=1)
    quarantine_expire_days: int = Field(90, ge=1)
    access_logs_expire_days: int = Field(365, ge=1)
    # Iceberg table maintenance (the maintenance job's expire_snapshots and remove_orphan_files).
    snapshot_days: int = Field(
        7, ge=1, description=("Keep table snapshots (time travel, rollback) at least this many days.")
    )
    min_snapshots: int = Field(10, ge=1, description="Keep at least this many snapshots per table, whatever their age.")
    orphan_file_days: int = Field(
        3,
        ge=1,
        description=(
            "Delete files no snapshot references only once they are this many days old (a running job may be "
            "writing them; Iceberg's remove_orphan_files refuses less than 24 hours)."
        ),
    )
    log_retention_days: Literal[
        1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653
    ] = Field(30, description="CloudWatch Logs retention.")

    @model_validator(mode="after")
    def _transitions_in_order(self) -> RetentionConfig:
        ia, glacier = self.bronze_infrequent_access_days, self.bronze_glacier_days
        if ia is not None and glacier is not None and glacier <= ia:
            raise ValueError("bronze_glacier_days must be later than bronze_infrequent_access_days")
        return self


class AlertsConfig(_Strict):
    emails: list[str] = Field(default_factory=list, description="Addresses subscribed to the alert topic.")
    quarantined_rows_threshold: int = Field(1, ge=1, description="Alarm when a run quarantines this many rows.")
    dead_letter_threshold: int = Field(1, ge=1, description="Alarm when a dead-letter queue holds this many.")

    @field_validator("emails")
    @classmethod
    def _plausible_emails(cls, value: list[str]) -> list[str]:
        bad = [email for email in value if not _EMAIL.match(email)]
        if bad:
            raise ValueError(f"not an email address: {', '.join(bad)}")
        return value


class DeliveryConfig(_Strict):
    """How EventBridge and Scheduler retry delivery to a runner before using the DLQ."""

    maximum_event_age_seconds: int = Field(3600, ge=60, le=86400)
    maximum_retry_attempts: int = Field(8, ge=0, le=185)


class BucketNameOverrides(_Strict):
    bronze: str | None = None
    silver: str | None = None
    gold: str | None = None
    artifacts: str | None = None
    access_logs: str | None = None


class PlatformConfig(_Strict):
    environment: str = Field(..., pattern=r"^[a-z][a-z0-9-]{0,15}$", description="Stack environment, e.g. dev.")
    name_prefix: str = Field(
        DEFAULT_NAME_PREFIX, pattern=r"^[a-z][a-z0-9-]{0,30}$", description="First part of every name."
    )
    bucket_names: BucketNameOverrides = Field(
        default_factory=BucketNameOverrides, description="Override physical bucket names (global uniqueness)."
    )
    force_destroy: bool = Field(False, description="Let `pulumi destroy` delete non-empty buckets (dev only).")
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    tags: dict[str, str] = Field(default_factory=dict)
    jobs: dict[str, JobConfig] = Field(..., min_length=1)
    s3_rules: dict[str, S3RuleConfig] = Field(default_factory=dict)
    schedules: dict[str, ScheduleConfig] = Field(default_factory=dict)
    after_job: dict[str, AfterJobConfig] = Field(default_factory=dict)

    @property
    def names(self) -> Names:
        return Names(self.name_prefix, self.environment)

    def bucket_name(self, purpose: str) -> str:
        """Physical bucket name for 'bronze', 'silver', 'gold', 'artifacts' or 'access_logs'."""
        override = getattr(self.bucket_names, purpose)
        return override or self.names.bucket(purpose.replace("_", "-"))

    @property
    def dataset_jobs(self) -> dict[str, JobConfig]:
        """The etl jobs, each loading one silver/gold dataset (its table), in config order."""
        return {job: job_cfg for job, job_cfg in self.jobs.items() if job_cfg.kind is JobKind.ETL}

    @property
    def maintenance_job(self) -> str | None:
        """The stack's table-maintenance job (config allows at most one), or None."""
        return next((job for job, job_cfg in self.jobs.items() if job_cfg.kind is JobKind.MAINTENANCE), None)

    def datasets(self) -> list[str]:
        """Every silver/gold dataset of the stack (a table each), sorted."""
        return sorted(str(job_cfg.dataset) for job_cfg in self.dataset_jobs.values())

    def output_bucket(self, job: str) -> str:
        """Where the job's tables live: its layer's bucket; the maintenance job's warehouse is
        the silver bucket (it maintains gold tables too, each at its own location)."""
        job_cfg = self.jobs[job]
        layer = Layer.SILVER if job_cfg.kind is JobKind.MAINTENANCE else job_cfg.layer
        return self.bucket_name(layer.value)

    def triggers_of(self, job: str) -> dict[str, list[str]]:
        return {
            "s3_rules": [k for k, r in self.s3_rules.items() if r.job == job],
            "schedules": [k for k, s in self.schedules.items() if s.job == job],
            "after_job": [k for k, a in self.after_job.items() if a.job == job],
        }


# --------------------------------------------------------------------------------------------
# Loading and validation with errors that name the YAML key.


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Problem(BaseModel):
    model_config = ConfigDict(frozen=True)
    path: str
    message: str
    severity: Severity = Severity.ERROR
    line: int | None = None  # where `path` is in the stack file (1-based), when read from one
    column: int | None = None

    @property
    def where(self) -> str:
        """`path (line L, column C)`, or the path alone when no file position is known."""
        return f"{self.path} (line {self.line}, column {self.column})" if self.line else self.path

    def __str__(self) -> str:
        return f"{self.severity.value}: {self.where}: {self.message}"


class ConfigError(ValueError):
    """The stack config is invalid. `problems` lists every error (and warning) found."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = problems
        errors = [p for p in problems if p.severity is Severity.ERROR]
        lines = "\n".join(f"  - {p.where}: {p.message}" for p in errors)
        super().__init__(f"{source}: {len(errors)} configuration error(s):\n{lines}")


# Keys that once meant something, with what to do instead.
REMOVED_KEYS: dict[str, str] = {
    "bookmarks": (
        "no longer a setting: Glue job bookmarks filter only DynamicFrame reads with a transformation_ctx, "
        "which no job makes, so they never skipped an input; the job's ledger (_ledger/<job>/) does that "
        "on every run. Remove the key"
    ),
}


def _key_path(prefix: str, loc: tuple[Any, ...]) -> str:
    parts = [prefix]
    for item in loc:
        parts.append(f"[{item}]" if isinstance(item, int) else str(item))
    return ".".join(parts).replace(".[", "[")


def _pydantic_problems(prefix: str, error: ValidationError) -> list[Problem]:
    problems = []
    for item in error.errors(include_url=False):
        loc = tuple(x for x in item["loc"] if not (isinstance(x, str) and x.startswith("function-")))
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden" and loc and loc[-1] in REMOVED_KEYS:
            message = REMOVED_KEYS[str(loc[-1])]
        elif item["type"] == "extra_forbidden":
            message = "unknown key (typo?); remove it or check the spelling against the README's config reference"
        elif item["type"] == "missing":
            message = "required key is missing"
        problems.append(Problem(path=_key_path(prefix, loc), message=message))
    return problems


# A maintenance job has no dataset, input or quality gate: these keys would mean nothing.
MAINTENANCE_ONLY_FORBIDS: dict[str, str] = {
    "dataset": "it writes no dataset of its own: it maintains every silver/gold table of the stack",
    "layer": "it maintains the tables of both silver and gold",
    "source": "it reads no input objects",
    "max_drop_ratio": "it has no quality gate (it writes no rows)",
}


@cache
def _declared_jobs() -> dict[str, JobKind]:
    """The jobs the etl package declares, by kind: their names only (etl.job_names), so that
    checking a config imports no job class and none of pyspark."""
    from etl.job_names import DATASET_JOB_NAMES, MAINTENANCE_JOB_NAMES

    return {
        **{job: JobKind.ETL for job in DATASET_JOB_NAMES},
        **{job: JobKind.MAINTENANCE for job in MAINTENANCE_JOB_NAMES},
    }


def _job_kind_problems(job: str, job_cfg: JobConfig, path: str) -> list[Problem]:
    declared = _declared_jobs().get(job)
    if declared is None:
        return [Problem(path=path, message=f"no job module etl/jobs/{job}.py; the job name must match an etl job")]
    if declared is not job_cfg.kind:
        return [
            Problem(
                path=f"{path}.kind",
                message=(
                    f"is {job_cfg.kind.value}, but etl job '{job}' is a{'n' if declared is JobKind.ETL else ''} "
                    f"{declared.value} job; set kind: {declared.value}"
                ),
            )
        ]
    if job_cfg.kind is JobKind.MAINTENANCE:
        return [
            Problem(path=f"{path}.{key}", message=f"not allowed on a maintenance job: {why}")
            for key, why in MAINTENANCE_ONLY_FORBIDS.items()
            if key in job_cfg.model_fields_set
        ]
    return [
        Problem(path=f"{path}.{key}", message=f"required key is missing (an etl job {what})")
        for key, what in (("dataset", "writes one dataset"), ("source", "reads one input prefix"))
        if getattr(job_cfg, key) is None
    ]


def semantic_problems(cfg: PlatformConfig, prefix: str) -> list[Problem]:
    """Cross-field checks pydantic cannot express locally: references, names, overlaps."""
    return [
        problem
        for check in (
            _key_problems,
            _job_problems,
            _writer_problems,
            _s3_rule_problems,
            _schedule_problems,
            _after_job_problems,
            _bucket_name_problems,
            _physical_name_problems,
            _overlap_problems,
        )
        for problem in check(cfg, prefix)
    ]


def _unknown_job(cfg: PlatformConfig, path: str, job: str) -> Problem:
    return Problem(path=path, message=f"unknown job '{job}'; known jobs: {', '.join(sorted(cfg.jobs))}")


def _key_problems(cfg: PlatformConfig, prefix: str) -> list[Problem]:
    return [
        Problem(
            path=f"{prefix}.{key}",
            message=f"key '{key}' must be lowercase letters, digits and '_' starting with a letter",
        )
        for key in [*cfg.jobs, *cfg.s3_rules, *cfg.schedules, *cfg.after_job]
        if not KEY_PATTERN.match(key)
    ]


def _job_problems(cfg: PlatformConfig, prefix: str) -> list[Problem]:
    problems: list[Problem] = []
    for job, job_cfg in cfg.jobs.items():
        path = f"{prefix}.jobs.{job}"
        problems.extend(_job_kind_problems(job, job_cfg, path))
        if job_cfg.max_concurrent_runs != 1:
            what = job_cfg.dataset or "the tables it maintains"
            problems.append(
                Problem(
                    path=f"{path}.max_concurrent_runs",
                    message=(
                        f"is {job_cfg.max_concurrent_runs}; must be 1: a run commits to {what} as it finds it, "
                        "so two at once can lose rows (further runs wait in the runner's retry)"
                    ),
                )
            )
        if job_cfg.layer is Layer.GOLD and job_cfg.source is not None and job_cfg.source.layer is Layer.BRONZE:
            problems.append(
                Problem(path=f"{path}.source.layer", message=("a gold job reads silver; set source.layer: silver"))
            )
    maintenance = [job for job, job_cfg in cfg.jobs.items() if job_cfg.kind is JobKind.MAINTENANCE]
    for job in maintenance[1:]:
        problems.append(
            Problem(
                path=f"{prefix}.jobs.{job}.kind",
                message=(
                    f"a stack has at most one maintenance job (jobs.{maintenance[0]} is one): it maintains every table"
                ),
            )
        )
    return problems


def _writer_problems(cfg: PlatformConfig, prefix: str) -> list[Problem]:
    """One job writes each dataset."""
    problems: list[Problem] = []
    writers: dict[tuple[str, str], str] = {}
    for job, job_cfg in cfg.dataset_jobs.items():
        if job_cfg.dataset is None:
            continue
        target = (job_cfg.layer.value, job_cfg.dataset)
        if target in writers:
            problems.append(
                Problem(
                    path=f"{prefix}.jobs.{job}.dataset",
                    message=(
                        f"{target[0]} dataset '{target[1]}' is already written by job '{writers[target]}'; "
                        "one job writes each dataset (choose another dataset name)"
                    ),
                )
            )
        writers.setdefault(target, job)
    return problems


def _s3_rule_problems(cfg: PlatformConfig, prefix: str) -> list[Problem]:
    problems: list[Problem] = []
    for rule, rule_cfg in cfg.s3_rules.items():
        path = f"{prefix}.s3_rules.{rule}"
        if rule_cfg.job not in cfg.jobs:
            problems.append(_unknown_job(cfg, f"{path}.job", rule_cfg.job))
        elif cfg.jobs[rule_cfg.job].kind is JobKind.MAINTENANCE:
            problems.append(_starts_maintenance(f"{path}.job", rule_cfg.job, "an upload"))
        elif (source := cfg.jobs[rule_cfg.job].source) is not None:
            if not _filter_within(rule_cfg.prefix, rule_cfg.suffix, source.prefix, source.suffix):
                problems.append(
                    Problem(
                        path=path,
                        message=(
                            f"rule sends keys outside job '{rule_cfg.job}' input "
                            f"(jobs.{rule_cfg.job}.source prefix '{source.prefix}', suffix '{source.suffix or ''}'); "
                            "the job may read only its own prefix, so it would refuse them"
                        ),
                    )
                )
    return problems


def _schedule_problems(cfg: PlatformConfig, prefix: str) -> list[Problem]:
    return [
        _unknown_job(cfg, f"{prefix}.schedules.{schedule}.job", sched_cfg.job)
        for schedule, sched_cfg in cfg.schedules.items()
        if sched_cfg.job not in cfg.jobs
    ]


def _after_job_problems(cfg: PlatformConfig, prefix: str) -> list[Problem]:
    problems: list[Problem] = []
    for trigger, after in cfg.after_job.items():
        path = f"{prefix}.after_job.{trigger}"
        for field, job in (("upstream", after.upstream), ("job", after.job)):
            if job not in cfg.jobs:
                problems.append(_unknown_job(cfg, f"{path}.{field}", job))
        if after.job in cfg.jobs and cfg.jobs[after.job].kind is JobKind.MAINTENANCE:
            problems.append(_starts_maintenance(f"{path}.job", after.job, "another job's success"))
        if after.upstream == after.job:
            problems.append(Problem(path=path, message="a job cannot start itself after it succeeds (endless loop)"))
    return problems


def _bucket_name_problems(cfg: PlatformConfig, prefix: str) -> list[Problem]:
    problems = [
        Problem(path=f"{prefix}.bucket_names.{purpose}", message=issue)
        for purpose in BUCKET_PURPOSES
        if (issue := check_name("s3_bucket", cfg.bucket_name(purpose)))
    ]
    physical = [cfg.bucket_name(p) for p in BUCKET_PURPOSES]
    if len(set(physical)) != len(physical):
        problems.append(Problem(path=f"{prefix}.bucket_names", message="two buckets share one physical name"))
    return problems


def _starts_maintenance(path: str, job: str, what: str) -> Problem:
    return Problem(
        path=path,
        message=(
            f"job '{job}' is the maintenance job: it processes no objects and no upstream run, so {what} "
            "must not start it; start it from a schedule (schedules.<key>.job)"
        ),
    )


def physical_names(cfg: PlatformConfig) -> list[tuple[str, str, str]]:
    """(YAML key path below the platform key, kind, physical name) of every named resource
    that a config key gives its name, as the components name them (see `naming.Names`)."""
    names = cfg.names
    found: list[tuple[str, str, str]] = []
    for job in cfg.jobs:
        found += [
            (f"jobs.{job}", kind, name)
            for kind, name in (
                ("glue_job", names.glue_job(job)),
                ("state_machine", names.runner(job)),
                ("iam_role", names.job_role(job)),
                ("iam_role", names.runner_role(job)),
            )
        ]
    for rule in cfg.s3_rules:
        found += [
            (f"s3_rules.{rule}", kind, name)
            for kind, name in (
                ("event_rule", names.s3_rule(rule)),
                ("sqs_queue", names.dead_letter_queue(rule)),
                ("iam_role", names.events_role(rule)),
            )
        ]
    for schedule in cfg.schedules:
        found += [
            (f"schedules.{schedule}", kind, name)
            for kind, name in (
                ("schedule", names.schedule(schedule)),
                ("sqs_queue", names.dead_letter_queue(schedule)),
                ("iam_role", names.events_role(schedule)),
            )
        ]
    for trigger in cfg.after_job:
        found += [
            (f"after_job.{trigger}", kind, name)
            for kind, name in (
                ("event_rule", names.after_job_rule(trigger)),
                ("sqs_queue", names.dead_letter_queue(trigger)),
                ("iam_role", names.events_role(trigger)),
            )
        ]
    found += [
        ("alerts", "event_rule", names.run_failure_rule()),
        ("alerts", "sqs_queue", names.run_failure_queue()),
        ("alerts", "sns_topic", names.alert_topic()),
    ]
    return found


def _physical_name_problems(cfg: PlatformConfig, prefix: str) -> list[Problem]:
    """Every name within AWS's limits, and no two resources of one kind with one name: AWS
    would refuse the second (an IAM role: EntityAlreadyExists), and the program would key
    both triggers by the same name, one silently replacing the other."""
    problems: list[Problem] = []
    named = physical_names(cfg)
    by_path: dict[str, set[tuple[str, str]]] = {}
    for path, kind, name in named:
        by_path.setdefault(path, set()).add((kind, name))
        if issue := check_name(kind, name):
            problems.append(Problem(path=f"{prefix}.{path}", message=issue))
    owners: dict[tuple[str, str], str] = {}
    clashes: dict[tuple[str, str], None] = {}  # (earlier key, later key), in config order
    for path, kind, name in named:
        owner = owners.setdefault((kind, name), path)
        if owner != path:
            clashes[(owner, path)] = None
    for owner, path in clashes:
        shared = ", ".join(
            f"{kind.replace('_', ' ')} '{name}'" for kind, name in sorted(by_path[owner] & by_path[path])
        )
        problems.append(
            Problem(
                path=f"{prefix}.{path}",
                message=(
                    f"{path} and {owner} would both be deployed as {shared}; AWS names are unique per account and "
                    "region, so the second could not be created: rename one of the two keys"
                ),
            )
        )
    return problems


def _filter_within(prefix: str | None, suffix: str | None, src_prefix: str, src_suffix: str | None) -> bool:
    """Does every key matching (prefix, suffix) also match the job's source (src_prefix, src_suffix)?"""
    prefix_ok = bool(prefix and prefix.startswith(src_prefix))
    suffix_ok = src_suffix is None or (suffix is not None and suffix.endswith(src_suffix))
    return prefix_ok and suffix_ok


def filters_overlap(a: S3RuleConfig, b: S3RuleConfig) -> bool:
    """Can one key match both rules? Prefixes must nest and suffixes must nest.

    If one prefix extends the other and one suffix extends the other, the key
    `<longer prefix><longer suffix>` matches both, so they overlap; otherwise no key can.
    """
    pa, pb = a.prefix or "", b.prefix or ""
    sa, sb = a.suffix or "", b.suffix or ""
    prefixes_nest = pa.startswith(pb) or pb.startswith(pa)
    suffixes_nest = sa.endswith(sb) or sb.endswith(sa)
    return prefixes_nest and suffixes_nest


def _overlap_problems(cfg: PlatformConfig, prefix: str) -> list[Problem]:
    problems = []
    rules = sorted((k, r) for k, r in cfg.s3_rules.items() if r.enabled)
    for i, (name_a, rule_a) in enumerate(rules):
        for name_b, rule_b in rules[i + 1 :]:
            if rule_a.layer != rule_b.layer or not filters_overlap(rule_a, rule_b):
                continue
            if rule_a.job == rule_b.job:
                problems.append(
                    Problem(
                        path=f"{prefix}.s3_rules.{name_b}",
                        message=(
                            f"overlaps s3_rules.{name_a}: one upload can match both and start job '{rule_a.job}' twice; "
                            "narrow the prefix/suffix or merge the rules"
                        ),
                    )
                )
            else:
                problems.append(
                    Problem(
                        severity=Severity.WARNING,
                        path=f"{prefix}.s3_rules.{name_b}",
                        message=(
                            f"overlaps s3_rules.{name_a}: one upload can start both '{rule_a.job}' and '{rule_b.job}'"
                        ),
                    )
                )
    return problems


def parse_platform_config(
    raw: Any, source: str = "config", prefix: str = FULL_CONFIG_KEY
) -> tuple[PlatformConfig, list[Problem]]:
    """Validate a raw `data-lake:platform` mapping. Returns (config, warnings); raises ConfigError."""
    if not isinstance(raw, dict):
        raise ConfigError(source, [Problem(path=prefix, message="must be a mapping of platform settings")])
    try:
        cfg = PlatformConfig.model_validate(raw)
    except ValidationError as error:
        # Every error in one pass: the entries with field errors are set aside and the rest
        # is checked for references, overlaps and names too.
        salvaged, removed = _without_invalid_entries(raw, error)
        problems = _pydantic_problems(prefix, error)
        if salvaged is not None:
            problems += [p for p in semantic_problems(salvaged, prefix) if not _about_removed(p, removed)]
        raise ConfigError(source, problems) from None
    problems = semantic_problems(cfg, prefix)
    errors = [p for p in problems if p.severity is Severity.ERROR]
    if errors:
        raise ConfigError(source, problems)
    return cfg, problems


# The sections whose entries are independent of each other: one with a field error can be set
# aside while the others are checked.
ENTRY_SECTIONS: tuple[str, ...] = ("jobs", "s3_rules", "schedules", "after_job")


def _without_invalid_entries(raw: dict[str, Any], error: ValidationError) -> tuple[PlatformConfig | None, set[str]]:
    """The config without the entries (or optional top-level keys) holding a field error,
    validated again; None when what is left cannot be validated. Also the removed names."""
    pruned, removed = copy.deepcopy(raw), set()
    for item in error.errors(include_url=False):
        loc = [x for x in item["loc"] if not (isinstance(x, str) and x.startswith("function-"))]
        section = str(loc[0]) if loc else ""
        if len(loc) >= 2 and section in ENTRY_SECTIONS and isinstance(pruned.get(section), dict):
            pruned[section].pop(loc[1], None)
            removed.add(str(loc[1]))
        elif section in pruned and section not in ("environment", "jobs"):
            pruned.pop(section)
        else:
            return None, removed
    try:
        return PlatformConfig.model_validate(pruned), removed
    except ValidationError:
        return None, removed


def _about_removed(problem: Problem, removed: set[str]) -> bool:
    """A check's finding caused by setting an entry aside (`unknown job 'x'` for an x with a
    field error), not by the config itself."""
    return any(f"'{name}'" in problem.message or f".{name}." in f"{problem.path}." for name in removed)


class StackConfig(BaseModel):
    """What a stack file holds that this project reads."""

    model_config = ConfigDict(frozen=True)
    stack: str
    region: str | None
    platform: PlatformConfig
    warnings: tuple[Problem, ...] = ()


def _placed(problems: list[Problem], text: str) -> list[Problem]:
    """The problems with the line and column of their key in the stack file."""
    from data_platform.yaml_positions import YamlPositions

    positions = YamlPositions(text)
    placed = []
    for problem in problems:
        position = positions.find(problem.path)
        placed.append(
            problem.model_copy(update={"line": position.line, "column": position.column}) if position else problem
        )
    return placed


def stack_file(stack: str, project_dir: Path | str = ".") -> Path:
    return Path(project_dir) / f"Pulumi.{stack}.yaml"


def load_stack(stack: str, project_dir: Path | str = ".", path: Path | str | None = None) -> StackConfig:
    """Load and validate `Pulumi.<stack>.yaml` (or `path`). Raises ConfigError naming the key."""
    file = Path(path) if path else stack_file(stack, project_dir)
    source = str(file)
    if not file.is_file():
        raise ConfigError(
            source,
            [
                Problem(
                    path=str(file),
                    message=(f"stack file not found; create it or pick another stack (looked for {file.name})"),
                )
            ],
        )
    try:
        text = file.read_text(encoding="utf-8")
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        raise ConfigError(
            source, [Problem(path=where, message=f"not valid YAML: {getattr(error, 'problem', error)}")]
        ) from None
    config = document.get("config") if isinstance(document, dict) else None
    if not isinstance(config, dict) or FULL_CONFIG_KEY not in config:
        raise ConfigError(source, [Problem(path=f"config.{FULL_CONFIG_KEY}", message="required key is missing")])
    try:
        platform, warnings = parse_platform_config(config[FULL_CONFIG_KEY], source, f"config.{FULL_CONFIG_KEY}")
    except ConfigError as error:
        raise ConfigError(source, _placed(error.problems, text)) from None
    warnings = _placed(warnings, text)
    return StackConfig(stack=stack, region=config.get("aws:region"), platform=platform, warnings=tuple(warnings))
