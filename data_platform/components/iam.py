"""IAM policy documents of the platform, as pure functions returning dicts.

Every document is built from plain strings (names, ARNs, prefixes), so it is tested without
Pulumi and reviewed as JSON. Components call these inside `Output.apply` and pass the result
through `json.dumps`.

Least privilege is the rule. The few places where AWS offers no resource-level permission are
named constants below, each with the reason, so a reviewer finds every `"Resource": "*"`
in one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from data_platform.config import JobKind, Layer, PlatformConfig
from data_platform.contract.data_docs import data_docs_prefix

POLICY_VERSION = "2012-10-17"

# -- Documented exceptions to resource-level scoping -----------------------------------------

# cloudwatch:PutMetricData has no resource type in the IAM service authorization reference;
# the only scope is the `cloudwatch:namespace` condition. `DataLake` is where the jobs publish
# QuarantinedRows; `Glue` is where Glue itself publishes job metrics (`--enable-metrics`,
# `--enable-observability-metrics`) with the job role's credentials.
PUT_METRIC_DATA_RESOURCE = "*"
JOB_METRIC_NAMESPACES: tuple[str, ...] = ("DataLake", "Glue")

# Step Functions vended logs: the CloudWatch Logs delivery APIs (CreateLogDelivery, ...)
# support no resource-level permissions, AWS documents them with "Resource": "*".
LOG_DELIVERY_RESOURCE = "*"
LOG_DELIVERY_ACTIONS: tuple[str, ...] = (
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
)

# X-Ray segment and sampling APIs likewise have no resource type (only used with tracing on).
XRAY_RESOURCE = "*"
XRAY_ACTIONS: tuple[str, ...] = (
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
)

# -- What Step Functions needs for `glue:startJobRun.sync` (AWS: "IAM policies for calling AWS
# Glue"): start the run, poll it, and stop it when the execution is stopped.
GLUE_SYNC_ACTIONS: tuple[str, ...] = ("glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun")

S3_READ_ACTIONS: tuple[str, ...] = ("s3:GetObject",)
# Data Docs are written object by object (PutObject; HeadObject and GetObject, which read the
# stored validations and see whether the site's static files are there, both need
# s3:GetObject) and never deleted. Listing the stored validations (ListObjectsV2) is
# s3:ListBucket on the bucket, which ListOwnBuckets grants without a condition.
# https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html
# https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html
# https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
DATA_DOCS_ACTIONS: tuple[str, ...] = ("s3:GetObject", "s3:PutObject")
S3_WRITE_ACTIONS: tuple[str, ...] = (
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
)
KMS_DATA_ACTIONS: tuple[str, ...] = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey")

# -- What Iceberg's GlueCatalog (1.7.1, the version Glue 5.0 ships) calls in the Glue Data
# Catalog (aws/src/main/java/org/apache/iceberg/aws/glue/GlueCatalog.java, GlueTableOperations.java):
# - loading a table (every read, `CREATE TABLE IF NOT EXISTS` of an existing table, and the
#   refresh before a commit): GetTable;
# - `CREATE NAMESPACE IF NOT EXISTS` of an existing database: GetDatabase;
# - a commit: GetTable, then UpdateTable with the table's VersionId as read (optimistic: a
#   concurrent commit makes it fail), its new `metadata_location` in the parameters.
# Neither CreateTable nor CreateDatabase: the catalog component declares both, so a job never
# creates them. Each action needs the catalog, the database and the table as resources
# (https://docs.aws.amazon.com/glue/latest/dg/glue-specifying-resource-arns.html).
GLUE_CATALOG_READ_ACTIONS: tuple[str, ...] = ("glue:GetDatabase", "glue:GetTable")
GLUE_CATALOG_COMMIT_ACTIONS: tuple[str, ...] = ("glue:UpdateTable",)


@dataclass(frozen=True)
class AwsAccount:
    """Where the stack deploys: what ARNs are built from."""

    account_id: str
    region: str
    partition: str = "aws"

    def arn(self, service: str, resource: str, *, regional: bool = True, with_account: bool = True) -> str:
        region = self.region if regional else ""
        account = self.account_id if with_account else ""
        return f"arn:{self.partition}:{service}:{region}:{account}:{resource}"

    @property
    def root(self) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:root"

    def log_group_arn(self, name: str) -> str:
        return self.arn("logs", f"log-group:{name}")

    def glue_job_arn(self, name: str) -> str:
        return self.arn("glue", f"job/{name}")

    def glue_catalog_arns(self, database: str, tables: Iterable[str]) -> list[str]:
        """The Data Catalog, `database` and its `tables`: what a table action is authorized on."""
        return [
            self.arn("glue", "catalog"),
            self.arn("glue", f"database/{database}"),
            *(self.arn("glue", f"table/{database}/{table}") for table in sorted(set(tables))),
        ]


@dataclass(frozen=True)
class S3Grant:
    """Objects under `prefix` in `bucket` (prefix "" = the whole bucket)."""

    bucket: str
    prefix: str
    spark_folder: bool = False  # Spark reads or overwrites the prefix as one folder (see grant_arns)


@dataclass(frozen=True)
class JobS3Access:
    reads: tuple[S3Grant, ...]
    writes: tuple[S3Grant, ...]


@dataclass(frozen=True)
class JobCatalogAccess:
    """The Glue Data Catalog tables of one database a job reads and commits to."""

    database: str
    reads: tuple[str, ...]
    commits: tuple[str, ...]


def bucket_arn(partition: str, bucket: str) -> str:
    return f"arn:{partition}:s3:::{bucket}"


def objects_arn(partition: str, bucket: str, prefix: str = "") -> str:
    return f"arn:{partition}:s3:::{bucket}/{prefix}*"


def grant_arns(partition: str, grants: Iterable[S3Grant]) -> list[str]:
    """Objects under each grant's prefix, and, for a folder Spark opens, the folder's own key
    (`sales/` -> `sales`): before reading or overwriting `s3://bucket/sales`, Spark's S3 file
    systems HEAD the key `sales`, and S3 answers a HEAD the caller may not s3:GetObject with
    403, which Spark treats as fatal. The folder key is one exact name: no other dataset
    comes with it. https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html"""
    arns = set()
    for grant in grants:
        arns.add(objects_arn(partition, grant.bucket, grant.prefix))
        if grant.spark_folder:
            arns.add(f"arn:{partition}:s3:::{grant.bucket}/{grant.prefix.rstrip('/')}")
    return sorted(arns)


def document(statements: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    return {"Version": POLICY_VERSION, "Statement": [dict(s) for s in statements]}


def _sorted_unique(values: Iterable[str]) -> list[str]:
    return sorted(set(values))


# -- Trust policies ---------------------------------------------------------------------------


def assume_role_policy(service: str, source_account: str | None = None) -> dict[str, Any]:
    """Let `service` assume the role; with `source_account`, only on behalf of this account
    (confused-deputy protection, for services that set aws:SourceAccount when assuming)."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if source_account:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": source_account}}
    return document([statement])


