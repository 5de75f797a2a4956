"""Deploy checks of AWS behaviour that no API input shape shows.

`data_platform.fidelity` checks each request against its operation's shape; the rules here
look across resources, at how AWS behaves once they exist:

* `check_unique_names`    - two resources of one type never share a physical name (the
  second CreateRole/CreateQueue would fail, and one trigger would replace the other).
* `check_replace_safe_names` - a resource that AWS cannot update in place and that carries a
  fixed name must be replaced delete-first, or its name must change with its inputs.
* `check_confused_deputy` - a resource policy that lets an AWS service principal use the KMS
  key, publish to a topic or send to a queue carries `aws:SourceAccount`, and
  `aws:SourceArn` where the service sets it.
* `check_glue_logging`    - a Glue 5.0 job gets no 4.0-only argument; the groups Glue 5.0
  writes for it are declared (retention, KMS), its security configuration does not redirect
  them, and its role may write them.
* `check_alerts_per_run`  - alerts follow the runner's execution status, not Glue's per-attempt
  job-state events.
* `check_runner_retries`  - each runner retry fits its error (data_platform.contract.runner_errors).
* `check_iceberg_tables`  - every table a job commits to (and every table the maintenance job
  maintains) is an Iceberg table of the Glue Data Catalog, in the jobs' database, at
  `s3://<its bucket>/<table>`.
* `check_glue_iceberg`    - every Glue job loads Iceberg (`--datalake-formats`) and configures
  a Spark catalog with GlueCatalog, S3FileIO and a warehouse in the stack's silver or gold bucket.
* `check_catalog_grants`  - a job role's Glue Data Catalog statements name only the stack's
  catalog, the jobs' database and tables the stack declares (no `*`, no other database).

Each returns `fidelity.Finding`s (empty means clean). Like `fidelity`, this module imports
only the standard library, so the policy pack in `policy/` can use it.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from data_platform.fidelity import (
    Finding,
    Resource,
    _finding,
    _inputs,
    as_list,
    contains_unknown,
    iam_documents,
    is_component_type,
    parse_document,
    statements,
)

# --------------------------------------------------------------------------------------------
# Unique physical names

# The inputs that together name a resource where AWS keeps it unique; a type not listed is
# named by its `name` input (or, for S3's per-bucket settings, by its `bucket`).
NAME_SCOPES: Mapping[str, tuple[str, ...]] = {
    "aws:iam/rolePolicy:RolePolicy": ("role", "name"),
    "aws:cloudwatch/eventTarget:EventTarget": ("eventBusName", "rule", "targetId"),
    "aws:s3/bucketObjectv2:BucketObjectv2": ("bucket", "key"),
    "aws:scheduler/schedule:Schedule": ("groupName", "name"),
    "aws:glue/catalogTable:CatalogTable": ("catalogId", "databaseName", "name"),
    "aws:sns/topicSubscription:TopicSubscription": ("topic", "protocol", "endpoint"),
    "aws:sqs/queuePolicy:QueuePolicy": ("queueUrl",),
    "aws:sns/topicPolicy:TopicPolicy": ("arn",),
    "aws:kms/alias:Alias": ("name",),
}


def physical_identity(resource: Resource) -> tuple[str, ...] | None:
    """The values AWS keeps unique for this resource's type, or None when it has none here
    (components, providers, resources whose name AWS generates, unresolved values)."""
    type_token = str(resource.get("type"))
    if is_component_type(type_token) or type_token.startswith("pulumi:"):
        return None
    inputs = _inputs(resource)
    keys = NAME_SCOPES.get(type_token) or (("name",) if "name" in inputs else ("bucket",))
    values = tuple(inputs.get(key) for key in keys)
    if all(value is None for value in values) or contains_unknown(list(values)):
        return None
    return tuple("" if value is None else str(value) for value in values)


def check_unique_names(resources: Iterable[Resource]) -> list[Finding]:
    seen: dict[tuple[str, tuple[str, ...]], Resource] = {}
    findings = []
    for resource in resources:
        identity = physical_identity(resource)
        if identity is None:
            continue
        first = seen.setdefault((str(resource.get("type")), identity), resource)
        if first is not resource:
            findings.append(_finding("unique-names", resource, "name", (
                f"physical name {'/'.join(identity)!r} is also the name of '{first.get('name')}'; AWS would "
                "refuse the second (e.g. EntityAlreadyExists) - give each its own config key")))
    return findings



# --------------------------------------------------------------------------------------------
# Replace-safe names

# Types AWS cannot update in place at all: any change replaces them, and with a fixed name the
# replacement's Create fails while the old one exists, unless it is deleted first.
REPLACED_NOT_UPDATED: Mapping[str, str] = {
    "aws:glue/securityConfiguration:SecurityConfiguration": (
        "Glue has Create/Get/DeleteSecurityConfiguration and no update "
        "(https://docs.aws.amazon.com/glue/latest/webapi/API_CreateSecurityConfiguration.html)"),
}


def replace_only_resources(resources: Iterable[Resource]) -> list[Resource]:
    return [r for r in resources if r.get("type") in REPLACED_NOT_UPDATED]


def check_replace_safe_names(resources: Iterable[Resource]) -> list[Finding]:
    findings = []
    for resource in replace_only_resources(resources):
        name = _inputs(resource).get("name")
        delete_first = bool((resource.get("options") or {}).get("deleteBeforeReplace"))
        if isinstance(name, str) and name and not delete_first:
            findings.append(_finding("replace-safe", resource, "name", (
                f"fixed name {name!r} on a type AWS cannot update ({REPLACED_NOT_UPDATED[str(resource.get('type'))]}): "
                "a change would create the replacement under the same name and fail; declare it with "
                "delete_before_replace=True or derive the name from its inputs")))
    return findings


# --------------------------------------------------------------------------------------------
# Confused deputy: service principals in resource and key policies

# Services that set aws:SourceArn when they act on behalf of one of our resources here. For
# CloudWatch Logs the log group's ARN comes as the KMS encryption context instead.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html
SOURCE_ARN_KEYS: Mapping[str, tuple[str, ...]] = {
    "events.amazonaws.com": ("aws:SourceArn",),
    "cloudwatch.amazonaws.com": ("aws:SourceArn",),
    "logging.s3.amazonaws.com": ("aws:SourceArn",),
    "logs": ("aws:SourceArn", "kms:EncryptionContext:aws:logs:arn"),
}
CONFUSED_DEPUTY_KINDS = frozenset({"resource", "key"})


def _condition_keys(statement: Mapping[str, Any]) -> set[str]:
    condition = statement.get("Condition") or {}
    return {key.lower() for keys in condition.values() if isinstance(keys, Mapping) for key in keys}


def _source_arn_keys(service: str) -> tuple[str, ...] | None:
    if service.startswith("logs.") and service.endswith(".amazonaws.com"):
        return SOURCE_ARN_KEYS["logs"]
    return SOURCE_ARN_KEYS.get(service)


def confused_deputy_problems(document: Mapping[str, Any]) -> list[str]:
    problems = []
    for index, statement in enumerate(statements(document)):
        principal = statement.get("Principal")
        services = as_list(principal.get("Service")) if isinstance(principal, Mapping) else []
        if statement.get("Effect") != "Allow" or not services:
            continue
        keys = _condition_keys(statement)
        sid = f"Statement[{index}]" + (f" ({statement['Sid']})" if statement.get("Sid") else "")
        for service in map(str, services):
            if "aws:sourceaccount" not in keys:
                problems.append(f"{sid}: {service} may act for any account: add an aws:SourceAccount condition")
            wanted = _source_arn_keys(service)
            if wanted and not any(k.lower() in keys for k in wanted):
                problems.append(f"{sid}: {service} sets aws:SourceArn; add a condition on it ({' or '.join(wanted)})")
    return problems


def check_confused_deputy(resources: Iterable[Resource]) -> list[Finding]:
    findings = []
    for doc in iam_documents(resources):
        if doc.kind not in CONFUSED_DEPUTY_KINDS or contains_unknown(doc.text):
            continue
        try:
            document = parse_document(doc.text)
        except ValueError:
            continue  # fidelity.check_iam_documents reports it
        findings += [_finding("confused-deputy", doc.resource, doc.path, m) for m in confused_deputy_problems(document)]
    return findings


# --------------------------------------------------------------------------------------------
# Glue 5.0 logging

GLUE_JOB = "aws:glue/job:Job"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
# Documented for Glue 4.0 and earlier only (5.0 logs in real time to <prefix>/error, /output).
# https://docs.aws.amazon.com/glue/latest/dg/monitor-continuous-logging-enable.html
GLUE4_ONLY_ARGUMENTS: tuple[str, ...] = (
    "--enable-continuous-cloudwatch-log", "--continuous-log-logGroup", "--continuous-log-logStreamPrefix",
    "--continuous-log-conversionPattern", "--enable-continuous-log-filter",
)
GLUE5_LOG_STREAMS: tuple[str, ...] = ("error", "output")


def _of_type(resources: Iterable[Resource], type_token: str) -> list[Resource]:
    return [r for r in resources if r.get("type") == type_token]


def _allows(documents: Iterable[Mapping[str, Any]], action: str, resource: str) -> bool:
    for document in documents:
        for statement in statements(document):
            if statement.get("Effect") != "Allow":
                continue
            actions = [str(a).lower() for a in as_list(statement.get("Action"))]
            if not any(fnmatch.fnmatchcase(action.lower(), a) for a in actions):
                continue
            if any(fnmatch.fnmatchcase(resource, str(r)) for r in as_list(statement.get("Resource"))):
                return True
    return False


def _role_documents(resources: list[Resource], role_arn: Any) -> list[Mapping[str, Any]]:
    role_name = str(role_arn).rsplit("/", 1)[-1]
    documents = []
    for policy in _of_type(resources, "aws:iam/rolePolicy:RolePolicy"):
        text = _inputs(policy).get("policy")
        if str(_inputs(policy).get("role")) == role_name and text and not contains_unknown(text):
            documents.append(parse_document(text))
    return documents


def glue_log_groups(job: Resource) -> list[str]:
    """The groups Glue 5.0 writes for `job`: `<prefix>/error` and `<prefix>/output`."""
    prefix = (_inputs(job).get("defaultArguments") or {}).get("--custom-logGroup-prefix") or "/aws-glue/jobs"
    return [f"{prefix}/{stream}" for stream in GLUE5_LOG_STREAMS]


def check_glue_logging(resources: Iterable[Resource]) -> list[Finding]:
    resources = list(resources)
    groups = {str(_inputs(g).get("name")): _inputs(g) for g in _of_type(resources, LOG_GROUP)}
    configurations = {str(_inputs(c).get("name")): _inputs(c)
                      for c in _of_type(resources, "aws:glue/securityConfiguration:SecurityConfiguration")}
    findings = []
    for job in _of_type(resources, GLUE_JOB):
        inputs = _inputs(job)
        if str(inputs.get("glueVersion")) != "5.0" or contains_unknown(inputs.get("defaultArguments")):
            continue
        arguments = inputs.get("defaultArguments") or {}
        for argument in GLUE4_ONLY_ARGUMENTS:
            if argument in arguments:
                findings.append(_finding("glue-logging", job, f"defaultArguments.{argument}",
                                         "documented for Glue 4.0 and earlier only; Glue 5.0 logs in real time to "
                                         "<--custom-logGroup-prefix>/error and /output"))
        if "--custom-logGroup-prefix" not in arguments:
            findings.append(_finding("glue-logging", job, "defaultArguments", (
                "no --custom-logGroup-prefix: Glue 5.0 writes to the account-wide /aws-glue/jobs/error and /output, "
                "shared with every job and without the stack's retention")))
        configuration = configurations.get(str(inputs.get("securityConfiguration")), {})
        mode = ((configuration.get("encryptionConfiguration") or {}).get("cloudwatchEncryption") or {}).get(
            "cloudwatchEncryptionMode")
        if mode not in (None, "DISABLED"):
            findings.append(_finding("glue-logging", job, "securityConfiguration", (
                f"its security configuration encrypts CloudWatch logs ({mode}): Glue then writes to groups named after "
                "the role and configuration, not the declared ones; encrypt the declared groups (kms_key_id) instead")))
        role_documents = _role_documents(resources, inputs.get("roleArn"))
        for group in glue_log_groups(job):
            declared = groups.get(group)
            if declared is None:
                findings.append(_finding("glue-logging", job, "defaultArguments.--custom-logGroup-prefix",
                                         f"Glue 5.0 writes {group}, which the stack does not declare (no retention, "
                                         "no KMS key)"))
            elif not declared.get("retentionInDays") or not declared.get("kmsKeyId"):
                findings.append(_finding("glue-logging", job, group, "the log group lacks retention or a KMS key"))
            stream = f"{_arn_head(role_documents)}log-group:{group}:log-stream:x"
            if role_documents and not _allows(role_documents, "logs:PutLogEvents", stream):
                findings.append(_finding("glue-logging", job, "roleArn",
                                         f"the job role may not logs:PutLogEvents to {group}"))
    return findings


def _arn_head(documents: Iterable[Mapping[str, Any]]) -> str:
    """`arn:<partition>:logs:<region>:<account>:` as the role's log statements name it."""
    for document in documents:
        for statement in statements(document):
            for resource in as_list(statement.get("Resource")):
                text = str(resource)
                if text.startswith("arn:") and ":logs:" in text:
                    return text[: text.index(":log-group:") + 1]
    return "arn:aws:logs:*:*:"


