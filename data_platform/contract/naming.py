"""Physical resource names and the AWS limits they must respect.

Names are identity in Pulumi state and in AWS, so they are derived deterministically from the
stack config (`<name_prefix>-<environment>-<suffix>`), never from list positions. Every limit
below is checked by config validation, so a name AWS would refuse fails at `lake validate` /
`pulumi preview` instead of half-way through `pulumi up`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class NameLimit:
    kind: str
    max_length: int
    pattern: re.Pattern[str]
    allowed: str  # human wording of `pattern`, used in error messages


# Sources: the service API references (CreateBucket, PutRule, CreateSchedule, CreateJob,
# CreateStateMachine, CreateQueue, CreateRole, CreateTopic, CreateLogGroup, PutMetricAlarm).
LIMITS: dict[str, NameLimit] = {
    limit.kind: limit
    for limit in (
        NameLimit(
            "s3_bucket",
            63,
            re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"),
            "3-63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit",
        ),
        NameLimit("event_rule", 64, re.compile(r"^[\.\-_A-Za-z0-9]+$"), "letters, digits, '.', '-' and '_'"),
        NameLimit("schedule", 64, re.compile(r"^[0-9a-zA-Z\-_.]+$"), "letters, digits, '.', '-' and '_'"),
        NameLimit("schedule_group", 64, re.compile(r"^[0-9a-zA-Z\-_.]+$"), "letters, digits, '.', '-' and '_'"),
        NameLimit("glue_job", 255, re.compile(r"^[\u0020-\uD7FF\uE000-\uFFFD\t]+$"), "printable characters"),
        NameLimit("state_machine", 80, re.compile(r"^[0-9A-Za-z_-]+$"), "letters, digits, '-' and '_'"),
        NameLimit("sqs_queue", 80, re.compile(r"^[0-9A-Za-z_-]+$"), "letters, digits, '-' and '_'"),
        NameLimit("iam_role", 64, re.compile(r"^[\w+=,.@-]+$"), "letters, digits and '+=,.@-_'"),
        NameLimit("sns_topic", 256, re.compile(r"^[0-9A-Za-z_-]+$"), "letters, digits, '-' and '_'"),
        NameLimit("alarm", 255, re.compile(r"^[\u0020-\u007E]+$"), "printable ASCII"),
        NameLimit("glue_database", 255, re.compile(r"^[a-z0-9_]+$"), "lowercase letters, digits and '_'"),
        NameLimit("glue_table", 255, re.compile(r"^[a-z0-9_]+$"), "lowercase letters, digits and '_'"),
        NameLimit("log_group", 512, re.compile(r"^[\.\-_/#A-Za-z0-9]+$"), "letters, digits and '._-/#'"),
    )
}


def check_name(kind: str, name: str) -> str | None:
    """Return a readable problem if `name` breaks the AWS rules for `kind`, else None."""
    limit = LIMITS[kind]
    if len(name) > limit.max_length:
        return (
            f"{kind.replace('_', ' ')} name '{name}' is {len(name)} characters; AWS allows at most "
            f"{limit.max_length}. Use a shorter key or a shorter name_prefix."
        )
    if not limit.pattern.match(name):
        return f"{kind.replace('_', ' ')} name '{name}' may contain only {limit.allowed}."
    return None


# The stack's buckets by purpose: the medallion's data layers, the job code, the access logs.
DATA_LAYERS: tuple[str, ...] = ("bronze", "silver", "gold")
ARTIFACTS = "artifacts"
ACCESS_LOGS = "access_logs"
BUCKET_PURPOSES: tuple[str, ...] = (*DATA_LAYERS, ARTIFACTS, ACCESS_LOGS)

# The first part of every name unless the stack config sets `name_prefix`; a job run without a
# bucket or database argument (a local run by hand) uses the default names of its environment.
DEFAULT_NAME_PREFIX = "data-lake"


@dataclass(frozen=True)
class Names:
    """All physical names of one stack. Pure: the Pulumi program and the local runtime share it."""

    prefix: str  # e.g. "data-lake"
    environment: str  # e.g. "dev"

    @property
    def base(self) -> str:
        return f"{self.prefix}-{self.environment}"

    def bucket(self, purpose: str) -> str:
        return f"{self.base}-{purpose}"

    def glue_job(self, job: str) -> str:
        return f"{self.base}-{job}"

    def runner(self, job: str) -> str:
        return f"{self.base}-{job}-runner"

    def job_role(self, job: str) -> str:
        return f"{self.base}-{job}-job"

    def runner_role(self, job: str) -> str:
        return f"{self.base}-{job}-runner"

    def s3_rule(self, rule: str) -> str:
        return f"{self.base}-{rule}"

    def after_job_rule(self, trigger: str) -> str:
        return f"{self.base}-{trigger}"

    def schedule(self, schedule: str) -> str:
        return f"{self.base}-{schedule}"

    def schedule_group(self) -> str:
        return self.base

    def dead_letter_queue(self, trigger: str) -> str:
        return f"{self.base}-{trigger}-dlq"

    def events_role(self, trigger: str) -> str:
        return f"{self.base}-{trigger}-events"

    def alert_topic(self) -> str:
        return f"{self.base}-alerts"

    # The alert rule and its queue carry '-' in their suffix, which no config key may hold, so
    # no trigger key can ever give another resource the same name.
    def run_failure_rule(self) -> str:
        return f"{self.base}-run-failures"

    def run_failure_queue(self) -> str:
        return f"{self.base}-run-failures-dlq"

    def glue_database(self) -> str:
        # Glue/Athena database names are lowercase with underscores only.
        return re.sub(r"[^a-z0-9_]", "_", self.base.lower())

    def log_group(self, job: str) -> str:
        return f"/aws-glue/jobs/{self.base}-{job}"
