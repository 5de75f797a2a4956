"""The data-lake policy pack's rules as pure functions (no Pulumi engine needed).

Resource rules take `(resource_type, props)` and return messages (one per violation).
Stack rules take a list of `StackResource` - `(type, name, props)`, optionally with the
parent's name and the resources each property depends on - and return `Violation`s.
`props` are the resource's inputs with Pulumi's camelCase names, as the engine hands them to
a policy pack and as `data_platform.synth.synthesize` returns them, so the tests run the very
same functions over both stacks' synthesized resources.

A value Pulumi cannot know yet (during `pulumi preview`, e.g. the ARN of a resource not yet
created) makes a rule raise `UnknownValue` when its decision depends on it, or - for stack
rules - yields a `Violation` with `unknown=True`. The pack turns both into pulumi-policy's
"can't run policy during preview" advisory; `pulumi up` evaluates them again with known values.

`__main__.py` wraps these into the `PolicyPack("data-lake-policies", ...)`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from checks.api_shapes import LOG_RETENTION_DAYS
from checks.glue import check_catalog_grants, check_glue_iceberg, check_glue_logging, check_iceberg_tables
from checks.iam import (
    WILDCARD_RESOURCE_EXCEPTIONS,
    check_confused_deputy,
    iam_documents,
    parse_document,
    statements,
    wildcard_violations,
)
from checks.names import check_unique_names
from checks.resources import as_list, contains_unknown, is_unknown
from checks.runners import check_alerts_per_run, check_runner_retries
from data_platform.contract.naming import DATA_LAYERS

BUCKET = "aws:s3/bucket:Bucket"
BUCKET_SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
BUCKET_PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_LOGGING = "aws:s3/bucketLogging:BucketLogging"
QUEUE = "aws:sqs/queue:Queue"
TOPIC = "aws:sns/topic:Topic"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
SCHEDULE = "aws:scheduler/schedule:Schedule"
GLUE_JOB = "aws:glue/job:Job"
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


class UnknownValue(Exception):
    """The rule's decision depends on a value Pulumi does not know yet."""

    def __init__(self, path: str, why: str = "") -> None:
        super().__init__(f"{path} is unknown during preview" + (f" ({why})" if why else ""))
        self.path = path


class StackResource(NamedTuple):
    type: str
    name: str
    props: Mapping[str, Any]
    parent: str | None = None
    # property name -> logical names of the resources whose outputs flow into it
    dependencies: Mapping[str, Sequence[str]] | None = None


@dataclass(frozen=True)
class Violation:
    resource: str | None  # logical name of the offending resource (None: the stack)
    message: str
    unknown: bool = False  # could not be decided: a value is unknown (preview)

    def __str__(self) -> str:
        return f"{self.resource or '(stack)'}: {self.message}"


def _known(value: Any, path: str, why: str = "") -> Any:
    if is_unknown(value) or (isinstance(value, str) and contains_unknown(value)):
        raise UnknownValue(path, why)
    return value


def _get(props: Mapping[str, Any], *path: str) -> Any:
    node: Any = props
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _display(props: Mapping[str, Any]) -> str:
    name = props.get("name")
    return repr(name) if isinstance(name, str) and not is_unknown(name) else "(unnamed)"


# ============================================================================================
# Resource rules: (resource_type, props) -> [message]