# -- Buckets and key -------------------------------------------------------------------------


def tls_only_statement(partition: str, bucket: str) -> dict[str, Any]:
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn(partition, bucket), objects_arn(partition, bucket)],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def bucket_policy(partition: str, bucket: str) -> dict[str, Any]:
    """Every bucket: refuse plain-HTTP requests."""
    return document([tls_only_statement(partition, bucket)])


def access_logs_bucket_policy(account: AwsAccount, bucket: str, source_buckets: Mapping[str, str]) -> dict[str, Any]:
    """The access-log bucket: TLS only, and S3 log delivery may write each source's prefix.

    With BucketOwnerEnforced, ACL grants to the log delivery group are impossible; the bucket
    policy is the only way (AWS: "Permissions for log delivery").
    """
    source_arns = _sorted_unique(bucket_arn(account.partition, b) for b in source_buckets.values())
    prefixes = sorted(objects_arn(account.partition, bucket, prefix) for prefix in source_buckets)
    return document(
        [
            tls_only_statement(account.partition, bucket),
            {
                "Sid": "AllowS3ServerAccessLogDelivery",
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": prefixes,
                "Condition": {
                    "ArnLike": {"aws:SourceArn": source_arns},
                    "StringEquals": {"aws:SourceAccount": account.account_id},
                },
            },
        ]
    )