# --------------------------------------------------------------------------------------------
# Alerts: one per failed run

EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
RUN_FAILURE_STATUSES = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})


def _pattern(rule: Resource) -> Mapping[str, Any]:
    text = _inputs(rule).get("eventPattern")
    if not text or contains_unknown(text):
        return {}
    parsed = json.loads(text) if isinstance(text, str) else text
    return parsed if isinstance(parsed, Mapping) else {}


def _topic_rules(resources: list[Resource]) -> list[Resource]:
    """Event rules with a target on an SNS topic."""
    names = {str(_inputs(t).get("rule")) for t in _of_type(resources, EVENT_TARGET)
             if ":sns:" in str(_inputs(t).get("arn", ""))}
    return [r for r in _of_type(resources, EVENT_RULE) if str(_inputs(r).get("name")) in names]


def check_alerts_per_run(resources: Iterable[Resource]) -> list[Finding]:
    resources = list(resources)
    findings = []
    machine_names = {str(_inputs(m).get("name")) for m in _of_type(resources, STATE_MACHINE)}
    covered: set[str] = set()
    for rule in _topic_rules(resources):
        pattern = _pattern(rule)
        detail = pattern.get("detail") or {}
        if "aws.glue" in as_list(pattern.get("source")) and set(as_list(detail.get("state"))) & {"FAILED", "TIMEOUT"}:
            findings.append(_finding("alerts", rule, "eventPattern", (
                "alerts on Glue job-state changes: the runner re-runs failed attempts, so this mails a failure that "
                "then succeeds, and a permanent one once per attempt; alert on the runner's Step Functions "
                "Execution Status Change (FAILED, TIMED_OUT, ABORTED) instead")))
        if "aws.states" in as_list(pattern.get("source")):
            statuses = set(as_list(detail.get("status")))
            if not RUN_FAILURE_STATUSES <= statuses:
                findings.append(_finding("alerts", rule, "eventPattern.detail.status",
                                         f"misses {sorted(RUN_FAILURE_STATUSES - statuses)}: such runs end unannounced"))
            covered |= {str(a).rsplit(":", 1)[-1] for a in as_list(detail.get("stateMachineArn"))}
    undecided = any(contains_unknown(_inputs(t).get("arn")) for t in _of_type(resources, EVENT_TARGET)) or any(
        contains_unknown(_inputs(r).get("eventPattern")) for r in _of_type(resources, EVENT_RULE))
    if undecided:
        return findings  # during a first preview ARNs are unknown; `pulumi up` decides coverage
    for name in sorted(machine_names - covered):
        findings.append(Finding("alerts", STATE_MACHINE, name, "", (
            f"no alert rule follows runner {name}'s execution status: its failed runs send no alert")))
    return findings


