"""Triggers: what starts a job's runner. Never a Glue job directly (EventBridge cannot target
one); always the runner, with a retry policy, a dead-letter queue and a role that may start
exactly that runner.

- S3EventTrigger: EventBridge rule on bronze `Object Created` with the rule's key filter.
- ScheduleTrigger: EventBridge Scheduler schedule (cron/rate/at, time zone, flexible window).
- JobSucceededTrigger: EventBridge rule on `Glue Job State Change` SUCCEEDED of an upstream job.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from data_platform.components import iam
from data_platform.config import PlatformConfig
from data_platform.contract import events, runs

DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600  # SQS maximum
TARGET_ID = "runner"


def flexible_time_window(minutes: int) -> aws.scheduler.ScheduleFlexibleTimeWindowArgsDict:
    if minutes == 0:
        return {"mode": "OFF"}
    return {"mode": "FLEXIBLE", "maximum_window_in_minutes": minutes}


def retry_policy(cfg: PlatformConfig) -> aws.cloudwatch.EventTargetRetryPolicyArgsDict:
    # The same shape as a schedule target's aws.scheduler.ScheduleTargetRetryPolicyArgsDict.
    return {
        "maximum_event_age_in_seconds": cfg.delivery.maximum_event_age_seconds,
        "maximum_retry_attempts": cfg.delivery.maximum_retry_attempts,
    }


def input_transformer(transformer: runs.InputTransformer) -> aws.cloudwatch.EventTargetInputTransformerArgsDict:
    return {"input_paths": dict(transformer.input_paths), "input_template": transformer.input_template}


def s3_rule_pattern(cfg: PlatformConfig, rule: str) -> dict[str, Any]:
    rule_cfg = cfg.s3_rules[rule]
    return events.s3_object_created_pattern(cfg.bucket_name(rule_cfg.layer.value), rule_cfg.prefix, rule_cfg.suffix)


def job_succeeded_pattern(cfg: PlatformConfig, trigger: str) -> dict[str, Any]:
    upstream = cfg.after_job[trigger].upstream
    pattern = runs.upstream_succeeded_pattern(cfg.names.glue_job(upstream))
    events.validate_pattern(pattern)
    return pattern


class _Trigger(pulumi.ComponentResource):
    """What every trigger has: a dead-letter queue and a role that starts one runner."""

    dead_letter_queue_arn: pulumi.Output[str]
    dead_letter_queue_name: pulumi.Output[str]
    target_arn: pulumi.Output[str]

    def __init__(
        self, token: str, name: str, cfg: PlatformConfig, key: str, opts: pulumi.ResourceOptions | None
    ) -> None:
        super().__init__(token, name, None, opts)
        self._base = name
        self._cfg = cfg
        self._key = key

    def _child(self, **kwargs: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **kwargs)

    def _create_dead_letter_queue(self) -> aws.sqs.Queue:
        queue = aws.sqs.Queue(
            f"{self._base}-dlq",
            name=self._cfg.names.dead_letter_queue(self._key),
            message_retention_seconds=DEAD_LETTER_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            opts=self._child(),
        )
        self.dead_letter_queue_arn = queue.arn
        self.dead_letter_queue_name = queue.name
        return queue

    def _create_role(
        self, service: str, assume_policy: pulumi.Input[str], policy: pulumi.Input[str]
    ) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        role = aws.iam.Role(
            f"{self._base}-role",
            name=self._cfg.names.events_role(self._key),
            description=f"{service} starts one runner for trigger {self._key}",
            assume_role_policy=assume_policy,
            opts=self._child(),
        )
        role_policy = aws.iam.RolePolicy(f"{self._base}-role-policy", role=role.id, policy=policy, opts=self._child())
        return role, role_policy


@dataclass(frozen=True)
class _RuleSpec:
    """What an EventBridge rule trigger matches and sends: the rest is the same for every one."""

    name: str
    description: str
    pattern: dict[str, Any]
    enabled: bool
    transformer: runs.InputTransformer


class _RuleTrigger(_Trigger):
    """An EventBridge rule on the default bus -> the runner, with an input transformer."""

    rule_name: pulumi.Output[str]
    rule_arn: pulumi.Output[str]

    def __init__(
        self,
        token: str,
        name: str,
        cfg: PlatformConfig,
        key: str,
        spec: _RuleSpec,
        runner_arn: pulumi.Input[str],
        account: pulumi.Output[iam.AwsAccount],
        opts: pulumi.ResourceOptions | None,
    ) -> None:
        super().__init__(token, name, cfg, key, opts)
        self._create_rule_and_target(spec, runner_arn, account)
        self.register_outputs({"rule_name": self.rule_name, "dead_letter_queue_arn": self.dead_letter_queue_arn})

    def _create_rule_and_target(
        self, spec: _RuleSpec, runner_arn: pulumi.Input[str], account: pulumi.Output[iam.AwsAccount]
    ) -> None:
        rule = aws.cloudwatch.EventRule(
            f"{self._base}-rule",
            name=spec.name,
            description=spec.description,
            event_pattern=json.dumps(spec.pattern),
            state="ENABLED" if spec.enabled else "DISABLED",
            opts=self._child(),
        )
        queue = self._create_dead_letter_queue()
        queue_policy = aws.sqs.QueuePolicy(
            f"{self._base}-dlq-policy",
            queue_url=queue.url,
            policy=pulumi.Output.all(queue.arn, rule.arn, account).apply(
                lambda v: json.dumps(iam.dead_letter_queue_policy(v[0], v[1], v[2].account_id))
            ),
            opts=self._child(),
        )
        # EventBridge sets no aws:SourceAccount when assuming a target role; the role can only
        # start this one runner, and only rules in this account can name it.
        role, role_policy = self._create_role(
            "EventBridge",
            json.dumps(iam.assume_role_policy("events.amazonaws.com")),
            pulumi.Output.from_input(runner_arn).apply(lambda arn: json.dumps(iam.start_execution_policy(arn))),
        )
        aws.cloudwatch.EventTarget(
            f"{self._base}-target",
            rule=rule.name,
            target_id=TARGET_ID,
            arn=runner_arn,
            role_arn=role.arn,
            input_transformer=input_transformer(spec.transformer),
            retry_policy=retry_policy(self._cfg),
            dead_letter_config={"arn": queue.arn},
            opts=self._child(depends_on=[role_policy, queue_policy]),
        )
        self.rule_name = rule.name
        self.rule_arn = rule.arn
        self.target_arn = pulumi.Output.from_input(runner_arn)


@dataclass(frozen=True)
class S3EventTriggerArgs:
    config: PlatformConfig
    rule: str
    runner_arn: pulumi.Input[str]
    account: pulumi.Output[iam.AwsAccount]


class S3EventTrigger(_RuleTrigger):
    def __init__(self, name: str, args: S3EventTriggerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(
            "datalake:triggers:S3EventTrigger",
            name,
            args.config,
            args.rule,
            s3_rule_spec(args.config, args.rule),
            args.runner_arn,
            args.account,
            opts,
        )


def s3_rule_spec(cfg: PlatformConfig, rule: str) -> _RuleSpec:
    rule_cfg = cfg.s3_rules[rule]
    description = f"{rule_cfg.layer.value} objects {rule_cfg.prefix or ''}*{rule_cfg.suffix or ''} start {rule_cfg.job}"
    return _RuleSpec(
        cfg.names.s3_rule(rule), description, s3_rule_pattern(cfg, rule), rule_cfg.enabled, runs.s3_event_transformer()
    )


@dataclass(frozen=True)
class JobSucceededTriggerArgs:
    config: PlatformConfig
    trigger: str
    runner_arn: pulumi.Input[str]
    account: pulumi.Output[iam.AwsAccount]


class JobSucceededTrigger(_RuleTrigger):
    def __init__(self, name: str, args: JobSucceededTriggerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(
            "datalake:triggers:JobSucceededTrigger",
            name,
            args.config,
            args.trigger,
            job_succeeded_spec(args.config, args.trigger),
            args.runner_arn,
            args.account,
            opts,
        )


def job_succeeded_spec(cfg: PlatformConfig, trigger: str) -> _RuleSpec:
    after = cfg.after_job[trigger]
    return _RuleSpec(
        cfg.names.after_job_rule(trigger),
        f"{after.upstream} SUCCEEDED starts {after.job}",
        job_succeeded_pattern(cfg, trigger),
        after.enabled,
        runs.job_succeeded_transformer(),
    )


@dataclass(frozen=True)
class ScheduleTriggerArgs:
    config: PlatformConfig
    schedule: str
    runner_arn: pulumi.Input[str]
    schedule_group_name: pulumi.Input[str]
    account: pulumi.Output[iam.AwsAccount]


class ScheduleTrigger(_Trigger):
    schedule_name: pulumi.Output[str]

    def __init__(self, name: str, args: ScheduleTriggerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("datalake:triggers:ScheduleTrigger", name, args.config, args.schedule, opts)
        sched = args.config.schedules[args.schedule]
        queue = self._create_dead_letter_queue()
        # Scheduler delivers to the dead-letter queue with the schedule's role, so the role
        # (not a queue policy) grants sqs:SendMessage on its own queue.
        role, role_policy = self._create_role(
            "EventBridge Scheduler",
            args.account.apply(lambda a: json.dumps(iam.assume_role_policy("scheduler.amazonaws.com", a.account_id))),
            pulumi.Output.all(args.runner_arn, queue.arn).apply(
                lambda arns: json.dumps(iam.start_execution_policy(arns[0], dead_letter_queue_arn=arns[1]))
            ),
        )
        schedule = aws.scheduler.Schedule(
            f"{self._base}-schedule",
            name=args.config.names.schedule(args.schedule),
            group_name=args.schedule_group_name,
            description=f"{sched.expression} ({sched.timezone}) starts {sched.job}",
            schedule_expression=sched.expression,
            schedule_expression_timezone=sched.timezone,
            flexible_time_window=flexible_time_window(sched.flexible_window_minutes),
            state="ENABLED" if sched.enabled else "DISABLED",
            target={
                "arn": args.runner_arn,
                "role_arn": role.arn,
                "input": json.dumps(runs.schedule_input()),
                "retry_policy": retry_policy(args.config),
                "dead_letter_config": {"arn": queue.arn},
            },
            opts=self._child(depends_on=[role_policy]),
        )
        self.schedule_name = schedule.name
        self.target_arn = pulumi.Output.from_input(args.runner_arn)
        self.register_outputs(
            {
                "schedule_name": self.schedule_name,
                "dead_letter_queue_arn": self.dead_letter_queue_arn,
            }
        )