def kms_key_policy(account: AwsAccount, name_prefix: str) -> dict[str, Any]:
    """The per-environment key.

    - The account administers the key and IAM policies grant its use (S3 and Glue act with the
      caller's or job role's credentials, so they need no key-policy statement of their own).
    - CloudWatch Logs encrypts the Glue and runner log groups: its regional principal, only for
      log groups of this account.
    - EventBridge and CloudWatch alarms publish to the KMS-encrypted alert topic; SNS then
      uses the key on their behalf, which AWS authorizes through these service principals:
      only for this stack's rules and alarms (`name_prefix`).
    - EventBridge Scheduler is not granted: schedules carry a static, non-sensitive input
      encrypted with Scheduler's AWS-owned key, so a failed key grant cannot stop schedules.

    Every service statement carries aws:SourceAccount, and aws:SourceArn where the service
    sets it, so no other account's resource can make the service use this key (confused
    deputy). https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-encryption-key-policy.html
    """
    return document(
        [
            {
                "Sid": "AccountAdministersKey",
                "Effect": "Allow",
                "Principal": {"AWS": account.root},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "CloudWatchLogsEncryptLogGroups",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{account.region}.amazonaws.com"},
                "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                "Resource": "*",
                # The log group's ARN is the encryption context CloudWatch Logs passes (it plays
                # the part of aws:SourceArn). https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
                "Condition": {
                    "ArnLike": {"kms:EncryptionContext:aws:logs:arn": account.arn("logs", "log-group:*")},
                    "StringEquals": {"aws:SourceAccount": account.account_id},
                },
            },
            _topic_publisher_key_statement(
                "RulesPublishToTopicWithKey", "events", account, account.arn("events", f"rule/{name_prefix}-*")
            ),
            _topic_publisher_key_statement(
                "AlarmsPublishToTopicWithKey",
                "cloudwatch",
                account,
                account.arn("cloudwatch", f"alarm:{name_prefix}-*"),
            ),
        ]
    )


