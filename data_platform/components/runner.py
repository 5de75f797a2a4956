"""JobRunner: the Step Functions state machine every trigger of a job targets."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from data_platform.components import iam
from data_platform.components.runner_definition import runner_definition
from data_platform.config import PlatformConfig

LOG_LEVEL = "ERROR"


def runner_log_group(state_machine_name: str) -> str:
    # `/aws/vendedlogs/` keeps Step Functions from adding a statement per log group to the
    # account's CloudWatch Logs resource policy (which has a small size limit).
    return f"/aws/vendedlogs/states/{state_machine_name}"


@dataclass(frozen=True)
class JobRunnerArgs:
    config: PlatformConfig
    job: str
    account: pulumi.Output[iam.AwsAccount]
    glue_job_name: pulumi.Input[str]
    glue_job_arn: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    tracing: bool = False


class JobRunner(pulumi.ComponentResource):
    state_machine_arn: pulumi.Output[str]
    state_machine_name: pulumi.Output[str]

    def __init__(self, name: str, args: JobRunnerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("datalake:runner:JobRunner", name, None, opts)
        self._base = name
        self._args = args
        self._cfg = args.config

        log_group = self._create_log_group()
        role, role_policy = self._create_role()
        machine = self._create_state_machine(log_group, role, role_policy)

        self.state_machine_arn = machine.arn
        self.state_machine_name = machine.name
        self.register_outputs({"state_machine_arn": self.state_machine_arn})

    def _child(self, **kwargs: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **kwargs)

    def _create_log_group(self) -> aws.cloudwatch.LogGroup:
        return aws.cloudwatch.LogGroup(
            f"{self._base}-logs",
            name=runner_log_group(self._cfg.names.runner(self._args.job)),
            retention_in_days=self._cfg.retention.log_retention_days,
            kms_key_id=self._args.kms_key_arn,
            opts=self._child(),
        )

    def _create_role(self) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        names = self._cfg.names
        role = aws.iam.Role(
            f"{self._base}-role",
            name=names.runner_role(self._args.job),
            description=f"Runner {names.runner(self._args.job)}: starts and watches one Glue job",
            assume_role_policy=self._args.account.apply(
                lambda account: json.dumps(iam.assume_role_policy("states.amazonaws.com", account.account_id))
            ),
            opts=self._child(),
        )
        tracing = self._args.tracing
        policy = aws.iam.RolePolicy(
            f"{self._base}-role-policy",
            role=role.id,
            policy=pulumi.Output.from_input(self._args.glue_job_arn).apply(
                lambda arn: json.dumps(iam.runner_policy(arn, tracing=tracing))
            ),
            opts=self._child(),
        )
        return role, policy

    def _create_state_machine(
        self, log_group: aws.cloudwatch.LogGroup, role: aws.iam.Role, role_policy: aws.iam.RolePolicy
    ) -> aws.sfn.StateMachine:
        job_cfg = self._cfg.jobs[self._args.job]
        definition = pulumi.Output.all(self._args.glue_job_name, self._args.account).apply(
            lambda values: json.dumps(
                runner_definition(
                    values[0],
                    job_timeout_minutes=job_cfg.timeout_minutes,
                    max_retries=job_cfg.max_retries,
                    partition=values[1].partition,
                ),
                indent=2,
            )
        )
        return aws.sfn.StateMachine(
            f"{self._base}-state-machine",
            name=self._cfg.names.runner(self._args.job),
            type="STANDARD",
            role_arn=role.arn,
            definition=definition,
            logging_configuration={
                # The log group ARN comes without the `:*` Step Functions requires.
                "log_destination": log_group.arn.apply(lambda arn: f"{arn}:*"),
                "include_execution_data": False,
                "level": LOG_LEVEL,
            },
            tracing_configuration={"enabled": self._args.tracing},
            # Creating the machine validates that the role may deliver its logs.
            opts=self._child(depends_on=[role_policy]),
        )
