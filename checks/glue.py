"""The Glue jobs as AWS runs them: Glue 5.0's logging (no 4.0-only argument; the groups it
writes declared, kept and writable by the job's role), and silver and gold as Iceberg tables
of the Glue Data Catalog (every table a job commits to or maintains is declared at its
location; every job loads Iceberg with a GlueCatalog in the stack's buckets; a job role's
catalog grants name only the stack's catalog, database and tables)."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from typing import Any

from checks.iam import allows, role_documents, statements
from checks.resources import Finding, Resource, as_list, contains_unknown, finding, inputs_of, of_type

# --------------------------------------------------------------------------------------------
# Glue 5.0 logging

GLUE_JOB = "aws:glue/job:Job"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
# Documented for Glue 4.0 and earlier only (5.0 logs in real time to <prefix>/error, /output).
# https://docs.aws.amazon.com/glue/latest/dg/monitor-continuous-logging-enable.html
GLUE4_ONLY_ARGUMENTS: tuple[str, ...] = (
    "--enable-continuous-cloudwatch-log",
    "--continuous-log-logGroup",
    "--continuous-log-logStreamPrefix",
    "--continuous-log-conversionPattern",
    "--enable-continuous-log-filter",
)
GLUE5_LOG_STREAMS: tuple[str, ...] = ("error", "output")


def glue_log_groups(job: Resource) -> list[str]:
    """The groups Glue 5.0 writes for `job`: `<prefix>/error` and `<prefix>/output`."""
    prefix = (inputs_of(job).get("defaultArguments") or {}).get("--custom-logGroup-prefix") or "/aws-glue/jobs"
    return [f"{prefix}/{stream}" for stream in GLUE5_LOG_STREAMS]


def check_glue_logging(resources: Iterable[Resource]) -> list[Finding]:
    resources = list(resources)
    groups = {str(inputs_of(g).get("name")): inputs_of(g) for g in of_type(resources, LOG_GROUP)}
    configurations = {
        str(inputs_of(c).get("name")): inputs_of(c)
        for c in of_type(resources, "aws:glue/securityConfiguration:SecurityConfiguration")
    }
    findings = []
    for job in of_type(resources, GLUE_JOB):
        inputs = inputs_of(job)
        if str(inputs.get("glueVersion")) != "5.0" or contains_unknown(inputs.get("defaultArguments")):
            continue
        findings += _glue5_argument_findings(job)
        configuration = configurations.get(str(inputs.get("securityConfiguration")), {})
        mode = ((configuration.get("encryptionConfiguration") or {}).get("cloudwatchEncryption") or {}).get(
            "cloudwatchEncryptionMode"
        )
        if mode not in (None, "DISABLED"):
            findings.append(
                finding(
                    "glue-logging",
                    job,
                    "securityConfiguration",
                    (
                        f"its security configuration encrypts CloudWatch logs ({mode}): Glue then writes to groups named after "
                        "the role and configuration, not the declared ones; encrypt the declared groups (kms_key_id) instead"
                    ),
                )
            )
        findings += _log_group_findings(job, groups, role_documents(resources, inputs.get("roleArn")))
    return findings


def _glue5_argument_findings(job: Resource) -> list[Finding]:
    arguments = inputs_of(job).get("defaultArguments") or {}
    findings = [
        finding(
            "glue-logging",
            job,
            f"defaultArguments.{argument}",
            "documented for Glue 4.0 and earlier only; Glue 5.0 logs in real time to "
            "<--custom-logGroup-prefix>/error and /output",
        )
        for argument in GLUE4_ONLY_ARGUMENTS
        if argument in arguments
    ]
    if "--custom-logGroup-prefix" not in arguments:
        findings.append(
            finding(
                "glue-logging",
                job,
                "defaultArguments",
                (
                    "no --custom-logGroup-prefix: Glue 5.0 writes to the account-wide /aws-glue/jobs/error and /output, "
                    "shared with every job and without the stack's retention"
                ),
            )
        )
    return findings


def _log_group_findings(
    job: Resource, groups: Mapping[str, Mapping[str, Any]], documents: list[Mapping[str, Any]]
) -> list[Finding]:
    """Each group Glue 5.0 writes for `job`: declared, with retention and a KMS key, and
    writable by the job's role."""
    findings = []
    for group in glue_log_groups(job):
        declared = groups.get(group)
        if declared is None:
            findings.append(
                finding(
                    "glue-logging",
                    job,
                    "defaultArguments.--custom-logGroup-prefix",
                    f"Glue 5.0 writes {group}, which the stack does not declare (no retention, no KMS key)",
                )
            )
        elif not declared.get("retentionInDays") or not declared.get("kmsKeyId"):
            findings.append(finding("glue-logging", job, group, "the log group lacks retention or a KMS key"))
        stream = f"{_arn_head(documents)}log-group:{group}:log-stream:x"
        if documents and not allows(documents, "logs:PutLogEvents", stream):
            findings.append(
                finding("glue-logging", job, "roleArn", f"the job role may not logs:PutLogEvents to {group}")
            )
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
# Silver and gold are Iceberg tables of the Glue Data Catalog
# (https://docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-etl-format-iceberg.html,
# https://docs.aws.amazon.com/glue/latest/dg/glue-specifying-resource-arns.html)