# --------------------------------------------------------------------------------------------
# Runner retries fit the error

LONG_WAIT_SECONDS = 3600


def _wait_seconds(retrier: Mapping[str, Any]) -> float:
    interval, rate = float(retrier.get("IntervalSeconds", 1)), float(retrier.get("BackoffRate", 2.0))
    cap = float(retrier.get("MaxDelaySeconds", float("inf")))
    return sum(min(interval * rate**i, cap) for i in range(int(retrier.get("MaxAttempts", 3))))


def retry_problems(retriers: list[Mapping[str, Any]]) -> list[str]:
    """What is wrong with one Task's Retry list, judged by data_platform.contract.runner_errors."""
    from data_platform.contract.runner_errors import PERMANENT_ERRORS, RUNNER_RETRY

    problems = []

    def first(error: str) -> Mapping[str, Any] | None:
        for retrier in retriers:
            names = as_list(retrier.get("ErrorEquals"))
            if error in names or "States.ALL" in names or ("States.TaskFailed" in names and error != "States.Timeout"):
                return retrier
        return None

    for error in PERMANENT_ERRORS:
        retrier = first(error)
        if retrier is not None and int(retrier.get("MaxAttempts", 3)) > 0:
            problems.append(f"{error} will not go away, but it is retried {retrier.get('MaxAttempts', 3)} times "
                            f"(by {retrier.get('ErrorEquals')}); list it with MaxAttempts 0 first")
    for retrier in retriers:
        if _wait_seconds(retrier) > LONG_WAIT_SECONDS:
            slow = [e for e in as_list(retrier.get("ErrorEquals")) if e not in RUNNER_RETRY.errors]
            if slow:
                problems.append(f"waits {_wait_seconds(retrier) / 3600:.1f} h on {slow}, which are not capacity errors")
    return problems


