"""MedallionBuckets: the per-environment KMS key and the bronze/silver/gold/artifacts/access-log
buckets, secure by default."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from data_platform.components import iam
from data_platform.config import PlatformConfig, RetentionConfig
from data_platform.contract.naming import ACCESS_LOGS, ARTIFACTS, BUCKET_PURPOSES, DATA_LAYERS

DATA_BUCKETS: tuple[str, ...] = (*DATA_LAYERS, ARTIFACTS)  # every bucket but the access logs
BUCKETS: tuple[str, ...] = BUCKET_PURPOSES

ABORT_MULTIPART_DAYS = 7
# Leftover staging of a killed run (the next write removes it too; this catches datasets that
# are never written again). Longer than Glue's maximum timeout of 48 hours.
STAGING_EXPIRE_DAYS = 7
GLUE_TEMP_EXPIRE_DAYS = 7
ACCESS_LOGS_NONCURRENT_DAYS = 1


def log_prefix(purpose: str) -> str:
    """Where a bucket's server access logs land in the access-log bucket."""
    return f"{purpose.replace('_', '-')}/"


def noncurrent_days(purpose: str, retention: RetentionConfig) -> int:
    if purpose == "bronze":
        return retention.bronze_noncurrent_days
    if purpose == ACCESS_LOGS:
        return ACCESS_LOGS_NONCURRENT_DAYS
    return retention.silver_noncurrent_days


def lifecycle_rules(purpose: str, retention: RetentionConfig) -> list[aws.s3.BucketLifecycleConfigurationRuleArgsDict]:
    """Lifecycle rules of one bucket (pure; input shape of BucketLifecycleConfiguration.rules)."""
    rules: list[aws.s3.BucketLifecycleConfigurationRuleArgsDict] = [
        {
            "id": "abort-incomplete-multipart-uploads",
            "status": "Enabled",
            "abort_incomplete_multipart_upload": {"days_after_initiation": ABORT_MULTIPART_DAYS},
        },
        {
            "id": "expire-noncurrent-versions",
            "status": "Enabled",
            "noncurrent_version_expiration": {"noncurrent_days": noncurrent_days(purpose, retention)},
            # Versioned deletes leave markers; drop them once nothing is behind them.
            "expiration": {"expired_object_delete_marker": True},
        },
    ]
    if purpose == "bronze":
        transitions: list[aws.s3.BucketLifecycleConfigurationRuleTransitionArgsDict] = []
        if retention.bronze_infrequent_access_days is not None:
            transitions.append({"days": retention.bronze_infrequent_access_days, "storage_class": "STANDARD_IA"})
        if retention.bronze_glacier_days is not None:
            transitions.append({"days": retention.bronze_glacier_days, "storage_class": "GLACIER_IR"})
        if transitions:
            rules.append({"id": "tier-bronze", "status": "Enabled", "transitions": transitions})
    if purpose in ("silver", "gold"):
        rules.append(
            {
                "id": "expire-quarantine",
                "status": "Enabled",
                "filter": {"prefix": "_quarantine/"},
                "expiration": {"days": retention.quarantine_expire_days},
            }
        )
        rules.append(
            {
                "id": "expire-staging",
                "status": "Enabled",
                "filter": {"prefix": "_staging/"},
                "expiration": {"days": STAGING_EXPIRE_DAYS},
            }
        )
    if purpose == "artifacts":
        rules.append(
            {
                "id": "expire-glue-temp",
                "status": "Enabled",
                "filter": {"prefix": "glue/tmp/"},
                "expiration": {"days": GLUE_TEMP_EXPIRE_DAYS},
            }
        )
    if purpose == ACCESS_LOGS:
        rules.append(
            {
                "id": "expire-access-logs",
                "status": "Enabled",
                "expiration": {"days": retention.access_logs_expire_days},
            }
        )
    return rules


@dataclass(frozen=True)
class MedallionBucketsArgs:
    config: PlatformConfig
    account: pulumi.Output[iam.AwsAccount]