CATALOG_TABLE = "aws:glue/catalogTable:CatalogTable"
ICEBERG_CATALOG_SETTINGS: Mapping[str, str] = {
    "catalog-impl": "org.apache.iceberg.aws.glue.GlueCatalog",
    "io-impl": "org.apache.iceberg.aws.s3.S3FileIO",
}
_GLUE_CATALOG_RESOURCE = re.compile(r"^arn:[^:]+:glue:[^:]*:[^:]*:(catalog|database/[^/]*|table/[^/]*/[^/]*)$")


def _arguments(job: Resource) -> Mapping[str, Any]:
    arguments = inputs_of(job).get("defaultArguments")
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
    for job in of_type(resources, GLUE_JOB):
        arguments = _arguments(job)
        database = str(arguments.get("--database") or "")
        tables = [t for t in str(arguments.get("--tables") or "").split(",") if t]
        for table in tables:
            maintained.setdefault((database, table), set()).update(_table_buckets(job))
        if tables:
            continue
        warehouse = _S3_BUCKET_OF.match(spark_conf(job).get(f"spark.sql.catalog.{_catalog_name(job)}.warehouse", ""))
        for committed in _committed_tables(role_documents(resources, inputs_of(job).get("roleArn"))):
            written.setdefault(committed, set()).add(warehouse.group(1) if warehouse else "?")
    return {**maintained, **written}


_S3_BUCKET_OF = re.compile(r"^s3://([^/]+)/?")


def _catalog_name(job: Resource) -> str:
    """The Spark catalog the job's `--conf` points at Glue (`lake` here)."""
    for key, value in spark_conf(job).items():
        if key.endswith(".catalog-impl") and value == ICEBERG_CATALOG_SETTINGS["catalog-impl"]:
            return key[len("spark.sql.catalog.") : -len(".catalog-impl")]
    return "?"


def _iceberg_location(table: Resource) -> str | None:
    iceberg = (inputs_of(table).get("openTableFormatInput") or {}).get("icebergInput") or {}
    if iceberg.get("metadataOperation") != "CREATE":
        return None
    return str((iceberg.get("icebergTableInput") or {}).get("location") or "").rstrip("/")