def _topic_publisher_key_statement(sid: str, service: str, account: AwsAccount, source_arns: str) -> dict[str, Any]:
    """SNS uses the key for a publisher to the encrypted topic: only our resources' service."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": f"{service}.amazonaws.com"},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "Resource": "*",
        "Condition": {
            "ArnLike": {"aws:SourceArn": source_arns},
            "StringEquals": {"aws:SourceAccount": account.account_id},
        },
    }


# -- Glue job role --------------------------------------------------------------------------


def job_output_prefixes(job: str, dataset: str) -> tuple[str, ...]:
    """Where a job writes in its output bucket: its table (`<dataset>/data/`, `<dataset>/metadata/`,
    old metadata files deleted after each commit: `write.metadata.delete-after-commit.enabled`,
    etl.tables), its quarantine (big ones staged first, etl.quarantine), ledger and run manifests
    (etl.ledger)."""
    return (
        f"{dataset}/",
        f"_staging/_quarantine/{dataset}/",
        f"_quarantine/{dataset}/",
        f"_ledger/{job}/",
        f"_runs/{job}/",
    )


def upstream_jobs(cfg: PlatformConfig, job: str) -> list[str]:
    return sorted({a.upstream for a in cfg.after_job.values() if a.job == job})


def job_s3_access(cfg: PlatformConfig, job: str) -> JobS3Access:
    """What one job may read and write, from the stack config alone."""
    job_cfg = cfg.jobs[job]
    if job_cfg.kind is JobKind.MAINTENANCE:
        return maintenance_s3_access(cfg)
    source, dataset = job_cfg.source, job_cfg.dataset
    if source is None or dataset is None:
        raise ValueError(f"job {job}: an etl job needs its source and dataset (config validation refuses one without)")
    source_bucket = cfg.bucket_name(source.layer.value)
    # Bronze inputs are read object by object; a silver source is read as a folder.
    reads = [S3Grant(source_bucket, source.prefix, spark_folder=source.layer is not Layer.BRONZE)]
    if source.layer is not Layer.BRONZE:
        # A downstream job reads the run manifests of the jobs that start it.
        reads += [S3Grant(cfg.bucket_name(cfg.jobs[up].layer.value), f"_runs/{up}/") for up in upstream_jobs(cfg, job)]
    output = cfg.output_bucket(job)
    table = job_output_prefixes(job, dataset)[0]
    writes = tuple(
        S3Grant(output, prefix, spark_folder=prefix == table) for prefix in job_output_prefixes(job, dataset)
    )
    return JobS3Access(reads=tuple(reads), writes=writes)


def job_data_docs(cfg: PlatformConfig, job: str) -> S3Grant | None:
    """Where a dataset job writes the Data Docs of its gate's validations: the stack's prefix of
    the artifacts bucket, which its `--data_docs_prefix` names (job_arguments). The maintenance
    job has no gate."""
    if cfg.jobs[job].kind is JobKind.MAINTENANCE:
        return None
    return S3Grant(cfg.bucket_name("artifacts"), data_docs_prefix(cfg.environment))


def source_tables(cfg: PlatformConfig, job: str) -> list[str]:
    """The tables a job reads: those whose location its silver/gold source prefix names
    (`sales_daily` reads `sales`); a bronze source is objects, no table."""
    source = cfg.jobs[job].source
    if source is None or source.layer is Layer.BRONZE:
        return []
    return sorted(
        str(other.dataset)
        for other in cfg.dataset_jobs.values()
        if other.layer is source.layer and source.prefix.startswith(f"{other.dataset}/")
    )


def job_catalog_access(cfg: PlatformConfig, job: str) -> JobCatalogAccess:
    """A dataset job commits to its own table and reads the tables of its source; the
    maintenance job commits to every table of the stack."""
    job_cfg = cfg.jobs[job]
    database = cfg.names.glue_database()
    if job_cfg.kind is JobKind.MAINTENANCE:
        tables = tuple(cfg.datasets())
        return JobCatalogAccess(database, reads=tables, commits=tables)
    own = (str(job_cfg.dataset),)
    return JobCatalogAccess(database, reads=tuple(sorted({*own, *source_tables(cfg, job)})), commits=own)


def catalog_statements(account: AwsAccount, access: JobCatalogAccess) -> list[dict[str, Any]]:
    """The job role's Glue Data Catalog statements: no `*`, no other database."""
    return [
        {
            "Sid": "ReadTables",
            "Effect": "Allow",
            "Action": list(GLUE_CATALOG_READ_ACTIONS),
            "Resource": account.glue_catalog_arns(access.database, access.reads),
        },
        {
            "Sid": "CommitTables",
            "Effect": "Allow",
            "Action": list(GLUE_CATALOG_COMMIT_ACTIONS),
            "Resource": account.glue_catalog_arns(access.database, access.commits),
        },
    ]


def table_prefixes(cfg: PlatformConfig) -> list[S3Grant]:
    """Every silver/gold table's location (`<bucket>/<dataset>/`: data/ and metadata/ below it)."""
    return [
        S3Grant(cfg.output_bucket(job), f"{job_cfg.dataset}/", spark_folder=True)
        for job, job_cfg in sorted(cfg.dataset_jobs.items())
    ]