def check_runner_retries(resources: Iterable[Resource]) -> list[Finding]:
    findings = []
    for machine in _of_type(resources, STATE_MACHINE):
        definition = _inputs(machine).get("definition")
        if not definition or contains_unknown(definition):
            continue
        parsed = json.loads(definition) if isinstance(definition, str) else definition
        for name, state in (parsed.get("States") or {}).items():
            if state.get("Type") == "Task" and "glue:startJobRun" in str(state.get("Resource", "")):
                findings += [_finding("runner-retries", machine, f"definition.States.{name}.Retry", m)
                             for m in retry_problems(list(state.get("Retry") or []))]
    return findings


# --------------------------------------------------------------------------------------------
# Silver and gold are Iceberg tables of the Glue Data Catalog
# (https://docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-etl-format-iceberg.html,
# https://docs.aws.amazon.com/glue/latest/dg/glue-specifying-resource-arns.html)

CATALOG_TABLE = "aws:glue/catalogTable:CatalogTable"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ICEBERG_CATALOG_SETTINGS: Mapping[str, str] = {
    "catalog-impl": "org.apache.iceberg.aws.glue.GlueCatalog",
    "io-impl": "org.apache.iceberg.aws.s3.S3FileIO",
}
_GLUE_CATALOG_RESOURCE = re.compile(r"^arn:[^:]+:glue:[^:]*:[^:]*:(catalog|database/[^/]*|table/[^/]*/[^/]*)$")