def sqs_queue_encrypted(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type != QUEUE:
        return []
    kms = props.get("kmsMasterKeyId")
    if kms or props.get("sqsManagedSseEnabled") is True:
        return []
    return [
        f"SQS queue {_display(props)} is not encrypted at rest: set kms_master_key_id (SSE-KMS) "
        "or sqs_managed_sse_enabled=True (SSE-SQS)"
    ]


def sns_topic_encrypted(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type != TOPIC or props.get("kmsMasterKeyId"):
        return []
    return [
        f"SNS topic {_display(props)} is not encrypted at rest: set kms_master_key_id to the "
        "environment's KMS key (alias/aws/sns cannot be used by EventBridge and CloudWatch publishers)"
    ]


def log_group_retention(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type != LOG_GROUP:
        return []
    days = props.get("retentionInDays")
    name = _display(props)
    if days is None or days == 0:
        return [
            f"log group {name} keeps logs forever: set retention_in_days (the stack's retention.log_retention_days)"
        ]
    days = _known(days, "retentionInDays")
    if days not in LOG_RETENTION_DAYS:
        return [
            f"log group {name}: retention_in_days={days} is not a value CloudWatch Logs accepts "
            f"({', '.join(map(str, sorted(LOG_RETENTION_DAYS)))})"
        ]
    return []


def iam_no_wildcard_resource(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """No Allow statement with Resource "*" beyond WILDCARD_RESOURCE_EXCEPTIONS (identity and
    resource policies; KMS key policies' "*" means the key itself and is not audited)."""
    messages = []
    for doc in iam_documents([{"type": resource_type, "name": "", "inputs": props}]):
        if doc.kind not in ("identity", "resource"):
            continue
        text = _known(doc.text, doc.path, "the policy document is built from unknown ARNs")
        if isinstance(text, Mapping) and contains_unknown(text):
            raise UnknownValue(doc.path, "the policy document holds unknown ARNs")
        try:
            document = parse_document(text)
        except ValueError as error:
            messages.append(f"{doc.path}: not a policy document: {error}")
            continue
        messages += [f"{doc.path}: {m}" for m in wildcard_violations(document, WILDCARD_RESOURCE_EXCEPTIONS)]
    return messages


def _delivery_settings(resource_type: str, props: Mapping[str, Any]) -> tuple[Any, Any, str] | None:
    if resource_type == EVENT_TARGET:
        return props.get("deadLetterConfig"), props.get("retryPolicy"), "event target"
    if resource_type == SCHEDULE:
        target = props.get("target") or {}
        return target.get("deadLetterConfig"), target.get("retryPolicy"), "schedule target"
    return None


def targets_have_dlq_and_retry(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    settings = _delivery_settings(resource_type, props)
    if settings is None:
        return []
    dead_letter, retry, what = settings
    messages = []
    if not isinstance(dead_letter, Mapping) or not dead_letter.get("arn"):
        messages.append(
            f"{what} has no dead-letter queue: set dead_letter_config.arn to an SQS queue, or failed "
            "deliveries are dropped without a trace"
        )
    if (
        not isinstance(retry, Mapping)
        or retry.get("maximumRetryAttempts") is None
        or retry.get("maximumEventAgeInSeconds") is None
    ):
        messages.append(
            f"{what} has no explicit retry policy: set retry_policy.maximum_retry_attempts and "
            "maximum_event_age_in_seconds (the stack's delivery settings)"
        )
    return messages


_GLUE_JOB_ARN = re.compile(r"^arn:[^:]+:glue:[^:]*:[^:]*:job/")
_GLUE_SDK_TARGET = re.compile(r"^arn:[^:]+:scheduler:::aws-sdk:glue:", re.IGNORECASE)


def _target_arn(resource_type: str, props: Mapping[str, Any]) -> Any:
    if resource_type == EVENT_TARGET:
        return props.get("arn")
    if resource_type == SCHEDULE:
        return _get(props, "target", "arn")
    return None


def no_direct_glue_targets(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type not in (EVENT_TARGET, SCHEDULE):
        return []
    arn = _target_arn(resource_type, props)
    if not isinstance(arn, str) or is_unknown(arn):
        return []  # decided by the stack rule, which links the target to its resource
    if _GLUE_JOB_ARN.match(arn) or _GLUE_SDK_TARGET.match(arn):
        return [
            f"targets Glue directly ({arn}); EventBridge cannot target a Glue job: target the job's "
            "runner state machine, which starts the run and retries Glue's transient errors"
        ]
    return []


RESOURCE_RULES: dict[str, tuple[str, Callable[[str, Mapping[str, Any]], list[str]]]] = {
    "sqs-queues-encrypted": ("SQS queues are encrypted at rest (SSE-KMS or SSE-SQS).", sqs_queue_encrypted),
    "sns-topics-encrypted": ("SNS topics are encrypted with the environment's KMS key.", sns_topic_encrypted),
    "log-groups-have-retention": ("CloudWatch log groups have a retention period.", log_group_retention),
    "iam-no-wildcard-resource": (
        'IAM statements use Resource "*" only for actions without resource-level '
        "permissions (WILDCARD_RESOURCE_EXCEPTIONS).",
        iam_no_wildcard_resource,
    ),
    "targets-have-dlq-and-retry": (
        "Every EventBridge target and Scheduler schedule has a dead-letter queue and a retry policy.",
        targets_have_dlq_and_retry,
    ),
    "no-direct-glue-targets": (
        "Nothing targets a Glue job directly; triggers target the job's runner.",
        no_direct_glue_targets,
    ),
}


# ============================================================================================
# Linking resources in the stack view.
#
# A property that refers to another resource is matched, in order, by
# 1. the engine's property dependencies (pulumi preview/up), when given;
# 2. its value: equal to the other resource's physical name or ending in ":<name>" or "/<name>"
#    (ARNs), e.g. a role ARN ".../role/<role name>" or a bucket id equal to the bucket's name;
# 3. structure: the same parent component and a logical name extending the other's
#    (e.g. "<bucket>-versioning" under the bucket's component).


def _physical(resource: StackResource) -> set[str]:
    names = set()
    for key in ("name", "bucket"):
        value = resource.props.get(key)
        if isinstance(value, str) and value and not is_unknown(value):
            names.add(value)
    return names


def _refers(value: Any, target: StackResource) -> bool:
    if not isinstance(value, str) or is_unknown(value):
        return False
    for name in _physical(target):
        if value == name or value.endswith(f":{name}") or value.endswith(f"/{name}") or value.endswith(f":::{name}"):
            return True
    return False


def _link(
    source: StackResource,
    prop: str,
    candidates: Sequence[StackResource],
    *,
    by_name: bool = True,
    by_parent: bool = False,
) -> StackResource | None:
    if source.dependencies and source.dependencies.get(prop):
        wanted = set(source.dependencies[prop])
        found = [c for c in candidates if c.name in wanted]
        if len(found) == 1:
            return found[0]
    value = _get(source.props, *prop.split("."))
    found = [c for c in candidates if _refers(value, c)]
    if len(found) == 1:
        return found[0]
    if by_name:
        # The bucket (role, ...) whose logical name the source's extends, in the same parent.
        found = sorted(
            (c for c in candidates if source.name.startswith(f"{c.name}-") and c.parent == source.parent),
            key=lambda c: len(c.name),
            reverse=True,
        )
        if found:
            return found[0]
    if by_parent and source.parent is not None:
        found = [c for c in candidates if c.parent == source.parent]
        if len(found) == 1:
            return found[0]
    return None


def _of_type(resources: Iterable[StackResource], type_token: str) -> list[StackResource]:
    return [r for r in resources if r.type == type_token]


def normalize(resources: Iterable[Any]) -> list[StackResource]:
    """Accept StackResource, (type, name, props[, parent]) tuples or synth dicts."""
    out = []
    for item in resources:
        if isinstance(item, StackResource):
            out.append(item)
        elif isinstance(item, Mapping):
            out.append(
                StackResource(
                    item["type"],
                    item["name"],
                    item.get("inputs") or item.get("props") or {},
                    item.get("parent"),
                    item.get("dependencies"),
                )
            )
        else:
            out.append(StackResource(*item))
    return out


# ============================================================================================
# Stack rules: bucket settings (pulumi-aws v7 keeps each in its own resource).


@dataclass
class _BucketView:
    bucket: StackResource
    encryption: list[tuple[StackResource | None, Any]]  # (resource or None for inline, rules)
    public_access: list[StackResource]
    versioning: list[tuple[StackResource | None, Any]]  # (resource or None for inline, status)
    policies: list[tuple[StackResource | None, Any]]  # (resource or None for inline, document)
    is_access_log_target: bool = False


def _bucket_views(resources: list[StackResource]) -> tuple[dict[str, _BucketView], list[Violation]]:
    buckets = _of_type(resources, BUCKET)
    views = {b.name: _BucketView(b, [], [], [], []) for b in buckets}
    problems: list[Violation] = []
    for bucket in buckets:
        view = views[bucket.name]
        inline_sse = bucket.props.get("serverSideEncryptionConfiguration")
        if inline_sse:
            view.encryption.append((None, [(_get(inline_sse, "rule") or {})]))
        inline_versioning = bucket.props.get("versioning")
        if isinstance(inline_versioning, Mapping):
            view.versioning.append((None, "Enabled" if inline_versioning.get("enabled") else "Suspended"))
        if bucket.props.get("policy"):
            view.policies.append((None, bucket.props["policy"]))
    for type_token, attach in (
        (BUCKET_SSE, lambda v, r: v.encryption.append((r, r.props.get("rules")))),
        (BUCKET_PAB, lambda v, r: v.public_access.append(r)),
        (BUCKET_VERSIONING, lambda v, r: v.versioning.append((r, _get(r.props, "versioningConfiguration", "status")))),
        (BUCKET_POLICY, lambda v, r: v.policies.append((r, r.props.get("policy")))),
    ):
        for setting in _of_type(resources, type_token):
            owner = _link(setting, "bucket", buckets)
            if owner is None:
                problems.append(
                    Violation(
                        setting.name,
                        f"cannot tell which bucket this setting belongs to (bucket={setting.props.get('bucket')!r})",
                        unknown=contains_unknown(setting.props.get("bucket")),
                    )
                )
                continue
            attach(views[owner.name], setting)
    for logging in _of_type(resources, BUCKET_LOGGING):
        target = _link(logging, "targetBucket", buckets, by_name=False)
        if target is None:
            problems.append(
                Violation(
                    logging.name,
                    "cannot tell which bucket receives these access logs "
                    f"(target_bucket={logging.props.get('targetBucket')!r})",
                    unknown=contains_unknown(logging.props.get("targetBucket")),
                )
            )
            continue
        views[target.name].is_access_log_target = True
    return views, problems


def _bucket_label(view: _BucketView) -> str:
    name = view.bucket.props.get("bucket")
    return f"bucket {name}" if isinstance(name, str) and not is_unknown(name) else f"bucket '{view.bucket.name}'"


def _bucket_rule(
    judge: Callable[[_BucketView, str], list[Violation]], *, unlinked_logging: bool = False
) -> Callable[[Iterable[Any]], list[Violation]]:
    """A stack rule that judges each bucket with its settings (`judge(view, label)`), after the
    settings no bucket could be found for (and, with `unlinked_logging`, the access-log
    settings whose target bucket could not be found: only encryption depends on them)."""

    def rule(resources: Iterable[Any]) -> list[Violation]:
        views, problems = _bucket_views(normalize(resources))
        violations = [p for p in problems if unlinked_logging or "setting" in p.message]
        for view in views.values():
            violations += judge(view, _bucket_label(view))
        return violations

    rule.__doc__ = judge.__doc__
    return rule


def _sse_kms(view: _BucketView, label: str) -> list[Violation]:
    """Every bucket is encrypted with SSE-KMS (a customer key, bucket keys on). The documented
    exception: the server-access-log bucket (the target of BucketLogging), which S3 log
    delivery can only write with SSE-S3 (AES256)."""
    if not view.encryption:
        return [
            Violation(
                view.bucket.name,
                f"{label} has no default encryption configuration (aws.s3.BucketServerSideEncryptionConfiguration)",
            )
        ]
    violations = []
    for setting, rules in view.encryption:
        where = setting.name if setting else view.bucket.name
        rules = as_list(rules)
        if not rules:
            violations.append(Violation(where, f"{label}: encryption configuration has no rule"))
        for rule in rules:
            violations += [
                Violation(where, message, unknown=unknown)
                for message, unknown in _encryption_rule_problems(rule, label, view.is_access_log_target)
            ]
    return violations


def _encryption_rule_problems(rule: Mapping[str, Any], label: str, access_logs: bool) -> list[tuple[str, bool]]:
    """(message, unknown) of one default-encryption rule of a bucket."""
    default = _get(rule, "applyServerSideEncryptionByDefault") or {}
    algorithm = default.get("sseAlgorithm")
    if is_unknown(algorithm):
        return [(f"{label}: sse_algorithm is unknown", True)]
    if access_logs:
        if algorithm not in ("AES256", "aws:kms", "aws:kms:dsse"):
            return [
                (
                    f"{label} (access logs): sse_algorithm {algorithm!r}; "
                    "use AES256 (SSE-S3), the documented exception for log delivery",
                    False,
                )
            ]
        return []
    if algorithm not in ("aws:kms", "aws:kms:dsse"):
        return [
            (
                f"{label} uses {algorithm!r}; data buckets must use SSE-KMS (sse_algorithm 'aws:kms') with the "
                "environment's key. Only the access-log bucket (a BucketLogging target) may use AES256",
                False,
            )
        ]
    problems = []
    if not default.get("kmsMasterKeyId"):
        problems.append(
            (
                f"{label}: SSE-KMS without kms_master_key_id uses the AWS managed key aws/s3; use the "
                "environment's customer managed key",
                False,
            )
        )
    if rule.get("bucketKeyEnabled") is not True:
        problems.append(
            (f"{label}: bucket_key_enabled is not true; S3 Bucket Keys cut KMS requests for Spark writes", False)
        )
    return problems


_PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "ignorePublicAcls", "blockPublicPolicy", "restrictPublicBuckets")


def _public_access_blocked(view: _BucketView, label: str) -> list[Violation]:
    """Every bucket blocks all public access."""
    violations = []
    if not view.public_access:
        violations.append(
            Violation(
                view.bucket.name,
                f"{label} has no public access block (aws.s3.BucketPublicAccessBlock with all four settings true)",
            )
        )
    for block in view.public_access:
        off = [f for f in _PUBLIC_ACCESS_FLAGS if block.props.get(f) is not True]
        if off:
            violations.append(
                Violation(
                    block.name, f"{label}: public access block leaves {', '.join(off)} not true; all four must be true"
                )
            )
    return violations


def _is_tls_deny(statement: Mapping[str, Any], bucket: str | None) -> bool:
    if statement.get("Effect") != "Deny":
        return False
    principal = statement.get("Principal")
    if principal != "*" and not (isinstance(principal, Mapping) and "*" in as_list(principal.get("AWS"))):
        return False
    actions = {str(a) for a in as_list(statement.get("Action"))}
    if not actions & {"s3:*", "*"}:
        return False
    condition = statement.get("Condition") or {}
    insecure = _get(condition, "Bool", "aws:SecureTransport")
    if str(insecure).lower() != "false":
        return False
    if bucket:
        resources = {str(r) for r in as_list(statement.get("Resource"))}
        covers_bucket = any(r.endswith(f":::{bucket}") for r in resources) or "*" in resources
        covers_objects = any(r.endswith(f":::{bucket}/*") for r in resources) or "*" in resources
        return covers_bucket and covers_objects
    return True


def _tls_only(view: _BucketView, label: str) -> list[Violation]:
    """Every bucket's policy denies any request without TLS (aws:SecureTransport false) to the
    bucket and its objects."""
    name = view.bucket.props.get("bucket")
    name = name if isinstance(name, str) and not is_unknown(name) else None
    if not view.policies:
        return [
            Violation(
                view.bucket.name,
                f"{label} has no bucket policy; it needs a statement that "
                "denies s3:* when aws:SecureTransport is false",
            )
        ]
    violations = []
    found = False
    for setting, document in view.policies:
        where = setting.name if setting else view.bucket.name
        if contains_unknown(document):
            violations.append(Violation(where, f"{label}: bucket policy is unknown", unknown=True))
            found = True
            continue
        try:
            parsed = parse_document(document)
        except ValueError as error:
            violations.append(Violation(where, f"{label}: bucket policy is not a policy document: {error}"))
            continue
        found = found or any(_is_tls_deny(s, name) for s in statements(parsed))
    if not found:
        violations.append(
            Violation(
                view.bucket.name,
                f"{label}: no bucket policy statement denies s3:* to "
                "Principal '*' on the bucket and its objects when aws:SecureTransport is "
                "false (TLS-only)",
            )
        )
    return violations


def _versioned(view: _BucketView, label: str) -> list[Violation]:
    """Every bucket has versioning enabled."""
    violations = []
    if not view.versioning:
        violations.append(
            Violation(view.bucket.name, f"{label} has no versioning (aws.s3.BucketVersioning with status Enabled)")
        )
    for setting, status in view.versioning:
        where = setting.name if setting else view.bucket.name
        if is_unknown(status):
            violations.append(Violation(where, f"{label}: versioning status is unknown", unknown=True))
        elif status != "Enabled":
            violations.append(Violation(where, f"{label}: versioning status is {status!r}, not 'Enabled'"))
    return violations


buckets_sse_kms = _bucket_rule(_sse_kms, unlinked_logging=True)
buckets_block_public_access = _bucket_rule(_public_access_blocked)
buckets_tls_only = _bucket_rule(_tls_only)
buckets_versioned = _bucket_rule(_versioned)


# ============================================================================================
# Stack rules: least privilege of the Glue job roles and runner roles.


_S3_OBJECT = re.compile(r"^arn:[^:]+:s3:::([^/]+)/(.*)$")
_S3_BUCKET = re.compile(r"^arn:[^:]+:s3:::([^/]+)$")
_S3_URI = re.compile(r"^s3://([^/]+)/?(.*)$")
_S3_WRITE = re.compile(r"^s3:(Put|Delete|Abort|Restore|Replicate|Create|Update|Bypass|\*)", re.IGNORECASE)


def _role_documents(
    role: StackResource, resources: list[StackResource], roles: list[StackResource]
) -> list[tuple[StackResource, str, Any]]:
    """(resource, path, document) of every identity policy attached inline to `role`."""
    documents: list[tuple[StackResource, str, Any]] = []
    for index, inline in enumerate(role.props.get("inlinePolicies") or []):
        if isinstance(inline, Mapping) and inline.get("policy"):
            documents.append((role, f"inlinePolicies[{index}].policy", inline["policy"]))
    for policy in _of_type(resources, ROLE_POLICY):
        if _link(policy, "role", roles, by_parent=True) is role:
            documents.append((policy, "policy", policy.props.get("policy")))
    return documents


def _dirname(key: str) -> str:
    return key.rsplit("/", 1)[0] + "/" if "/" in key else ""


@dataclass
class _JobView:
    resource: StackResource
    glue_name: str
    source_prefix: str | None
    data_buckets: dict[str, str]  # bucket name -> layer
    artifact_prefixes: dict[str, set[str]]  # bucket -> prefixes of the job's own code, temp and Data Docs
    tables: tuple[str, ...] | None = None  # the maintenance job's `--tables`; None for a dataset job


def _job_view(job: StackResource) -> _JobView:
    args = job.props.get("defaultArguments") or {}
    data_buckets = {}
    for layer in DATA_LAYERS:
        bucket = args.get(f"--{layer}_bucket")
        if isinstance(bucket, str) and not is_unknown(bucket):
            data_buckets[bucket] = layer
    artifacts: dict[str, set[str]] = {}
    uris = [_get(job.props, "command", "scriptLocation"), args.get("--TempDir")]
    for key in ("--extra-py-files", "--extra-files", "--extra-jars"):
        uris += str(args.get(key) or "").split(",")
    for uri in uris:
        match = _S3_URI.match(str(uri or "").strip())
        if not match or contains_unknown(uri):
            continue
        bucket, key = match.groups()
        prefix = key if key.endswith("/") or key == "" else _dirname(key)
        artifacts.setdefault(bucket, set()).add(prefix)
    # Where the job writes its gate's Data Docs (a bucket and a folder of it, both arguments).
    # A prefix without its closing "/" would cover every key that starts like it: not counted.
    docs_bucket, docs_prefix = args.get("--data_docs_bucket"), args.get("--data_docs_prefix")
    if isinstance(docs_bucket, str) and isinstance(docs_prefix, str) and docs_prefix.endswith("/"):
        if not contains_unknown([docs_bucket, docs_prefix]):
            artifacts.setdefault(docs_bucket, set()).add(docs_prefix)
    name = job.props.get("name")
    source_prefix = args.get("--source_prefix")
    tables = args.get("--tables")
    return _JobView(
        job,
        name if isinstance(name, str) else job.name,
        source_prefix if isinstance(source_prefix, str) else None,
        data_buckets,
        artifacts,
        tuple(t for t in tables.split(",") if t) if isinstance(tables, str) else None,
    )


def _job_key(view: _JobView, key: str) -> bool:
    """Does `key` (a job key such as 'sales_etl') name this Glue job (e.g. 'data-lake-dev-sales_etl')?"""
    return view.glue_name == key or view.glue_name.endswith(f"-{key}")


_BOOKKEEPING = re.compile(r"^_(ledger|runs)/([^/]+)/")
# A dataset's own areas: its table (`<dataset>/`) and its quarantine (staged first when big).
_DATASET_AREAS = re.compile(r"^(?:_staging/_quarantine/|_quarantine/)?([^_/][^/]*)/")


def _s3_grants(document: Mapping[str, Any]) -> list[tuple[str, str, str | None, list[str]]]:
    """(action, bucket, key prefix or None for bucket-level, s3:prefix conditions) per grant."""
    grants = []
    for statement in statements(document):
        if statement.get("Effect") != "Allow":
            continue
        actions = [str(a) for a in as_list(statement.get("Action")) if str(a).lower().startswith(("s3:", "*"))]
        if not actions:
            continue
        prefixes = [str(p) for p in as_list(_get(statement.get("Condition") or {}, "StringLike", "s3:prefix"))]
        prefixes += [str(p) for p in as_list(_get(statement.get("Condition") or {}, "StringEquals", "s3:prefix"))]
        for resource in as_list(statement.get("Resource")):
            text = str(resource)
            obj, bucket = _S3_OBJECT.match(text), _S3_BUCKET.match(text)
            for action in actions:
                if obj:
                    # `prefix*` covers the prefix; an exact key is judged as the folder it names
                    # (`sales` is the folder key Spark HEADs before opening `sales/`).
                    key = obj.group(2)
                    key = key[:-1] if key.endswith("*") else (f"{key}/" if key and not key.endswith("/") else key)
                    grants.append((action, obj.group(1), key, prefixes))
                elif bucket:
                    grants.append((action, bucket.group(1), None, prefixes))
                else:
                    grants.append((action, text, "", prefixes))  # "*" or a non-S3 ARN: whole-account scope
    return grants


@dataclass(frozen=True)
class _Grant:
    holder: str  # logical name of the resource holding the statement
    action: str
    bucket: str
    layer: str | None  # bronze/silver/gold for the job's data buckets, "artifacts", or None
    key: str  # object key prefix (a bucket-level grant: each s3:prefix condition)
    writes: bool
    bucket_level: bool


def _parsed_role_documents(
    role: StackResource,
    resources: list[StackResource],
    roles: list[StackResource],
    violations: list[Violation],
    *,
    label: str = "role",
) -> Iterable[tuple[StackResource, Mapping[str, Any]]]:
    """(holder, document) of each of the role's policies; unknown or malformed ones are
    reported in `violations` (as they are met) and skipped."""
    for holder, path, text in _role_documents(role, resources, roles):
        if contains_unknown(text):
            violations.append(Violation(holder.name, f"{label} {role.name}: {path} is unknown", unknown=True))
            continue
        try:
            yield holder, parse_document(text)
        except ValueError as error:
            violations.append(Violation(holder.name, f"{path}: not a policy document: {error}"))


def _job_grants(
    job: _JobView,
    role: StackResource,
    resources: list[StackResource],
    roles: list[StackResource],
    violations: list[Violation],
) -> list[_Grant]:
    grants = []
    for holder, document in _parsed_role_documents(role, resources, roles, violations):
        for action, bucket, key, conditions in _s3_grants(document):
            writes = bool(_S3_WRITE.match(action)) or action == "*"
            layer = job.data_buckets.get(bucket) or ("artifacts" if bucket in job.artifact_prefixes else None)
            if key is None:
                if action.lower() == "s3:getbucketlocation":
                    continue
                keys = [c.rstrip("*") for c in conditions] or [""]
                grants += [_Grant(holder.name, action, bucket, layer, k, writes, True) for k in keys]
            else:
                grants.append(_Grant(holder.name, action, bucket, layer, key, writes, False))
    return grants


def _written_dataset(grant: _Grant) -> str | None:
    if grant.layer not in ("silver", "gold") or not grant.writes or _BOOKKEEPING.match(grant.key):
        return None
    area = _DATASET_AREAS.match(grant.key)
    return area.group(1) if area else None


def glue_job_roles_scoped(resources: Iterable[Any]) -> list[Violation]:
    """Each Glue job's role reads only its own input prefix, writes only its own dataset (and
    its bookkeeping), reads only its own code, and never writes bronze; its policy names no
    other job's input prefix or dataset.

    Roles are related to jobs by the job's `roleArn` (or, failing that, the one role in the
    job's component); a job's input is its `--source_prefix` default argument and its buckets
    the `--bronze_bucket`/`--silver_bucket`/`--gold_bucket` ones; its dataset is what its role
    writes (which must be one dataset, and no other job's).
    """
    resources = normalize(resources)
    roles = _of_type(resources, ROLE)
    violations: list[Violation] = []
    views: list[tuple[_JobView, StackResource, list[_Grant]]] = []
    for job in (_job_view(j) for j in _of_type(resources, GLUE_JOB)):
        role = _link(job.resource, "roleArn", roles, by_name=False, by_parent=True)
        if role is None:
            violations.append(
                Violation(
                    job.resource.name,
                    f"Glue job {job.glue_name}: cannot find its role (role_arn={job.resource.props.get('roleArn')!r})",
                    unknown=contains_unknown(job.resource.props.get("roleArn")),
                )
            )
            continue
        if job.source_prefix is None and job.tables is None:
            violations.append(
                Violation(
                    job.resource.name,
                    f"Glue job {job.glue_name} has no --source_prefix "
                    "(dataset job) or --tables (maintenance job) default argument; its "
                    "access cannot be scoped",
                )
            )
            continue
        views.append((job, role, _job_grants(job, role, resources, roles, violations)))

    # Phase 1: the dataset each job writes (the maintenance job maintains them all, owns none).
    datasets: dict[str, set[tuple[str, str]]] = {}
    for job, role, grants in (v for v in views if v[0].tables is None):
        datasets[job.glue_name] = {(g.bucket, d) for g in grants if (d := _written_dataset(g))}
        names = sorted({d for _, d in datasets[job.glue_name]})
        if len(names) > 1:
            violations.append(
                Violation(
                    role.name,
                    f"role of Glue job {job.glue_name} writes several datasets "
                    f"({', '.join(names)}); a job writes only its own",
                )
            )
    owners: dict[tuple[str, str], list[str]] = {}
    for glue_name, places in datasets.items():
        for place in places:
            owners.setdefault(place, []).append(glue_name)
    for (bucket, dataset), writers in sorted(owners.items()):
        if len(writers) > 1:
            violations.append(
                Violation(
                    None,
                    f"dataset s3://{bucket}/{dataset}/ is writable by the roles of "
                    f"several Glue jobs ({', '.join(sorted(writers))}); each dataset belongs "
                    "to one job",
                )
            )

    # Phase 2: every grant of every job role.
    jobs = [v[0] for v in views]
    for job, _role, grants in views:
        others = [o for o in jobs if o is not job]
        for grant in grants:
            message = _grant_problem(job, others, grant, datasets)
            if message:
                violations.append(
                    Violation(
                        grant.holder,
                        f"role of Glue job {job.glue_name} grants {grant.action} "
                        f"on s3://{grant.bucket}/{grant.key}*: {message}",
                    )
                )
    return violations


_LIST_ACTIONS = frozenset({"s3:listbucket", "s3:list*", "s3:*", "*"})


def glue_job_roles_list_their_buckets(resources: Iterable[Any]) -> list[Violation]:
    """Each Glue job role may s3:ListBucket, with no condition, every bucket it reads or writes
    objects in. Without it S3 answers a HEAD or GET of a missing key with 403 instead of 404
    (it evaluates ListBucket with no s3:prefix in the request context, so a prefix-conditioned
    grant does not count), and Spark's S3 file systems, which HEAD `key` and `key/` before
    reading or overwriting a folder, fail on the 403.
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html"""
    resources = normalize(resources)
    roles = _of_type(resources, ROLE)
    violations: list[Violation] = []
    for job in (_job_view(j) for j in _of_type(resources, GLUE_JOB)):
        role = _link(job.resource, "roleArn", roles, by_name=False, by_parent=True)
        if role is None:
            continue  # glue_job_roles_scoped reports a job without a role
        object_buckets: set[str] = set()
        listable: set[str] = set()
        # Unknown or malformed documents are glue_job_roles_scoped's to report.
        for _holder, document in _parsed_role_documents(role, resources, roles, []):
            for statement in statements(document):
                if statement.get("Effect") != "Allow":
                    continue
                actions = {str(a).lower() for a in as_list(statement.get("Action"))}
                for resource in as_list(statement.get("Resource")):
                    obj, bucket = _S3_OBJECT.match(str(resource)), _S3_BUCKET.match(str(resource))
                    if obj and any(a.startswith("s3:") or a == "*" for a in actions):
                        object_buckets.add(obj.group(1))
                    elif bucket and actions & _LIST_ACTIONS and not statement.get("Condition"):
                        listable.add(bucket.group(1))
        for bucket in sorted(object_buckets - listable):
            violations.append(
                Violation(
                    role.name,
                    f"role of Glue job {job.glue_name} may not s3:ListBucket "
                    f"{bucket} without a condition: a HEAD of a missing key there is 403, not "
                    "404, and Spark fails on it; grant s3:ListBucket on the bucket itself",
                )
            )
    return violations


def _grant_problem(
    job: _JobView, others: list[_JobView], grant: _Grant, datasets: Mapping[str, set[tuple[str, str]]]
) -> str | None:
    key = grant.key
    if grant.layer is None:
        return "a bucket that is none of the job's data or artifact buckets"
    if grant.bucket_level and key == "" and grant.action.lower() == "s3:listbucket":
        return None  # names of keys only, and what turns a missing key's 403 into 404 (list_own_buckets)
    if grant.layer == "artifacts":
        own = job.artifact_prefixes[grant.bucket]
        if any(key.startswith(p) for p in own) and key:
            return None
        return f"outside its own code, temp and Data Docs folders ({', '.join(sorted(own))})"
    if grant.bucket_level and key == "":
        return "the whole bucket; only s3:ListBucket may be granted on a bucket as a whole"
    if job.tables is not None:
        return _maintenance_grant_problem(job, grant)
    if grant.layer == "bronze":
        if grant.writes:
            return "jobs never modify bronze (read-only input)"
        if key.startswith(job.source_prefix):
            return None
        owner = next((o for o in others if o.source_prefix and key.startswith(o.source_prefix)), None)
        if owner is not None:
            return (
                f"the input prefix of Glue job {owner.glue_name}; it may read only its own prefix {job.source_prefix}"
            )
        return f"outside its own input prefix {job.source_prefix}"
    bookkeeping = _BOOKKEEPING.match(key)
    if bookkeeping:
        if _job_key(job, bookkeeping.group(2)):
            return None
        if (
            not grant.writes
            and bookkeeping.group(1) == "runs"
            and any(_job_key(o, bookkeeping.group(2)) for o in others)
        ):
            return None  # run manifests of a job that starts this one (after-job triggers)
        return "another job's bookkeeping"
    own_dataset = {d for b, d in datasets.get(job.glue_name, set()) if b == grant.bucket}
    area = _DATASET_AREAS.match(key)
    dataset = area.group(1) if area else None
    if dataset in own_dataset:
        sharer = next(
            (o.glue_name for o in others if (grant.bucket, dataset) in datasets.get(o.glue_name, set())), None
        )
        if grant.writes and sharer is not None:
            return f"the dataset of Glue job {sharer} too; each dataset is written by one job"
        return None
    if not grant.writes and key.startswith(job.source_prefix):
        return None  # its own input (a gold job reads its silver source)
    owner = next((o.glue_name for o in others if (grant.bucket, dataset) in datasets.get(o.glue_name, set())), None)
    if owner is not None:
        return f"the dataset of Glue job {owner}; a job writes only its own dataset and reads only its input"
    if dataset is None:
        return "not within one dataset; scope it to <dataset>/ (or _quarantine/, _staging/_quarantine/ of it)"
    return f"neither its input ({job.source_prefix}) nor its own dataset"


def _maintenance_grant_problem(job: _JobView, grant: _Grant) -> str | None:
    """The maintenance job compacts, expires and cleans exactly the tables of its `--tables`:
    their locations `<dataset>/` in silver or gold, nothing of bronze, no job's bookkeeping."""
    if grant.layer == "bronze":
        return "the maintenance job touches no bronze object"
    if any(grant.key.startswith(f"{table}/") for table in job.tables or ()):
        return None
    return f"not the location of a table it maintains (--tables {','.join(job.tables or ())})"


_GLUE_TASK = re.compile(r":states:::glue:startJobRun", re.IGNORECASE)
_GLUE_ARN_JOB = re.compile(r"^arn:[^:]+:glue:[^:]*:[^:]*:job/(.+)$")


def _definition_jobs(definition: Any) -> list[str]:
    """Glue job names the definition's Task states start."""
    found: list[str] = []

    def walk(states: Any) -> None:
        if not isinstance(states, Mapping):
            return
        for state in states.values():
            if not isinstance(state, Mapping):
                continue
            if state.get("Type") == "Task" and _GLUE_TASK.search(str(state.get("Resource", ""))):
                name = _get(state, "Parameters", "JobName")
                found.append(str(name) if name is not None else "<JobName from input>")
            for branch in as_list(state.get("Branches")):
                walk(_get(branch, "States"))
            walk(_get(state, "Iterator", "States"))
            walk(_get(state, "ItemProcessor", "States"))

    document = json.loads(definition) if isinstance(definition, str) else definition
    walk(_get(document, "States"))
    return found


def runner_roles_scoped(resources: Iterable[Any]) -> list[Violation]:
    """Each runner (state machine) starts exactly one Glue job, and its role may act on that job
    only: every glue: action in its policies is scoped to that job's ARN."""
    resources = normalize(resources)
    roles = _of_type(resources, ROLE)
    glue_names = {_job_view(j).glue_name for j in _of_type(resources, GLUE_JOB)}
    violations: list[Violation] = []
    for machine in _of_type(resources, STATE_MACHINE):
        job = _runner_job(machine, glue_names, violations)
        if job is None:
            continue
        role = _link(machine, "roleArn", roles, by_name=False, by_parent=True)
        if role is None:
            violations.append(
                Violation(
                    machine.name,
                    f"cannot find the runner's role (role_arn={machine.props.get('roleArn')!r})",
                    unknown=contains_unknown(machine.props.get("roleArn")),
                )
            )
            continue
        violations += _runner_role_violations(role, job, resources, roles)
    return violations


def _runner_job(machine: StackResource, glue_names: set[str], violations: list[Violation]) -> str | None:
    """The one Glue job the runner's definition starts, or None (reported in `violations`)."""
    definition = machine.props.get("definition")
    if contains_unknown(definition):
        violations.append(Violation(machine.name, "definition is unknown", unknown=True))
        return None
    try:
        jobs = _definition_jobs(definition)
    except (ValueError, TypeError) as error:
        violations.append(Violation(machine.name, f"definition is not JSON: {error}"))
        return None
    if len(set(jobs)) != 1:
        violations.append(
            Violation(
                machine.name, f"a runner starts exactly one Glue job; this one starts {sorted(set(jobs)) or 'none'}"
            )
        )
        return None
    if jobs[0] not in glue_names:
        violations.append(
            Violation(machine.name, f"runner starts Glue job {jobs[0]!r}, which this stack does not declare")
        )
    return jobs[0]


def _runner_role_violations(
    role: StackResource, job: str, resources: list[StackResource], roles: list[StackResource]
) -> list[Violation]:
    """The runner's role acts on its own Glue job only, and may start it."""
    violations: list[Violation] = []
    may_start = False
    for holder, document in _parsed_role_documents(role, resources, roles, violations, label="runner role"):
        for statement in statements(document):
            if statement.get("Effect") != "Allow":
                continue
            glue_actions = [
                str(a) for a in as_list(statement.get("Action")) if str(a).lower().startswith("glue:") or str(a) == "*"
            ]
            for resource in as_list(statement.get("Resource")) if glue_actions else []:
                match = _GLUE_ARN_JOB.match(str(resource))
                if match and match.group(1) == job:
                    may_start = may_start or any(a.lower() in ("glue:startjobrun", "glue:*") for a in glue_actions)
                    continue
                target = f"Glue job {match.group(1)!r}" if match else repr(resource)
                violations.append(
                    Violation(
                        holder.name,
                        f"runner role {role.name} grants "
                        f"{', '.join(glue_actions)} on {target}; it may act only on "
                        f"its own job {job!r}",
                    )
                )
    undecided = any(v.unknown for v in violations)
    if not may_start and not undecided:
        violations.append(Violation(role.name, f"runner role {role.name} may not glue:StartJobRun its job {job!r}"))
    return violations


def nothing_targets_glue(resources: Iterable[Any]) -> list[Violation]:
    """Stack view of `no_direct_glue_targets`: a target whose ARN refers to a Glue job of the
    stack (by dependency or value), even where the ARN itself is unknown."""
    resources = normalize(resources)
    jobs = _of_type(resources, GLUE_JOB)
    violations = []
    for target in resources:
        if target.type not in (EVENT_TARGET, SCHEDULE):
            continue
        prop = "arn" if target.type == EVENT_TARGET else "target.arn"
        job = _link(target, prop, jobs, by_name=False)
        messages = no_direct_glue_targets(target.type, target.props)
        if job is not None and not messages:
            messages = [f"targets Glue job {job.name} directly; target the job's runner state machine"]
        violations += [Violation(target.name, m) for m in messages]
    return violations


def _aws_behaviour(check: Callable[[list[dict[str, Any]]], list[Any]]) -> Callable[[Iterable[Any]], list[Violation]]:
    """A deploy check of `checks` as a stack rule (it takes synth-shaped resources)."""

    def rule(resources: Iterable[Any]) -> list[Violation]:
        shaped = [{"type": r.type, "name": r.name, "inputs": dict(r.props)} for r in normalize(resources)]
        return [
            Violation(f.name if f.name != "*" else None, f"{f.path}: {f.message}" if f.path else f.message)
            for f in check(shaped)
        ]

    return rule


STACK_RULES: dict[str, tuple[str, Callable[[Iterable[Any]], list[Violation]]]] = {
    # Replace-safe names (checks.names.check_replace_safe_names) need the resource options, which
    # `lake synth` records and a policy pack is not given; that check runs in the deploy checks.
    "unique-physical-names": (
        "Two resources of one type never share a physical name.",
        _aws_behaviour(check_unique_names),
    ),
    "service-principals-scoped-to-source": (
        "Service principals in key, topic and queue policies carry aws:SourceAccount and aws:SourceArn.",
        _aws_behaviour(check_confused_deputy),
    ),
    "glue5-logging": (
        "Glue 5.0 jobs get no 4.0-only argument; the groups they write are declared, kept and writable by their role.",
        _aws_behaviour(check_glue_logging),
    ),
    "alerts-per-failed-run": (
        "Alerts follow the runner's execution status, not Glue's per-attempt events.",
        _aws_behaviour(check_alerts_per_run),
    ),
    "runner-retries-fit-the-error": (
        "Runners wait only on capacity errors and never retry permanent ones.",
        _aws_behaviour(check_runner_retries),
    ),
    "iceberg-catalog-tables": (
        "Every table a job commits to or maintains is an Iceberg table of the Glue Data "
        "Catalog, in the jobs' database, at s3://<its bucket>/<table>.",
        _aws_behaviour(check_iceberg_tables),
    ),
    "glue-jobs-load-iceberg": (
        "Every Glue job runs with --datalake-formats iceberg and a Spark catalog with "
        "GlueCatalog, S3FileIO and a warehouse in the silver or gold bucket.",
        _aws_behaviour(check_glue_iceberg),
    ),
    "glue-catalog-grants-scoped": (
        "Job roles' Glue Data Catalog statements name only the stack's catalog, database and tables.",
        _aws_behaviour(check_catalog_grants),
    ),
    "s3-buckets-sse-kms": (
        "Buckets use SSE-KMS with the environment's key and bucket keys; the access-log "
        "bucket is the documented SSE-S3 exception.",
        buckets_sse_kms,
    ),
    "s3-buckets-public-access-blocked": ("Every bucket blocks all public access.", buckets_block_public_access),
    "s3-buckets-tls-only": ("Every bucket policy denies requests without TLS.", buckets_tls_only),
    "s3-buckets-versioned": ("Every bucket has versioning enabled.", buckets_versioned),
    "glue-job-roles-scoped": (
        "Each Glue job role reads only its own input prefix and writes only its own dataset.",
        glue_job_roles_scoped,
    ),
    "glue-job-roles-list-their-buckets": (
        "Each Glue job role may list, without a condition, every bucket it "
        "reads or writes (a missing key is then 404, not 403).",
        glue_job_roles_list_their_buckets,
    ),
    "runner-roles-scoped": (
        "Each runner starts one Glue job and its role may act on that job only.",
        runner_roles_scoped,
    ),
    "nothing-targets-glue-directly": (
        "No EventBridge target or schedule targets a Glue job directly.",
        nothing_targets_glue,
    ),
}


def check_resources(resources: Iterable[Any]) -> dict[str, list[Violation]]:
    """Every rule (resource rules per resource, stack rules once) over one stack. For tests and
    for `lake`-style reporting; the pack runs the same functions through pulumi-policy."""
    resources = normalize(resources)
    results: dict[str, list[Violation]] = {}
    for name, (_, rule) in RESOURCE_RULES.items():
        found: list[Violation] = []
        for resource in resources:
            try:
                found += [Violation(resource.name, m) for m in rule(resource.type, resource.props)]
            except UnknownValue as unknown:
                found.append(Violation(resource.name, str(unknown), unknown=True))
        results[name] = found
    for name, (_, rule) in STACK_RULES.items():
        results[name] = rule(resources)
    return results
