"""GlueJob: one Glue 5.0 Spark job, its code in the artifacts bucket, its role, logs and
encryption settings."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from data_platform import job_arguments
from data_platform.components import iam
from data_platform.components.packaging import SHORT_HASH, Package, file_sha256
from data_platform.config import JobConfig, JobKind, PlatformConfig
from etl.catalog import glue_conf_argument

GLUE_VERSION = "5.0"
GLUE_COMMAND = "glueetl"
DATALAKE_FORMATS = "iceberg"
# Installed on the workers at start; pinned to what the project was tested with.
ADDITIONAL_PYTHON_MODULES: tuple[str, ...] = ("great_expectations", "defusedxml")


@cache
def additional_python_modules() -> str:
    """`great_expectations==1.x.y,defusedxml==0.7.1` from the installed distributions."""
    return ",".join(f"{dist}=={version(dist)}" for dist in ADDITIONAL_PYTHON_MODULES)


def code_prefix(job: str) -> str:
    """The job's own folder in the artifacts bucket (its role reads only this)."""
    return f"glue/jobs/{job}/"


def temp_prefix(job: str) -> str:
    return f"glue/tmp/{job}/"


def package_key(job: str, package: Package) -> str:
    return f"{code_prefix(job)}etl-{package.short_hash}.zip"


def script_key(job: str, script_sha256: str) -> str:
    return f"{code_prefix(job)}{job}-{script_sha256[:SHORT_HASH]}.py"


def glue_default_arguments(
    cfg: PlatformConfig, job: str, *, artifacts_bucket: str, package_object_key: str
) -> dict[str, str]:
    """The job's DefaultArguments: the contract's plus Glue 5.0's own switches (pure).

    Only arguments AWS documents for Glue 5.0: `--enable-continuous-cloudwatch-log` and
    `--continuous-log-logGroup` are Glue 4.0-and-earlier; 5.0 logs in real time to the two
    groups named from `--custom-logGroup-prefix` (see `job_log_groups`).
    https://docs.aws.amazon.com/glue/latest/dg/monitor-continuous-logging.html
    https://docs.aws.amazon.com/glue/latest/dg/monitor-continuous-logging-enable.html

    Silver and gold are Iceberg tables in the Glue Data Catalog: `--datalake-formats iceberg`
    loads the Iceberg runtime Glue 5.0 ships (1.7.1), and `--conf` configures the job's Spark
    catalog `lake` (GlueCatalog, S3FileIO) with its warehouse in the job's output bucket, as
    https://docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-etl-format-iceberg.html and
    https://docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-etl-glue-arguments.html
    document. Tables are created at their own location, so the warehouse is only a default.
    """
    return {
        **job_arguments.default_job_arguments(cfg, job),
        "--job-language": "python",
        "--extra-py-files": f"s3://{artifacts_bucket}/{package_object_key}",
        "--additional-python-modules": additional_python_modules(),
        "--enable-metrics": "",
        "--enable-observability-metrics": "true",
        "--custom-logGroup-prefix": cfg.names.log_group(job),
        # The job's ledger (_ledger/<job>/) picks the pending inputs; Glue bookmarks would filter
        # only DynamicFrame reads with a transformation_ctx, which no job makes.
        "--job-bookmark-option": "job-bookmark-disable",
        "--TempDir": f"s3://{artifacts_bucket}/{temp_prefix(job)}",
        "--datalake-formats": DATALAKE_FORMATS,
        "--conf": glue_conf_argument(f"s3://{cfg.output_bucket(job)}/"),
    }


def default_description(job: str, job_cfg: JobConfig) -> str:
    if job_cfg.kind is JobKind.MAINTENANCE or job_cfg.source is None:
        return f"{job}: maintenance of the stack's silver and gold tables"
    return f"{job}: {job_cfg.source.layer.value} -> {job_cfg.layer.value} {job_cfg.dataset}"


# Glue 5.0 writes system, Spark and Glue-logger lines to `<prefix>/error` and the script's
# stdout/stderr to `<prefix>/output` (https://docs.aws.amazon.com/glue/latest/dg/monitor-continuous-logging.html).
GLUE_LOG_STREAMS: tuple[str, ...] = ("error", "output")


def job_log_groups(cfg: PlatformConfig, job: str) -> dict[str, str]:
    """The groups Glue 5.0 writes for the job, by stable key. Declared here so that each has
    the stack's retention and KMS key (a group Glue creates itself keeps logs forever)."""
    prefix = cfg.names.log_group(job)
    return {f"logs-{stream}": f"{prefix}/{stream}" for stream in GLUE_LOG_STREAMS}


@dataclass(frozen=True)
class GlueJobArgs:
    config: PlatformConfig
    job: str
    account: pulumi.Output[iam.AwsAccount]
    artifacts_bucket: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    package: Package
    script: Path