def _arguments(job: Resource) -> Mapping[str, Any]:
    arguments = _inputs(job).get("defaultArguments")
    return arguments if isinstance(arguments, Mapping) else {}


def spark_conf(job: Resource) -> dict[str, str]:
    """The job's `--conf` as settings (Glue passes several joined with ` --conf `)."""
    text = str(_arguments(job).get("--conf") or "")
    pairs = (setting.strip().partition("=") for setting in text.split(" --conf ") if setting.strip())
    return {key: value for key, _, value in pairs}


def _table_buckets(job: Resource) -> set[str]:
    return {str(_arguments(job).get(f"--{layer}_bucket")) for layer in ("silver", "gold")} - {"None"}


def _glue_statements(documents: Iterable[Mapping[str, Any]]) -> list[tuple[list[str], list[str]]]:
    """(glue actions, resources) of each Allow statement that grants a Glue action."""
    found = []
    for document in documents:
        for statement in statements(document):
            actions = [str(a) for a in as_list(statement.get("Action"))]
            glue = [a for a in actions if a.lower().startswith("glue:") or a == "*"]
            if statement.get("Effect") == "Allow" and glue:
                found.append((glue, [str(r) for r in as_list(statement.get("Resource"))]))
    return found


def _committed_tables(documents: Iterable[Mapping[str, Any]]) -> set[tuple[str, str]]:
    """(database, table) of every table ARN the documents let the job glue:UpdateTable."""
    tables = set()
    for actions, resources in _glue_statements(documents):
        if any(fnmatch.fnmatchcase("glue:updatetable", a.lower()) for a in actions):
            for resource in resources:
                head, _, path = resource.partition(":table/")
                if head.startswith("arn:") and path.count("/") == 1:
                    tables.add(tuple(path.split("/")))  # type: ignore[arg-type]
    return tables