def maintenance_s3_access(cfg: PlatformConfig) -> JobS3Access:
    """The maintenance job reads, rewrites and deletes the files of every table (compaction,
    expired snapshots, orphan files); it reads no input and keeps no ledger."""
    return JobS3Access(reads=(), writes=tuple(table_prefixes(cfg)))


def _list_statement(sid: str, partition: str, buckets: Iterable[str]) -> dict[str, Any]:
    """s3:ListBucket on whole buckets, without an `s3:prefix` condition.

    A HEAD or GET of a missing key is answered 404 only to a caller that may list the bucket,
    and 403 to any other (AWS: HeadObject, "Permissions"); S3 evaluates that permission with no
    prefix in the request context, so a prefix-conditioned grant does not count. Spark's S3
    file systems HEAD `key` and `key/` before every read and overwrite of a folder and treat a
    403 as fatal, and the storage layer's existence checks take 403 for an error. Listing shows
    key names only; reading and writing objects stay scoped to the job's prefixes.
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html
    """
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": _sorted_unique(bucket_arn(partition, bucket) for bucket in buckets),
    }


def _by_bucket(grants: Iterable[S3Grant]) -> dict[str, list[S3Grant]]:
    out: dict[str, list[S3Grant]] = {}
    for grant in grants:
        out.setdefault(grant.bucket, []).append(grant)
    return out


def glue_job_policy(
    account: AwsAccount,
    *,
    access: JobS3Access,
    catalog: JobCatalogAccess,
    artifacts_bucket: str,
    artifacts_prefix: str,
    temp_prefix: str,
    kms_key_arn: str,
    log_group_names: Sequence[str],
    data_docs: S3Grant | None = None,
) -> dict[str, Any]:
    """The job role: read its input, write its dataset's table and bookkeeping, and its gate's
    Data Docs (`data_docs`, see job_data_docs), nothing else."""
    p = account.partition
    own_buckets = [g.bucket for g in (*access.reads, *access.writes, S3Grant(artifacts_bucket, ""))]
    if data_docs is not None:
        own_buckets.append(data_docs.bucket)
    docs_statements = (
        []
        if data_docs is None
        else [
            {
                "Sid": "WriteDataDocs",
                "Effect": "Allow",
                "Action": list(DATA_DOCS_ACTIONS),
                "Resource": objects_arn(p, data_docs.bucket, data_docs.prefix),
            }
        ]
    )
    return document(
        [
            *_grant_statements("ReadInput", S3_READ_ACTIONS, p, access.reads),
            *_grant_statements("WriteOutput", S3_WRITE_ACTIONS, p, access.writes),
            {
                "Sid": "ReadJobCode",
                "Effect": "Allow",
                "Action": list(S3_READ_ACTIONS),
                "Resource": objects_arn(p, artifacts_bucket, artifacts_prefix),
            },
            {
                "Sid": "UseTempDir",
                "Effect": "Allow",
                "Action": list(S3_WRITE_ACTIONS),
                "Resource": objects_arn(p, artifacts_bucket, temp_prefix),
            },
            *docs_statements,
            _list_statement("ListOwnBuckets", p, own_buckets),
            {
                "Sid": "LocateBuckets",
                "Effect": "Allow",
                "Action": "s3:GetBucketLocation",
                "Resource": _sorted_unique(bucket_arn(p, bucket) for bucket in own_buckets),
            },
            *catalog_statements(account, catalog),
            {"Sid": "UseDataKey", "Effect": "Allow", "Action": list(KMS_DATA_ACTIONS), "Resource": kms_key_arn},
            _job_logs_statement(account, log_group_names),
            {
                "Sid": "PutJobMetrics",
                "Effect": "Allow",
                "Action": "cloudwatch:PutMetricData",
                "Resource": PUT_METRIC_DATA_RESOURCE,
                "Condition": {"StringEquals": {"cloudwatch:namespace": list(JOB_METRIC_NAMESPACES)}},
            },
        ]
    )