class GlueJob(pulumi.ComponentResource):
    job_name: pulumi.Output[str]
    job_arn: pulumi.Output[str]
    role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: GlueJobArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("datalake:glue_job:GlueJob", name, None, opts)
        self._base = name
        self._args = args
        self._cfg = args.config
        self._job_cfg = args.config.jobs[args.job]
        names = args.config.names
        self._security_configuration_name = names.glue_job(args.job)

        self._log_groups = self._create_log_groups()
        self._role = self._create_role()
        self._security_configuration = self._create_security_configuration()
        script, package = self._upload_code()
        self._job = self._create_job(script, package)

        self.job_name = self._job.name
        self.job_arn = self._job.arn
        self.role_arn = self._role.arn
        self.register_outputs({"job_name": self.job_name, "job_arn": self.job_arn, "role_arn": self.role_arn})

    def _child(self, **kwargs: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **kwargs)

    def _create_log_groups(self) -> list[aws.cloudwatch.LogGroup]:
        return [
            aws.cloudwatch.LogGroup(
                f"{self._base}-{key}",
                name=group,
                retention_in_days=self._cfg.retention.log_retention_days,
                kms_key_id=self._args.kms_key_arn,
                opts=self._child(),
            )
            for key, group in job_log_groups(self._cfg, self._args.job).items()
        ]

    def _create_role(self) -> aws.iam.Role:
        job = self._args.job
        names = self._cfg.names
        role = aws.iam.Role(
            f"{self._base}-role",
            name=names.job_role(job),
            description=f"Glue job {names.glue_job(job)}: reads its input, writes its dataset",
            assume_role_policy=json.dumps(iam.assume_role_policy("glue.amazonaws.com")),
            opts=self._child(),
        )
        access = iam.job_s3_access(self._cfg, job)
        catalog = iam.job_catalog_access(self._cfg, job)
        data_docs = iam.job_data_docs(self._cfg, job)
        artifacts = self._cfg.bucket_name("artifacts")
        log_groups = list(job_log_groups(self._cfg, job).values())
        policy = pulumi.Output.all(self._args.account, self._args.kms_key_arn).apply(
            lambda values: json.dumps(
                iam.glue_job_policy(
                    values[0],
                    access=access,
                    catalog=catalog,
                    artifacts_bucket=artifacts,
                    artifacts_prefix=code_prefix(job),
                    temp_prefix=temp_prefix(job),
                    kms_key_arn=values[1],
                    log_group_names=log_groups,
                    data_docs=data_docs,
                )
            )
        )
        self._role_policy = aws.iam.RolePolicy(
            f"{self._base}-role-policy", role=role.id, policy=policy, opts=self._child()
        )
        return role

    def _create_security_configuration(self) -> aws.glue.SecurityConfiguration:
        """S3 and bookmark encryption with the stack's key. CloudWatch encryption is left to
        the declared log groups (their `kms_key_id`): with it on, Glue writes to other groups,
        named after the role and the configuration (JobRun.LogGroupName,
        https://docs.aws.amazon.com/glue/latest/webapi/API_JobRun.html), which would have no
        retention. Glue has no UpdateSecurityConfiguration, so every change replaces it; its
        name is fixed, so the old one is deleted first (else CreateSecurityConfiguration
        fails: AlreadyExistsException)."""
        key = self._args.kms_key_arn
        return aws.glue.SecurityConfiguration(
            f"{self._base}-security",
            name=self._security_configuration_name,
            encryption_configuration={
                "s3_encryption": {"s3_encryption_mode": "SSE-KMS", "kms_key_arn": key},
                "cloudwatch_encryption": {"cloudwatch_encryption_mode": "DISABLED"},
                "job_bookmarks_encryption": {"job_bookmarks_encryption_mode": "CSE-KMS", "kms_key_arn": key},
            },
            opts=self._child(delete_before_replace=True),
        )

    def _upload_code(self) -> tuple[aws.s3.BucketObjectv2, aws.s3.BucketObjectv2]:
        """Script and package under content-hashed keys: new code, new key, new job revision.

        Each job uploads its own copy of the package so that no two resources own one object
        (replacing one would otherwise delete the file the other jobs still point at).
        """
        job, package = self._args.job, self._args.package
        script_sha = file_sha256(self._args.script)
        script = aws.s3.BucketObjectv2(
            f"{self._base}-script",
            bucket=self._args.artifacts_bucket,
            key=script_key(job, script_sha),
            source=pulumi.FileAsset(str(self._args.script)),
            content_type="text/x-python",
            source_hash=script_sha,
            opts=self._child(),
        )
        package_object = aws.s3.BucketObjectv2(
            f"{self._base}-package",
            bucket=self._args.artifacts_bucket,
            key=package_key(job, package),
            source=pulumi.FileAsset(str(package.path)),
            content_type="application/zip",
            source_hash=package.sha256,
            opts=self._child(),
        )
        return script, package_object

    def _create_job(self, script: aws.s3.BucketObjectv2, package: aws.s3.BucketObjectv2) -> aws.glue.Job:
        job, job_cfg = self._args.job, self._job_cfg
        artifacts = self._cfg.bucket_name("artifacts")
        arguments = glue_default_arguments(
            self._cfg, job, artifacts_bucket=artifacts, package_object_key=package_key(job, self._args.package)
        )
        return aws.glue.Job(
            f"{self._base}-job",
            name=self._cfg.names.glue_job(job),
            description=job_cfg.description or default_description(job, job_cfg),
            role_arn=self._role.arn,
            glue_version=GLUE_VERSION,
            command={
                "name": GLUE_COMMAND,
                "python_version": "3",
                "script_location": pulumi.Output.concat("s3://", script.bucket, "/", script.key),
            },
            default_arguments=arguments,
            worker_type=job_cfg.worker_type.value,
            number_of_workers=job_cfg.workers,
            timeout=job_cfg.timeout_minutes,
            # The runner re-runs failed runs (see runner_definition): a Glue-internal retry gets a
            # new run id that the runner's .sync task never sees.
            max_retries=0,
            execution_property={"max_concurrent_runs": job_cfg.max_concurrent_runs},
            execution_class=job_cfg.execution_class.value,
            security_configuration=self._security_configuration.name,
            # The job must not start before its package, role policy and log group exist.
            opts=self._child(depends_on=[package, self._role_policy, *self._log_groups]),
        )