def expected_tables(resources: list[Resource]) -> dict[tuple[str, str], set[str]]:
    """(database, table) -> the buckets it may live in: a table a dataset job commits to lives
    in that job's warehouse bucket; a table only the maintenance job names (`--tables`) in the
    stack's silver or gold bucket."""
    written: dict[tuple[str, str], set[str]] = {}
    maintained: dict[tuple[str, str], set[str]] = {}
    for job in _of_type(resources, GLUE_JOB):
        arguments = _arguments(job)
        database = str(arguments.get("--database") or "")
        tables = [t for t in str(arguments.get("--tables") or "").split(",") if t]
        for table in tables:
            maintained.setdefault((database, table), set()).update(_table_buckets(job))
        if tables:
            continue
        warehouse = _S3_BUCKET_OF.match(spark_conf(job).get(f"spark.sql.catalog.{_catalog_name(job)}.warehouse", ""))
        for committed in _committed_tables(_role_documents(resources, _inputs(job).get("roleArn"))):
            written.setdefault(committed, set()).add(warehouse.group(1) if warehouse else "?")
    return {**maintained, **written}


_S3_BUCKET_OF = re.compile(r"^s3://([^/]+)/?")


def _catalog_name(job: Resource) -> str:
    """The Spark catalog the job's `--conf` points at Glue (`lake` here)."""
    for key, value in spark_conf(job).items():
        if key.endswith(".catalog-impl") and value == ICEBERG_CATALOG_SETTINGS["catalog-impl"]:
            return key[len("spark.sql.catalog."):-len(".catalog-impl")]
    return "?"


def _iceberg_location(table: Resource) -> str | None:
    iceberg = (_inputs(table).get("openTableFormatInput") or {}).get("icebergInput") or {}
    if iceberg.get("metadataOperation") != "CREATE":
        return None
    return str((iceberg.get("icebergTableInput") or {}).get("location") or "").rstrip("/")


def check_iceberg_tables(resources: Iterable[Resource]) -> list[Finding]:
    resources = list(resources)
    tables = {(str(_inputs(t).get("databaseName")), str(_inputs(t).get("name"))): t
              for t in _of_type(resources, CATALOG_TABLE)}
    findings = []
    for (database, name), buckets in sorted(expected_tables(resources).items()):
        table = tables.get((database, name))
        if table is None:
            findings.append(Finding("iceberg-tables", CATALOG_TABLE, f"{database}.{name}", "", (
                f"a job writes table {name} of database {database}, which the stack does not declare: Athena cannot "
                "query it until a job's first commit creates it, and the job roles may not create tables")))
            continue
        location = _iceberg_location(table)
        if location is None:
            findings.append(_finding("iceberg-tables", table, "openTableFormatInput", (
                "not declared as an Iceberg table (openTableFormatInput.icebergInput, metadataOperation CREATE): "
                "Glue would create a Hive table the jobs' GlueCatalog refuses to load")))
        elif location not in {f"s3://{bucket}/{name}" for bucket in buckets}:
            findings.append(_finding("iceberg-tables", table, "openTableFormatInput.icebergInput.icebergTableInput.location",
                                     f"{location!r} is not the table's location s3://<{' or '.join(sorted(buckets))}>/{name} "
                                     "where its job writes it"))
    return findings