def _grant_statements(
    sid: str, actions: Sequence[str], partition: str, grants: Iterable[S3Grant]
) -> list[dict[str, Any]]:
    """One statement per bucket (`<sid>0`, `<sid>1`, ... in bucket order) over its grants."""
    return [
        {
            "Sid": f"{sid}{index}",
            "Effect": "Allow",
            "Action": list(actions),
            "Resource": grant_arns(partition, bucket_grants),
        }
        for index, (_bucket, bucket_grants) in enumerate(sorted(_by_bucket(grants).items()))
    ]


def _job_logs_statement(account: AwsAccount, log_group_names: Sequence[str]) -> dict[str, Any]:
    return {
        "Sid": "WriteJobLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        # Exactly the job's groups and their streams (CloudWatch Logs resource types:
        # https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html).
        "Resource": sorted(
            {
                arn
                for name in log_group_names
                for arn in (account.log_group_arn(name), f"{account.log_group_arn(name)}:log-stream:*")
            }
        ),
    }


# -- Runner, trigger and alert policies -------------------------------------------------------


def runner_policy(glue_job_arn: str, *, tracing: bool = False) -> dict[str, Any]:
    statements: list[dict[str, Any]] = [
        {"Sid": "RunOneGlueJob", "Effect": "Allow", "Action": list(GLUE_SYNC_ACTIONS), "Resource": glue_job_arn},
        {
            "Sid": "DeliverExecutionLogs",
            "Effect": "Allow",
            "Action": list(LOG_DELIVERY_ACTIONS),
            "Resource": LOG_DELIVERY_RESOURCE,
        },
    ]
    if tracing:
        statements.append(
            {"Sid": "WriteTraces", "Effect": "Allow", "Action": list(XRAY_ACTIONS), "Resource": XRAY_RESOURCE}
        )
    return document(statements)


def start_execution_policy(state_machine_arn: str, dead_letter_queue_arn: str | None = None) -> dict[str, Any]:
    """A trigger's role: start one runner (and, for Scheduler, send to its own DLQ)."""
    statements: list[dict[str, Any]] = [
        {"Sid": "StartRunner", "Effect": "Allow", "Action": "states:StartExecution", "Resource": state_machine_arn},
    ]
    if dead_letter_queue_arn:
        statements.append(
            {
                "Sid": "SendToDeadLetterQueue",
                "Effect": "Allow",
                "Action": "sqs:SendMessage",
                "Resource": dead_letter_queue_arn,
            }
        )
    return document(statements)


def dead_letter_queue_policy(queue_arn: str, rule_arn: str, source_account: str) -> dict[str, Any]:
    """EventBridge delivers undeliverable events of exactly one rule of this account."""
    return document(
        [
            {
                "Sid": "EventBridgeDeadLetters",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {
                    "ArnEquals": {"aws:SourceArn": rule_arn},
                    "StringEquals": {"aws:SourceAccount": source_account},
                },
            }
        ]
    )


def alert_topic_policy(
    account: AwsAccount, topic_arn: str, *, rule_arns: Sequence[str], alarm_name_prefix: str
) -> dict[str, Any]:
    """EventBridge (our failure rule only) and CloudWatch (our alarms only) may publish."""
    return document(
        [
            {
                "Sid": "EventBridgePublishes",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {
                    "ArnEquals": {"aws:SourceArn": sorted(rule_arns)},
                    "StringEquals": {"aws:SourceAccount": account.account_id},
                },
            },
            {
                "Sid": "CloudWatchAlarmsPublish",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {
                    "ArnLike": {"aws:SourceArn": account.arn("cloudwatch", f"alarm:{alarm_name_prefix}*")},
                    "StringEquals": {"aws:SourceAccount": account.account_id},
                },
            },
        ]
    )