def check_iceberg_tables(resources: Iterable[Resource]) -> list[Finding]:
    resources = list(resources)
    tables = {
        (str(inputs_of(t).get("databaseName")), str(inputs_of(t).get("name"))): t
        for t in of_type(resources, CATALOG_TABLE)
    }
    findings = []
    for (database, name), buckets in sorted(expected_tables(resources).items()):
        table = tables.get((database, name))
        if table is None:
            findings.append(
                Finding(
                    "iceberg-tables",
                    CATALOG_TABLE,
                    f"{database}.{name}",
                    "",
                    (
                        f"a job writes table {name} of database {database}, which the stack does not declare: Athena cannot "
                        "query it until a job's first commit creates it, and the job roles may not create tables"
                    ),
                )
            )
            continue
        location = _iceberg_location(table)
        if location is None:
            findings.append(
                finding(
                    "iceberg-tables",
                    table,
                    "openTableFormatInput",
                    (
                        "not declared as an Iceberg table (openTableFormatInput.icebergInput, metadataOperation CREATE): "
                        "Glue would create a Hive table the jobs' GlueCatalog refuses to load"
                    ),
                )
            )
        elif location not in {f"s3://{bucket}/{name}" for bucket in buckets}:
            findings.append(
                finding(
                    "iceberg-tables",
                    table,
                    "openTableFormatInput.icebergInput.icebergTableInput.location",
                    f"{location!r} is not the table's location s3://<{' or '.join(sorted(buckets))}>/{name} "
                    "where its job writes it",
                )
            )
    return findings


def check_glue_iceberg(resources: Iterable[Resource]) -> list[Finding]:
    findings = []
    for job in of_type(resources, GLUE_JOB):
        arguments = _arguments(job)
        if contains_unknown(arguments):
            continue
        formats = [f.strip() for f in str(arguments.get("--datalake-formats") or "").split(",")]
        if "iceberg" not in formats:
            findings.append(
                finding(
                    "glue-iceberg",
                    job,
                    "defaultArguments.--datalake-formats",
                    "Glue loads no Iceberg runtime: set --datalake-formats iceberg",
                )
            )
        catalog = _catalog_name(job)
        conf = spark_conf(job)
        for setting, value in ICEBERG_CATALOG_SETTINGS.items():
            if conf.get(f"spark.sql.catalog.{catalog}.{setting}") != value:
                findings.append(
                    finding("glue-iceberg", job, "defaultArguments.--conf", f"no Spark catalog with {setting}={value}")
                )
        warehouse = _S3_BUCKET_OF.match(conf.get(f"spark.sql.catalog.{catalog}.warehouse", ""))
        if warehouse is None or warehouse.group(1) not in _table_buckets(job):
            findings.append(
                finding(
                    "glue-iceberg",
                    job,
                    "defaultArguments.--conf",
                    (
                        f"the catalog's warehouse {conf.get(f'spark.sql.catalog.{catalog}.warehouse')!r} is not in the "
                        "stack's silver or gold bucket"
                    ),
                )
            )
    return findings


def check_catalog_grants(resources: Iterable[Resource]) -> list[Finding]:
    resources = list(resources)
    declared = {
        (str(inputs_of(t).get("databaseName")), str(inputs_of(t).get("name")))
        for t in of_type(resources, CATALOG_TABLE)
    }
    findings = []
    for job in of_type(resources, GLUE_JOB):
        database = str(_arguments(job).get("--database") or "")
        for glue, grants in _glue_statements(role_documents(resources, inputs_of(job).get("roleArn"))):
            if not any(
                a.lower().startswith(("glue:get", "glue:update", "glue:create", "glue:delete", "glue:batch"))
                or a in ("*", "glue:*")
                for a in glue
            ):
                continue
            for resource in grants:
                problem = _catalog_resource_problem(resource, database, declared)
                if problem:
                    findings.append(
                        finding(
                            "catalog-grants",
                            job,
                            "roleArn",
                            f"its role grants {', '.join(glue)} on {resource!r}: {problem}",
                        )
                    )
    return findings


def _catalog_resource_problem(resource: str, database: str, declared: set[tuple[str, str]]) -> str | None:
    match = _GLUE_CATALOG_RESOURCE.match(resource)
    if match is None or "*" in resource:
        return "not one catalog, database or table (no wildcards)"
    kind = match.group(1)
    if kind.startswith("database/") and kind != f"database/{database}":
        return f"not the stack's database {database}"
    if kind.startswith("table/"):
        table_database, table = kind[len("table/") :].split("/")
        if (table_database, table) not in declared or table_database != database:
            return f"not a table the stack declares in {database}"
    return None
