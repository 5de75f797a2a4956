"""LocalLake: the stack's buckets as folders, and the event path S3 -> EventBridge -> runner.

Nothing here decides routing or arguments on its own: the S3 pattern comes from
`events.s3_object_created_pattern` (what the Pulumi program deploys), the runner input from
the rule's input transformer (`contract.runs.s3_event_transformer`), the job arguments from
`job_arguments.job_run_arguments`, after-job chaining from the `Glue Job State Change` event
matched against `contract.runs.upstream_succeeded_pattern`, and the alert of a failed run from
`contract.alerts`. So a file that starts a job here
starts the same job with the same arguments on AWS.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from data_platform import job_arguments
from data_platform.config import PlatformConfig, StackConfig
from data_platform.contract import alerts, events
from data_platform.contract.data_docs import EXECUTION_NAME_ARGUMENT, data_docs_prefix
from data_platform.contract.naming import DATA_LAYERS
from data_platform.contract.runs import (
    glue_job_state_change_event,
    glue_state,
    job_succeeded_transformer,
    runner_input,
    s3_event_transformer,
    schedule_input,
    upstream_succeeded_pattern,
)
from data_platform.local import LakeError
from data_platform.local.buckets import BucketFolder, StoredObject, parse_target
from data_platform.local.history import History
from data_platform.local.records import RunRecord
from data_platform.local.runner import JobFn, LocalRunner, Progress, RunRequest, retry_scale_from_env
from data_platform.local.spark import spark_job_fn

MAX_CHAIN_DEPTH = 10  # after-job rules could form a cycle (a -> b -> a); the cloud would loop
ACCOUNT = "123456789012"  # stands in for the AWS account in the ARNs of local events


def new_run_id(now: datetime | None = None) -> str:
    """Sortable by start time, unique across processes; letters, digits and '-' only."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"local-{moment:%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"


@dataclass(frozen=True)
class RuleMatch:
    rule: str
    job: str


@dataclass(frozen=True)
class NoMatch:
    nearest_rule: str | None
    reason: str

    def message(self, key: str) -> str:
        if self.nearest_rule is None:
            return f"no rule matched {key}: {self.reason}; the file is kept in bronze"
        return f"no rule matched {key}; nearest rule {self.nearest_rule}: {self.reason}. The file is kept in bronze"


def s3_rules(cfg: PlatformConfig) -> list[tuple[str, str, dict[str, Any]]]:
    """(rule, job, the pattern the Pulumi program deploys) for every enabled S3 rule."""
    rules = []
    for name, rule in sorted(cfg.s3_rules.items()):
        if rule.enabled:
            bucket = cfg.bucket_name(rule.layer.value)
            rules.append((name, rule.job, events.s3_object_created_pattern(bucket, rule.prefix, rule.suffix)))
    return rules


def route(cfg: PlatformConfig, event: Mapping[str, Any]) -> list[RuleMatch]:
    """The S3 rules whose deployed pattern matches `event`, matched by the project's engine."""
    return [RuleMatch(name, job) for name, job, pattern in s3_rules(cfg) if events.matches(pattern, dict(event))]


def explain_no_match(cfg: PlatformConfig, event: Mapping[str, Any]) -> NoMatch:
    """The rule the key came closest to (longest common prefix, then suffix) and why it missed."""
    rules = s3_rules(cfg)
    if not rules:
        return NoMatch(None, "the stack has no enabled s3_rules")
    key = str(event.get("detail", {}).get("object", {}).get("key", ""))

    def closeness(item: tuple[str, str, dict[str, Any]]) -> tuple[int, bool]:
        rule = cfg.s3_rules[item[0]]
        return len(os.path.commonprefix([key, rule.prefix or ""])), key.endswith(rule.suffix or "")

    name, _job, pattern = max(rules, key=closeness)
    rule = cfg.s3_rules[name]
    wanted = f"prefix '{rule.prefix or ''}'" + (f", suffix '{rule.suffix}'" if rule.suffix else "")
    reason = events.describe_mismatch(pattern, dict(event)) or "it matches (unexpected)"
    return NoMatch(name, f"({wanted}, job {rule.job}) {reason}")


@dataclass
class Dispatch:
    """What one Object Created event did."""

    key: str
    event: dict[str, Any]
    matched: list[RuleMatch]
    runs: list[RunRecord] = field(default_factory=list)
    no_match: NoMatch | None = None
    replaced: bool = False

    @property
    def failed(self) -> bool:
        return any(run.failed for run in self.runs)


class LocalLake:
    """One stack's lake under one home directory."""

    def __init__(
        self,
        stack: StackConfig,
        home: Path | str,
        *,
        job_fn: JobFn | None = None,
        history: History | None = None,
        runner: LocalRunner | None = None,
        progress: Progress | None = None,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.stack = stack
        self.cfg: PlatformConfig = stack.platform
        self.home = Path(home).expanduser().resolve()
        self.home.mkdir(parents=True, exist_ok=True)
        for purpose in DATA_LAYERS:
            (self.home / self.cfg.bucket_name(purpose)).mkdir(exist_ok=True)
        self._bronze = BucketFolder(self.home, self.cfg.bucket_name("bronze"))
        self.clock = clock or (lambda: datetime.now(UTC))
        self.progress = progress or (lambda _message: None)
        self.history = history or History.for_home(self.home)
        if runner is None:
            runner = LocalRunner(
                self.history,
                job_fn or spark_job_fn,
                retry_scale=retry_scale_from_env(),
                sleep=sleep or time.sleep,
                progress=self._progress,
            )
        self.runner = runner
        self.region = stack.region or "us-east-1"
        for run in self.history.reap_dead_runs():
            self._alert_failed_run(run)

    def _progress(self, message: str) -> None:
        self.progress(message)

    def close(self) -> None:
        self.history.close()

    # -- buckets and objects --------------------------------------------------------------

    @property
    def bronze(self) -> str:
        return self.cfg.bucket_name("bronze")

    def bucket_dir(self, bucket: str) -> Path:
        return self.home / bucket

    @property
    def data_docs_dir(self) -> Path:
        """The stack's Data Docs folder (`data-docs/<env>/` of the artifacts bucket's folder)."""
        return self.home / self.cfg.bucket_name("artifacts") / data_docs_prefix(self.cfg.environment)

    def object_path(self, bucket: str, key: str) -> Path:
        """The file holding `key`; refused if it would resolve outside the bucket folder."""
        return BucketFolder(self.home, bucket).object_path(key)

    def parse_target(self, target: str) -> str:
        """`KEY` or `s3://<bronze>/KEY` -> KEY; any other bucket is refused."""
        return parse_target(target, self.bronze, why="files enter the lake through bronze only")

    def put_object(self, source: Path | str, key: str) -> StoredObject:
        """Copy `source` into bronze at `key`, whole (see `BucketFolder.put`). It is recorded as
        seen before it appears, so `lake watch` never routes this upload a second time."""
        return self._bronze.put(
            source,
            key,
            before_visible=lambda size, mtime_ns: self.history.claim_object(self.bronze, key, size, mtime_ns),
        )

    def stored_object(self, key: str, *, with_etag: bool = True) -> StoredObject:
        return self._bronze.stored(key, with_etag=with_etag)

    def bronze_objects(self, prefix: str = "") -> Iterator[StoredObject]:
        """Objects in local bronze under `prefix`, sorted by key; hidden/temp files skipped."""
        yield from self._bronze.objects(prefix)

    # -- events and routing ---------------------------------------------------------------

    def object_created_event(self, obj: StoredObject, time: datetime | None = None) -> dict[str, Any]:
        return events.s3_object_created_event(
            obj.bucket, obj.key, obj.size, etag=obj.etag or "0" * 32, region=self.region, time=time or self.clock()
        )

    def s3_rules(self) -> list[tuple[str, str, dict[str, Any]]]:
        return s3_rules(self.cfg)

    def route(self, event: Mapping[str, Any]) -> list[RuleMatch]:
        return route(self.cfg, event)

    def explain_no_match(self, event: Mapping[str, Any]) -> NoMatch:
        return explain_no_match(self.cfg, event)

    def dispatch(self, obj: StoredObject, *, event_time: datetime | None = None) -> Dispatch:
        """Emit `Object Created` for `obj`, route it, run every matched job (and what follows)."""
        if not obj.etag:
            obj = self.stored_object(obj.key)
        event = self.object_created_event(obj, event_time)
        matched = self.route(event)
        dispatch = Dispatch(obj.key, event, matched, replaced=obj.replaced)
        if not matched:
            dispatch.no_match = self.explain_no_match(event)
            return dispatch
        transformer = s3_event_transformer()
        for match in matched:
            dispatch.runs.extend(self.start_run(match.job, transformer.apply(event), trigger_name=match.rule))
        return dispatch

    def upload(self, source: Path | str, target: str) -> Dispatch:
        """`lake upload`: store in bronze, then what S3 + EventBridge would do."""
        key = self.parse_target(target)
        return self.dispatch(self.put_object(source, key))

    # -- runs -----------------------------------------------------------------------------

    def known_job(self, job: str) -> str:
        if job not in self.cfg.jobs:
            raise LakeError(f"unknown job '{job}'; known jobs: {', '.join(sorted(self.cfg.jobs))}", exit_code=2)
        return job

    def start_run(
        self, job: str, run_input: Mapping[str, str], *, trigger_name: str = "", depth: int = 0
    ) -> list[RunRecord]:
        """Run `job` through the local runner; then route its Glue state change. Returns the run
        and every run it started (after-job rules), in order."""
        self.known_job(job)
        job_cfg = self.cfg.jobs[job]
        glue_job = self.cfg.names.glue_job(job)
        run_id = new_run_id(self.clock())
        arguments = job_arguments.job_run_arguments(self.cfg, job, run_input)
        arguments["--JOB_RUN_ID"] = run_id
        arguments["--storage_root"] = str(self.home)
        # The runner execution that starts the run: locally the run itself (its alert names it so).
        arguments[EXECUTION_NAME_ARGUMENT] = run_id
        record = self.runner.run(
            RunRequest(
                job=job,
                glue_job=glue_job,
                env=self.cfg.environment,
                run_id=run_id,
                arguments=arguments,
                run_input=dict(run_input),
                max_concurrent_runs=job_cfg.max_concurrent_runs,
                max_retries=job_cfg.max_retries,
                trigger_name=trigger_name,
            )
        )
        runs = [record]
        if record.failed:
            # The runner's execution failed after all its retries: one alert, as the cloud's
            # rule on the execution status sends it (a recovered attempt sends none).
            self._alert_failed_run(record)
            if record.attempts == 0:
                return runs  # Glue never started the run: no Glue event either
        event = glue_job_state_change_event(
            glue_job,
            run_id,
            glue_state(record.state),
            message=record.error or "",
            region=self.region,
            time=self.clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        runs.extend(self._after_job(event, depth))
        return runs

    def _after_job(self, event: dict[str, Any], depth: int) -> list[RunRecord]:
        runs: list[RunRecord] = []
        transformer = job_succeeded_transformer()
        for name, after in sorted(self.cfg.after_job.items()):
            pattern = upstream_succeeded_pattern(self.cfg.names.glue_job(after.upstream))
            if not after.enabled or not events.matches(pattern, event):
                continue
            if depth >= MAX_CHAIN_DEPTH:
                self.progress(
                    f"after_job.{name}: not started; {MAX_CHAIN_DEPTH} chained runs already "
                    "(do the after_job rules form a cycle?)"
                )
                continue
            runs.extend(self.start_run(after.job, transformer.apply(event), trigger_name=name, depth=depth + 1))
        return runs

    def run_manual(self, job: str, key: str | None = None) -> list[RunRecord]:
        """`lake run JOB [--key KEY]`: what `aws glue start-job-run` through the runner does."""
        self.known_job(job)
        if key:
            key = self.parse_target(key)
            self.stored_object(key, with_etag=False)  # a clear error if it is not there
            run_input = runner_input("manual", source_bucket=self.bronze, source_key=key)
        else:
            run_input = runner_input("manual")
        return self.start_run(job, run_input, trigger_name="manual")

    def fire_schedule(self, schedule: str, instant: datetime) -> list[RunRecord]:
        """What EventBridge Scheduler sends the runner at `instant` (its static input)."""
        sched = self.cfg.schedules[schedule]
        self.progress(f"schedule {schedule} fires ({instant.astimezone(UTC):%Y-%m-%d %H:%M}Z) -> {sched.job}")
        return self.start_run(sched.job, schedule_input(), trigger_name=schedule)

    def replay(self, prefix: str, since: datetime | None = None) -> list[Dispatch]:
        """Re-emit Object Created for objects already in bronze (jobs are idempotent)."""
        if prefix:
            if prefix.startswith("/") or "\x00" in prefix or ".." in prefix.split("/"):
                raise LakeError(f"prefix {prefix!r} must be a relative key prefix such as sales/")
        results = []
        for obj in self.bronze_objects(prefix):
            if since is not None and obj.mtime_ns < since.timestamp() * 1e9:
                continue
            results.append(self.dispatch(obj))
        return results

    # -- alerts ---------------------------------------------------------------------------

    def _alert_failed_run(self, run: RunRecord) -> None:
        """The runner's execution failed: the event Step Functions emits, through the alert
        rule's input transformer, into the outbox. A run Glue never started fails with the
        runner's error; a run that failed carries Glue's job run as the cause."""
        runner = self.cfg.names.runner(run.job)
        error, cause = alerts.failed_execution_error(
            run.glue_job, run.run_id, run.error or "no error message", started=bool(run.attempts)
        )
        status = alerts.ExecutionStatus.FAILED
        event = alerts.execution_status_change_event(
            f"arn:aws:states:{self.region}:{ACCOUNT}:stateMachine:{runner}",
            run.run_id,
            status,
            error=error,
            cause=cause,
            region=self.region,
            account=ACCOUNT,
        )
        self.history.add_alert(
            topic=self.cfg.names.alert_topic(),
            subject=alerts.alert_subject(runner, status),
            message=alerts.alert_message(event, str(self.data_docs_dir)),
            job=run.job,
            run_id=run.run_id,
            state=str(status),
        )