class MedallionBuckets(pulumi.ComponentResource):
    """Buckets named `cfg.bucket_name(purpose)`, keyed by purpose."""

    bucket_names: dict[str, pulumi.Output[str]]
    bucket_arns: dict[str, pulumi.Output[str]]
    kms_key_arn: pulumi.Output[str]

    def __init__(self, name: str, args: MedallionBucketsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("datalake:storage:MedallionBuckets", name, None, opts)
        self._base = name
        self._cfg = args.config
        self._account = args.account
        self._public_access: dict[str, aws.s3.BucketPublicAccessBlock] = {}

        self._kms_key = self._create_key()
        self._buckets = {purpose: self._create_bucket(purpose) for purpose in BUCKETS}
        self._access_logs_policy = self._create_access_logs_policy()
        for purpose in DATA_BUCKETS:
            self._create_access_logging(purpose)
        self._create_bronze_notifications()

        self.bucket_names = {purpose: bucket.bucket for purpose, bucket in self._buckets.items()}
        self.bucket_arns = {purpose: bucket.arn for purpose, bucket in self._buckets.items()}
        self.kms_key_arn = self._kms_key.arn
        self.register_outputs(
            {
                "bucket_names": self.bucket_names,
                "kms_key_arn": self.kms_key_arn,
            }
        )

    def _child(self, **kwargs: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **kwargs)

    def _create_key(self) -> aws.kms.Key:
        names = self._cfg.names
        key = aws.kms.Key(
            f"{self._base}-key",
            description=f"{names.base}: data lake buckets, Glue, logs and alerts",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=self._account.apply(lambda account: json.dumps(iam.kms_key_policy(account, names.base))),
            opts=self._child(),
        )
        aws.kms.Alias(
            f"{self._base}-key-alias",
            name=f"alias/{names.base}-data",
            target_key_id=key.key_id,
            opts=self._child(),
        )
        return key

    def _create_bucket(self, purpose: str) -> aws.s3.Bucket:
        """The bucket plus what every bucket has: owner-enforced, private, versioned, encrypted,
        TLS-only, lifecycle."""
        child = f"{self._base}-{purpose}"
        bucket = aws.s3.Bucket(
            child,
            bucket=self._cfg.bucket_name(purpose),
            force_destroy=self._cfg.force_destroy,
            opts=self._child(),
        )
        ownership = aws.s3.BucketOwnershipControls(
            f"{child}-ownership",
            bucket=bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=self._child(),
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{child}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            # S3 rejects concurrent bucket-configuration writes; keep these in sequence.
            opts=self._child(depends_on=[ownership]),
        )
        versioning = aws.s3.BucketVersioning(
            f"{child}-versioning",
            bucket=bucket.id,
            versioning_configuration={"status": "Enabled"},
            opts=self._child(),
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{child}-encryption",
            bucket=bucket.id,
            rules=[self._encryption_rule(purpose)],
            opts=self._child(),
        )
        if purpose != ACCESS_LOGS:  # the access-log bucket's policy also admits log delivery
            bucket_name = self._cfg.bucket_name(purpose)
            aws.s3.BucketPolicy(
                f"{child}-policy",
                bucket=bucket.id,
                policy=self._account.apply(
                    lambda account: json.dumps(iam.bucket_policy(account.partition, bucket_name))
                ),
                opts=self._child(depends_on=[public_access]),
            )
        aws.s3.BucketLifecycleConfiguration(
            f"{child}-lifecycle",
            bucket=bucket.id,
            rules=lifecycle_rules(purpose, self._cfg.retention),
            # Noncurrent-version rules need versioning in place first.
            opts=self._child(depends_on=[versioning]),
        )
        self._public_access[purpose] = public_access
        return bucket

    def _encryption_rule(self, purpose: str) -> aws.s3.BucketServerSideEncryptionConfigurationRuleArgsDict:
        if purpose == ACCESS_LOGS:
            # S3 server access logging cannot deliver to a bucket whose default encryption is
            # SSE-KMS; the access-log bucket uses SSE-S3 (AES256) instead.
            return {"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}
        return {
            "apply_server_side_encryption_by_default": {
                "sse_algorithm": "aws:kms",
                "kms_master_key_id": self._kms_key.arn,
            },
            # Bucket keys cut KMS requests (and cost) by orders of magnitude for Spark writes.
            "bucket_key_enabled": True,
        }

    def _create_access_logs_policy(self) -> aws.s3.BucketPolicy:
        sources = {log_prefix(purpose): self._cfg.bucket_name(purpose) for purpose in DATA_BUCKETS}
        logs_bucket = self._cfg.bucket_name(ACCESS_LOGS)
        return aws.s3.BucketPolicy(
            f"{self._base}-{ACCESS_LOGS}-policy",
            bucket=self._buckets[ACCESS_LOGS].id,
            policy=self._account.apply(
                lambda account: json.dumps(iam.access_logs_bucket_policy(account, logs_bucket, sources))
            ),
            opts=self._child(depends_on=[self._public_access[ACCESS_LOGS]]),
        )

    def _create_access_logging(self, purpose: str) -> None:
        aws.s3.BucketLogging(
            f"{self._base}-{purpose}-logging",
            bucket=self._buckets[purpose].id,
            target_bucket=self._buckets[ACCESS_LOGS].id,
            target_prefix=log_prefix(purpose),
            opts=self._child(depends_on=[self._access_logs_policy]),
        )

    def _create_bronze_notifications(self) -> None:
        # Object Created events go to the default EventBridge bus, where the S3 rules match them.
        aws.s3.BucketNotification(
            f"{self._base}-bronze-notifications",
            bucket=self._buckets["bronze"].id,
            eventbridge=True,
            opts=self._child(),
        )
