"""Alerts: the environment's encrypted SNS topic, its alarms, and one readable message per run
that failed after the runner's retries (its Step Functions execution FAILED, TIMED_OUT or was
ABORTED). Glue's own job-state events are not alerted on: the runner re-runs failed attempts,
so they would mail a transient failure that then succeeds, and a permanent one per attempt."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from data_platform.components import iam
from data_platform.config import PlatformConfig
from data_platform.contract import alerts, events
from data_platform.contract.data_docs import INDEX, SITE, data_docs_prefix

QUARANTINE_NAMESPACE = "DataLake"
QUARANTINE_METRIC = "QuarantinedRows"
GLUE_FAILED_TASKS_METRIC = "glue.driver.aggregate.numFailedTasks"
PERIOD_SECONDS = 300


@dataclass(frozen=True)
class AlarmSpec:
    """One CloudWatch alarm, in plain values (dimension values may be Outputs)."""

    key: str
    description: str
    namespace: str
    metric: str
    dimensions: Mapping[str, pulumi.Input[str]]
    statistic: str = "Sum"
    comparison: str = "GreaterThanOrEqualToThreshold"
    threshold: float = 1


def run_failure_pattern(state_machine_arns: list[str]) -> dict[str, Any]:
    pattern = alerts.runner_failure_pattern(state_machine_arns)
    events.validate_pattern(pattern)
    return pattern


@dataclass(frozen=True)
class AlertsArgs:
    config: PlatformConfig
    account: pulumi.Output[iam.AwsAccount]
    kms_key_arn: pulumi.Input[str]
    runner_arns: Mapping[str, pulumi.Input[str]]  # job -> state machine ARN
    rule_names: Mapping[str, pulumi.Input[str]]  # trigger key -> EventBridge rule name
    dead_letter_queue_names: Mapping[str, pulumi.Input[str]]  # trigger key -> queue name
    schedule_group_name: pulumi.Input[str] | None = None


FAILURE_DLQ_RETENTION_SECONDS = 14 * 24 * 3600


class Alerts(pulumi.ComponentResource):
    topic_arn: pulumi.Output[str]

    def __init__(self, name: str, args: AlertsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("datalake:alerts:Alerts", name, None, opts)
        self._base = name
        self._args = args
        self._cfg = args.config

        self._topic = self._create_topic()
        self._create_subscriptions()
        failure_rule = self._create_run_failure_rule()
        self._create_topic_policy(failure_rule)
        for spec in self._alarm_specs():
            self._create_alarm(spec)

        self.topic_arn = self._topic.arn
        self.register_outputs({"topic_arn": self.topic_arn})

    def _child(self, **kwargs: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **kwargs)

    def _create_topic(self) -> aws.sns.Topic:
        return aws.sns.Topic(
            f"{self._base}-topic",
            name=self._cfg.names.alert_topic(),
            display_name=f"{self._cfg.names.base} data lake alerts",
            kms_master_key_id=self._args.kms_key_arn,
            opts=self._child(),
        )

    def _create_subscriptions(self) -> None:
        for email in self._cfg.alerts.emails:
            aws.sns.TopicSubscription(
                f"{self._base}-email-{email}",
                topic=self._topic.arn,
                protocol="email",
                endpoint=email,
                opts=self._child(),
            )

    def _create_run_failure_rule(self) -> aws.cloudwatch.EventRule:
        names = self._cfg.names
        transformer = alerts.runner_failure_transformer(
            f"s3://{self._cfg.bucket_name('artifacts')}/{data_docs_prefix(self._cfg.environment)}"
        )
        rule = aws.cloudwatch.EventRule(
            f"{self._base}-run-failures",
            name=names.run_failure_rule(),
            description=alerts.RUN_FAILURE_RULE_DESCRIPTION,
            event_pattern=pulumi.Output.all(*self._args.runner_arns.values()).apply(
                lambda arns: json.dumps(run_failure_pattern(list(arns)))
            ),
            opts=self._child(),
        )
        # A failure notice SNS could not take must not vanish: it waits in a DLQ (alarmed below).
        self._failure_dlq = aws.sqs.Queue(
            f"{self._base}-run-failures-dlq",
            name=names.run_failure_queue(),
            message_retention_seconds=FAILURE_DLQ_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            opts=self._child(),
        )
        queue_policy = aws.sqs.QueuePolicy(
            f"{self._base}-run-failures-dlq-policy",
            queue_url=self._failure_dlq.url,
            policy=pulumi.Output.all(self._failure_dlq.arn, rule.arn, self._args.account).apply(
                lambda v: json.dumps(iam.dead_letter_queue_policy(v[0], v[1], v[2].account_id))
            ),
            opts=self._child(),
        )
        aws.cloudwatch.EventTarget(
            f"{self._base}-run-failures-target",
            rule=rule.name,
            target_id="alert-topic",
            arn=self._topic.arn,
            input_transformer={
                "input_paths": dict(transformer.input_paths),
                "input_template": transformer.input_template,
            },
            dead_letter_config={"arn": self._failure_dlq.arn},
            retry_policy={
                "maximum_event_age_in_seconds": self._cfg.delivery.maximum_event_age_seconds,
                "maximum_retry_attempts": self._cfg.delivery.maximum_retry_attempts,
            },
            opts=self._child(depends_on=[queue_policy]),
        )
        return rule

    def _create_topic_policy(self, failure_rule: aws.cloudwatch.EventRule) -> None:
        prefix = f"{self._cfg.names.base}-"
        aws.sns.TopicPolicy(
            f"{self._base}-topic-policy",
            arn=self._topic.arn,
            policy=pulumi.Output.all(self._args.account, self._topic.arn, failure_rule.arn).apply(
                lambda v: json.dumps(iam.alert_topic_policy(v[0], v[1], rule_arns=[v[2]], alarm_name_prefix=prefix))
            ),
            opts=self._child(),
        )

    def _alarm_specs(self) -> list[AlarmSpec]:
        cfg, args, names = self._cfg, self._args, self._cfg.names
        specs: list[AlarmSpec] = []
        for job, arn in args.runner_arns.items():
            for metric, what in (("ExecutionsFailed", "failed"), ("ExecutionsTimedOut", "timed out")):
                specs.append(
                    AlarmSpec(
                        key=f"runner-{job}-{metric}",
                        description=f"A runner execution of {job} {what}",
                        namespace="AWS/States",
                        metric=metric,
                        dimensions={"StateMachineArn": arn},
                    )
                )
        for key, rule_name in args.rule_names.items():
            specs.append(
                AlarmSpec(
                    key=f"rule-{key}-FailedInvocations",
                    description=f"EventBridge could not start the runner for trigger {key}",
                    namespace="AWS/Events",
                    metric="FailedInvocations",
                    dimensions={"RuleName": rule_name},
                )
            )
        if args.schedule_group_name is not None:
            # Scheduler publishes per schedule group only (no per-schedule dimension).
            for metric, what in (
                ("TargetErrorCount", "a runner rejected a scheduled start"),
                ("InvocationDroppedCount", "a scheduled start was dropped after retries"),
            ):
                specs.append(
                    AlarmSpec(
                        key=f"schedules-{metric}",
                        description=f"EventBridge Scheduler: {what}",
                        namespace="AWS/Scheduler",
                        metric=metric,
                        dimensions={"ScheduleGroup": args.schedule_group_name},
                    )
                )
        dead_letter_queues = {**args.dead_letter_queue_names, "run-failures": self._failure_dlq.name}
        for key, queue_name in dead_letter_queues.items():
            specs.append(
                AlarmSpec(
                    key=f"dlq-{key}",
                    description=f"Undeliverable starts of trigger {key} are waiting in its dead-letter queue",
                    namespace="AWS/SQS",
                    metric="ApproximateNumberOfMessagesVisible",
                    dimensions={"QueueName": queue_name},
                    statistic="Maximum",
                    threshold=cfg.alerts.dead_letter_threshold,
                )
            )
        # The quarantine alarm sums the rows of every run in its period, so it names the Data
        # Docs index (newest runs first), not one run's page; its description is in the mail
        # CloudWatch sends (AlarmDescription, at most 1024 characters:
        # https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricAlarm.html).
        docs_index = f"s3://{cfg.bucket_name('artifacts')}/{data_docs_prefix(cfg.environment)}{SITE}{INDEX}"
        for job in cfg.jobs:
            glue_name = names.glue_job(job)
            if job in cfg.dataset_jobs:  # only a dataset job has a quality gate that quarantines
                specs.append(
                    AlarmSpec(
                        key=f"quarantine-{job}",
                        description=f"{job} quarantined rows; each run's validation page: {docs_index}",
                        namespace=QUARANTINE_NAMESPACE,
                        metric=QUARANTINE_METRIC,
                        dimensions={"Environment": cfg.environment, "JobName": glue_name},
                        threshold=cfg.alerts.quarantined_rows_threshold,
                    )
                )
            specs.append(
                AlarmSpec(
                    key=f"glue-{job}-failed-tasks",
                    description=f"Spark tasks of {job} failed",
                    namespace="Glue",
                    metric=GLUE_FAILED_TASKS_METRIC,
                    dimensions={"JobName": glue_name, "JobRunId": "ALL", "Type": "count"},
                    comparison="GreaterThanThreshold",
                    threshold=0,
                )
            )
        return specs

    def _create_alarm(self, spec: AlarmSpec) -> aws.cloudwatch.MetricAlarm:
        return aws.cloudwatch.MetricAlarm(
            f"{self._base}-{spec.key}",
            name=f"{self._cfg.names.base}-{spec.key}",
            alarm_description=spec.description,
            namespace=spec.namespace,
            metric_name=spec.metric,
            dimensions=dict(spec.dimensions),
            statistic=spec.statistic,
            period=PERIOD_SECONDS,
            evaluation_periods=1,
            threshold=spec.threshold,
            comparison_operator=spec.comparison,
            # No data means nothing ran, not that something broke.
            treat_missing_data="notBreaching",
            alarm_actions=[self._topic.arn],
            opts=self._child(),
        )
