"""DataPlatform: the whole lake of one stack, composed from the typed config."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from data_platform.components import iam
from data_platform.components.alerts import Alerts, AlertsArgs
from data_platform.components.catalog import DataCatalog, DataCatalogArgs, IcebergTableDefinition
from data_platform.components.glue_job import GlueJob, GlueJobArgs
from data_platform.components.packaging import ETL_DIR, build_package, entry_script
from data_platform.components.runner import JobRunner, JobRunnerArgs
from data_platform.components.storage import BUCKETS, MedallionBuckets, MedallionBucketsArgs
from data_platform.components.triggers import (
    JobSucceededTrigger,
    JobSucceededTriggerArgs,
    S3EventTrigger,
    S3EventTriggerArgs,
    ScheduleTrigger,
    ScheduleTriggerArgs,
)
from data_platform.config import PlatformConfig


@dataclass(frozen=True)
class DataPlatformArgs:
    config: PlatformConfig
    tables: Mapping[str, IcebergTableDefinition]  # dataset job -> its dataset's table (from etl.jobs)
    etl_dir: Path = ETL_DIR
    tracing: bool = False


class DataPlatform(pulumi.ComponentResource):
    bucket_names: dict[str, pulumi.Output[str]]
    job_names: dict[str, pulumi.Output[str]]
    runner_arns: dict[str, pulumi.Output[str]]
    alert_topic_arn: pulumi.Output[str]

    def __init__(self, name: str, args: DataPlatformArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("datalake:platform:DataPlatform", name, None, opts)
        self._base = name
        self._args = args
        self._cfg = args.config
        missing = sorted(set(self._cfg.dataset_jobs) - set(args.tables))
        if missing:
            raise ValueError(f"no declared schema for job(s) {', '.join(missing)}; add them to etl.jobs.REGISTRY")

        self._account = self._lookup_account()
        self._storage = MedallionBuckets(
            f"{name}-storage", MedallionBucketsArgs(config=self._cfg, account=self._account), opts=self._child()
        )
        self._jobs = self._create_jobs()
        self._runners = self._create_runners()
        self._schedule_group = self._create_schedule_group()
        triggers = self._create_triggers()
        self._alerts = self._create_alerts(triggers)
        self._catalog = DataCatalog(
            f"{name}-catalog", DataCatalogArgs(config=self._cfg, tables=args.tables), opts=self._child()
        )

        self.bucket_names = {purpose: self._storage.bucket_names[purpose] for purpose in BUCKETS}
        self.job_names = {job: glue_job.job_name for job, glue_job in self._jobs.items()}
        self.runner_arns = {job: runner.state_machine_arn for job, runner in self._runners.items()}
        self.alert_topic_arn = self._alerts.topic_arn
        self.register_outputs(
            {
                "bucket_names": self.bucket_names,
                "job_names": self.job_names,
                "runner_arns": self.runner_arns,
                "alert_topic_arn": self.alert_topic_arn,
            }
        )

    def _child(self, **kwargs: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **kwargs)

    def _lookup_account(self) -> pulumi.Output[iam.AwsAccount]:
        invoke = pulumi.InvokeOutputOptions(parent=self)
        identity = aws.get_caller_identity_output(opts=invoke)
        region = aws.get_region_output(opts=invoke)
        partition = aws.get_partition_output(opts=invoke)
        return pulumi.Output.all(identity.account_id, region.region, partition.partition).apply(
            lambda v: iam.AwsAccount(account_id=v[0], region=v[1], partition=v[2])
        )

    def _create_jobs(self) -> dict[str, GlueJob]:
        package = build_package(self._args.etl_dir)
        return {
            job: GlueJob(
                f"{self._base}-job-{job}",
                GlueJobArgs(
                    config=self._cfg,
                    job=job,
                    account=self._account,
                    artifacts_bucket=self._storage.bucket_names["artifacts"],
                    kms_key_arn=self._storage.kms_key_arn,
                    package=package,
                    script=entry_script(job, self._args.etl_dir),
                ),
                opts=self._child(),
            )
            for job in self._cfg.jobs
        }

    def _create_runners(self) -> dict[str, JobRunner]:
        return {
            job: JobRunner(
                f"{self._base}-runner-{job}",
                JobRunnerArgs(
                    config=self._cfg,
                    job=job,
                    account=self._account,
                    glue_job_name=glue_job.job_name,
                    glue_job_arn=glue_job.job_arn,
                    kms_key_arn=self._storage.kms_key_arn,
                    tracing=self._args.tracing,
                ),
                opts=self._child(),
            )
            for job, glue_job in self._jobs.items()
        }

    def _create_triggers(self) -> dict[str, S3EventTrigger | ScheduleTrigger | JobSucceededTrigger]:
        cfg = self._cfg
        triggers: dict[str, S3EventTrigger | ScheduleTrigger | JobSucceededTrigger] = {}
        for rule, rule_cfg in cfg.s3_rules.items():
            triggers[rule] = S3EventTrigger(
                f"{self._base}-s3-{rule}",
                S3EventTriggerArgs(
                    config=cfg,
                    rule=rule,
                    runner_arn=self._runners[rule_cfg.job].state_machine_arn,
                    account=self._account,
                ),
                opts=self._child(),
            )
        for schedule, sched_cfg in cfg.schedules.items():
            assert self._schedule_group is not None, "a stack with schedules has a schedule group"
            triggers[schedule] = ScheduleTrigger(
                f"{self._base}-schedule-{schedule}",
                ScheduleTriggerArgs(
                    config=cfg,
                    schedule=schedule,
                    runner_arn=self._runners[sched_cfg.job].state_machine_arn,
                    schedule_group_name=self._schedule_group.name,
                    account=self._account,
                ),
                opts=self._child(),
            )
        for trigger, after in cfg.after_job.items():
            triggers[trigger] = JobSucceededTrigger(
                f"{self._base}-after-{trigger}",
                JobSucceededTriggerArgs(
                    config=cfg,
                    trigger=trigger,
                    runner_arn=self._runners[after.job].state_machine_arn,
                    account=self._account,
                ),
                opts=self._child(),
            )
        return triggers

    def _create_schedule_group(self) -> aws.scheduler.ScheduleGroup | None:
        if not self._cfg.schedules:
            return None
        return aws.scheduler.ScheduleGroup(
            f"{self._base}-schedules", name=self._cfg.names.schedule_group(), opts=self._child()
        )

    def _create_alerts(self, triggers: Mapping[str, S3EventTrigger | ScheduleTrigger | JobSucceededTrigger]) -> Alerts:
        rule_names = {key: t.rule_name for key, t in triggers.items() if not isinstance(t, ScheduleTrigger)}
        return Alerts(
            f"{self._base}-alerts",
            AlertsArgs(
                config=self._cfg,
                account=self._account,
                kms_key_arn=self._storage.kms_key_arn,
                runner_arns={job: runner.state_machine_arn for job, runner in self._runners.items()},
                rule_names=rule_names,
                dead_letter_queue_names={key: t.dead_letter_queue_name for key, t in triggers.items()},
                schedule_group_name=self._schedule_group.name if self._schedule_group else None,
            ),
            opts=self._child(),
        )