def check_glue_iceberg(resources: Iterable[Resource]) -> list[Finding]:
    findings = []
    for job in _of_type(resources, GLUE_JOB):
        arguments = _arguments(job)
        if contains_unknown(arguments):
            continue
        formats = [f.strip() for f in str(arguments.get("--datalake-formats") or "").split(",")]
        if "iceberg" not in formats:
            findings.append(_finding("glue-iceberg", job, "defaultArguments.--datalake-formats",
                                     "Glue loads no Iceberg runtime: set --datalake-formats iceberg"))
        catalog = _catalog_name(job)
        conf = spark_conf(job)
        for setting, value in ICEBERG_CATALOG_SETTINGS.items():
            if conf.get(f"spark.sql.catalog.{catalog}.{setting}") != value:
                findings.append(_finding("glue-iceberg", job, "defaultArguments.--conf",
                                         f"no Spark catalog with {setting}={value}"))
        warehouse = _S3_BUCKET_OF.match(conf.get(f"spark.sql.catalog.{catalog}.warehouse", ""))
        if warehouse is None or warehouse.group(1) not in _table_buckets(job):
            findings.append(_finding("glue-iceberg", job, "defaultArguments.--conf", (
                f"the catalog's warehouse {conf.get(f'spark.sql.catalog.{catalog}.warehouse')!r} is not in the "
                "stack's silver or gold bucket")))
    return findings


def check_catalog_grants(resources: Iterable[Resource]) -> list[Finding]:
    resources = list(resources)
    declared = {(str(_inputs(t).get("databaseName")), str(_inputs(t).get("name"))) for t in _of_type(resources, CATALOG_TABLE)}
    findings = []
    for job in _of_type(resources, GLUE_JOB):
        database = str(_arguments(job).get("--database") or "")
        for glue, grants in _glue_statements(_role_documents(resources, _inputs(job).get("roleArn"))):
            if not any(a.lower().startswith(("glue:get", "glue:update", "glue:create", "glue:delete", "glue:batch"))
                       or a in ("*", "glue:*") for a in glue):
                continue
            for resource in grants:
                problem = _catalog_resource_problem(resource, database, declared)
                if problem:
                    findings.append(_finding("catalog-grants", job, "roleArn",
                                             f"its role grants {', '.join(glue)} on {resource!r}: {problem}"))
    return findings


def _catalog_resource_problem(resource: str, database: str, declared: set[tuple[str, str]]) -> str | None:
    match = _GLUE_CATALOG_RESOURCE.match(resource)
    if match is None or "*" in resource:
        return "not one catalog, database or table (no wildcards)"
    kind = match.group(1)
    if kind.startswith("database/") and kind != f"database/{database}":
        return f"not the stack's database {database}"
    if kind.startswith("table/"):
        table_database, table = kind[len("table/"):].split("/")
        if (table_database, table) not in declared or table_database != database:
            return f"not a table the stack declares in {database}"
    return None


CHECKS: Mapping[str, Any] = {
    "unique-names": check_unique_names,
    "replace-safe": check_replace_safe_names,
    "confused-deputy": check_confused_deputy,
    "glue-logging": check_glue_logging,
    "alerts": check_alerts_per_run,
    "runner-retries": check_runner_retries,
    "iceberg-tables": check_iceberg_tables,
    "glue-iceberg": check_glue_iceberg,
    "catalog-grants": check_catalog_grants,
}
