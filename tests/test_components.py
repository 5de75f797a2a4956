"""The Pulumi components: pure helpers without mocks, components under Pulumi's mocks.

Two ways of looking at a component under mocks:
- `@pulumi.runtime.test` with `Output.all(...).apply(...)` for its typed outputs;
- `declared(...)` (data_platform.synth.record) for the resolved inputs of every child it
  declares, which is what `pulumi up` would send to AWS.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pulumi
import pytest

from data_platform import job_arguments, synth
from data_platform.components import iam
from data_platform.components.alerts import Alerts, AlertsArgs
from data_platform.components.catalog import ICEBERG_OWNED_INPUTS, DataCatalog, DataCatalogArgs
from data_platform.components.glue_job import GlueJob, GlueJobArgs, glue_default_arguments, package_key
from data_platform.components.packaging import ETL_DIR, build_package, content_hash, entry_script, package_files
from data_platform.components.runner import JobRunner, JobRunnerArgs
from data_platform.components.storage import BUCKETS, MedallionBuckets, MedallionBucketsArgs, lifecycle_rules
from data_platform.components.triggers import (
    JobSucceededTrigger,
    JobSucceededTriggerArgs,
    S3EventTrigger,
    S3EventTriggerArgs,
    ScheduleTrigger,
    ScheduleTriggerArgs,
    flexible_time_window,
)
from data_platform.config import StackConfig, load_stack
from data_platform.contract import alerts, events, runner_errors, runs
from data_platform.program import build, dataset_schemas, stack_outputs

REPO = Path(__file__).resolve().parents[1]
DEV = load_stack("dev", REPO)
PROD = load_stack("prod", REPO)
REGION = "eu-west-1"
ACCOUNT = iam.AwsAccount(account_id=synth.ACCOUNT_ID, region=REGION)
KEY_ARN = f"arn:aws:kms:{REGION}:{synth.ACCOUNT_ID}:key/test-key"
RUNNER_ARN = f"arn:aws:states:{REGION}:{synth.ACCOUNT_ID}:stateMachine:data-lake-dev-sales_etl-runner"


@pytest.fixture(autouse=True)
def pulumi_mocks():
    pulumi.runtime.set_mocks(synth.PlatformMocks(region=REGION), project="data-lake", stack="test", preview=False)
    yield


def account() -> pulumi.Output[iam.AwsAccount]:
    return pulumi.Output.from_input(ACCOUNT)


def declared(program) -> list[dict]:
    return synth.record(program, region=REGION)


def of_type(resources: list[dict], type_: str) -> list[dict]:
    return [r for r in resources if r["type"] == type_]


def named(resources: list[dict], type_: str, suffix: str) -> dict:
    matches = [r for r in of_type(resources, type_) if r["name"].endswith(suffix)]
    assert len(matches) == 1, f"expected one {type_} named *{suffix}, got {[m['name'] for m in matches]}"
    return matches[0]["inputs"]


# ============================================================================================
# MedallionBuckets


def test_lifecycle_rules_follow_retention_config():
    retention = PROD.platform.retention
    bronze = {rule["id"]: rule for rule in lifecycle_rules("bronze", retention)}
    assert bronze["expire-noncurrent-versions"]["noncurrent_version_expiration"] == {"noncurrent_days": 90}
    assert bronze["tier-bronze"]["transitions"] == [
        {"days": 30, "storage_class": "STANDARD_IA"},
        {"days": 180, "storage_class": "GLACIER_IR"},
    ]
    assert bronze["abort-incomplete-multipart-uploads"]["abort_incomplete_multipart_upload"] == {
        "days_after_initiation": 7
    }
    silver = {rule["id"]: rule for rule in lifecycle_rules("silver", retention)}
    assert silver["expire-quarantine"]["filter"] == {"prefix": "_quarantine/"}
    assert silver["expire-quarantine"]["expiration"] == {"days": retention.quarantine_expire_days}
    assert silver["expire-noncurrent-versions"]["noncurrent_version_expiration"]["noncurrent_days"] == 30
    logs = {rule["id"]: rule for rule in lifecycle_rules("access_logs", retention)}
    assert logs["expire-access-logs"]["expiration"] == {"days": 730}
    assert "tier-bronze" not in silver and "expire-quarantine" not in bronze


@pytest.fixture(scope="module")
def dev_storage() -> list[dict]:
    return declared(lambda: MedallionBuckets("lake", MedallionBucketsArgs(config=DEV.platform, account=account())))


def test_buckets_have_the_configured_names(dev_storage):
    names = {r["inputs"]["bucket"] for r in of_type(dev_storage, "aws:s3/bucket:Bucket")}
    assert names == {DEV.platform.bucket_name(p) for p in BUCKETS}
    assert names >= {"data-lake-dev-bronze", "data-lake-dev-silver", "data-lake-dev-gold"}
    assert all(r["inputs"]["forceDestroy"] is True for r in of_type(dev_storage, "aws:s3/bucket:Bucket"))


def test_kms_key_rotates_and_has_an_alias(dev_storage):
    key = named(dev_storage, "aws:kms/key:Key", "-key")
    assert key["enableKeyRotation"] is True
    policy = json.loads(key["policy"])
    assert {s["Sid"] for s in policy["Statement"]} >= {"AccountAdministersKey", "CloudWatchLogsEncryptLogGroups"}
    assert named(dev_storage, "aws:kms/alias:Alias", "-key-alias")["name"] == "alias/data-lake-dev-data"


def test_data_buckets_use_the_kms_key_with_bucket_keys(dev_storage):
    configs = {
        r["name"]: r["inputs"]["rules"]
        for r in of_type(
            dev_storage, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
        )
    }
    assert len(configs) == 5
    key_arns = set()
    for purpose in ("bronze", "silver", "gold", "artifacts"):
        (rule,) = configs[f"lake-{purpose}-encryption"]
        assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
        assert rule["bucketKeyEnabled"] is True
        key_arns.add(rule["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"])
    (key_arn,) = key_arns  # one environment key for every data bucket
    assert key_arn.startswith(f"arn:aws:kms:{REGION}:{synth.ACCOUNT_ID}:key/")
    (logs_rule,) = configs["lake-access_logs-encryption"]
    assert logs_rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}


def test_every_bucket_blocks_public_access_and_is_versioned_and_owner_enforced(dev_storage):
    blocks = of_type(dev_storage, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert len(blocks) == 5
    for block in blocks:
        flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        assert all(block["inputs"][flag] is True for flag in flags), block["name"]
    versioning = of_type(dev_storage, "aws:s3/bucketVersioning:BucketVersioning")
    assert [v["inputs"]["versioningConfiguration"]["status"] for v in versioning] == ["Enabled"] * 5
    ownership = of_type(dev_storage, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    assert [o["inputs"]["rule"]["objectOwnership"] for o in ownership] == ["BucketOwnerEnforced"] * 5


def test_every_bucket_policy_denies_insecure_transport(dev_storage):
    policies = {
        r["inputs"]["bucket"]: json.loads(r["inputs"]["policy"])
        for r in of_type(dev_storage, "aws:s3/bucketPolicy:BucketPolicy")
    }
    assert set(policies) == {DEV.platform.bucket_name(p) for p in BUCKETS}
    for bucket, policy in policies.items():
        deny = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
        assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}, bucket
        assert f"arn:aws:s3:::{bucket}/*" in deny[0]["Resource"]


def test_lifecycle_days_equal_config(dev_storage):
    retention = DEV.platform.retention
    rules = {
        r["inputs"]["bucket"]: {rule["id"]: rule for rule in r["inputs"]["rules"]}
        for r in of_type(dev_storage, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    }
    bronze = rules["data-lake-dev-bronze"]
    assert (
        bronze["expire-noncurrent-versions"]["noncurrentVersionExpiration"]["noncurrentDays"]
        == retention.bronze_noncurrent_days
    )
    assert bronze["tier-bronze"]["transitions"] == [{"days": 30, "storageClass": "STANDARD_IA"}]
    silver = rules["data-lake-dev-silver"]
    assert silver["expire-quarantine"]["expiration"]["days"] == retention.quarantine_expire_days == 30
    assert silver["expire-noncurrent-versions"]["noncurrentVersionExpiration"]["noncurrentDays"] == 7
    assert rules["data-lake-dev-access-logs"]["expire-access-logs"]["expiration"]["days"] == 90
    assert all("abort-incomplete-multipart-uploads" in bucket_rules for bucket_rules in rules.values())


def test_bronze_sends_events_to_eventbridge_and_buckets_log_access(dev_storage):
    (notification,) = of_type(dev_storage, "aws:s3/bucketNotification:BucketNotification")
    assert notification["inputs"] == {"bucket": "data-lake-dev-bronze", "eventbridge": True}
    logging = {r["inputs"]["bucket"]: r["inputs"] for r in of_type(dev_storage, "aws:s3/bucketLogging:BucketLogging")}
    assert set(logging) == {
        "data-lake-dev-bronze",
        "data-lake-dev-silver",
        "data-lake-dev-gold",
        "data-lake-dev-artifacts",
    }
    assert logging["data-lake-dev-bronze"]["targetBucket"] == "data-lake-dev-access-logs"
    assert logging["data-lake-dev-bronze"]["targetPrefix"] == "bronze/"


def test_prod_buckets_are_not_force_destroyed():
    resources = declared(
        lambda: MedallionBuckets("lake", MedallionBucketsArgs(config=PROD.platform, account=account()))
    )
    assert [r["inputs"]["forceDestroy"] for r in of_type(resources, "aws:s3/bucket:Bucket")] == [False] * 5


@pulumi.runtime.test
def test_bucket_outputs_are_the_physical_names():
    storage = MedallionBuckets("lake", MedallionBucketsArgs(config=DEV.platform, account=account()))

    def check(values):
        names, key_arn = values
        assert names == {p: DEV.platform.bucket_name(p) for p in BUCKETS}
        assert key_arn.startswith(f"arn:aws:kms:{REGION}:{synth.ACCOUNT_ID}:key/")

    return pulumi.Output.all(pulumi.Output.all(**storage.bucket_names), storage.kms_key_arn).apply(check)


# ============================================================================================
# Packaging and GlueJob


@pytest.fixture
def etl_copy(tmp_path) -> Path:
    target = tmp_path / "etl"
    shutil.copytree(ETL_DIR, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def test_package_is_deterministic_and_clean(etl_copy, tmp_path):
    (etl_copy / "__pycache__").mkdir(exist_ok=True)
    (etl_copy / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"junk")
    first = build_package(etl_copy, tmp_path / "a")
    second = build_package(etl_copy, tmp_path / "b")
    assert first.sha256 == second.sha256
    assert first.path.read_bytes() == second.path.read_bytes()
    with zipfile.ZipFile(first.path) as archive:
        names = archive.namelist()
        assert names == sorted(names)
        assert "etl/__init__.py" in names and "etl/jobs/__init__.py" in names
        assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def _imported_modules(module: str) -> set[str]:
    """Every module of this project `module` imports, transitively, at module level or inside
    functions (a lazy import runs on Glue too), with the packages that hold them."""
    import ast

    def source(name: str) -> Path | None:
        base = REPO.joinpath(*name.split("."))
        found = [path for path in (base.with_suffix(".py"), base / "__init__.py") if path.is_file()]
        return found[0] if found else None

    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        path = source(name)
        if name in seen or path is None:
            continue
        seen.add(name)
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # parents run their __init__
        package = name if path.name == "__init__.py" else ".".join(parts[:-1])
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                todo += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]) if node.level else ""
                target = ".".join(filter(None, [base, node.module or ""]))
                todo += [target, *(f"{target}.{alias.name}" for alias in node.names)]
    return seen


def test_the_glue_zip_holds_what_runs_on_glue_and_nothing_else(tmp_path):
    """The zip is the etl package and, of data_platform, the contract the jobs import; every
    module a Glue entry script imports (transitively) is inside."""
    with zipfile.ZipFile(build_package(ETL_DIR, tmp_path).path) as archive:
        names = set(archive.namelist())
    outside = {
        n for n in names if not n.startswith(("etl/", "data_platform/contract/")) and n != "data_platform/__init__.py"
    }
    assert outside == set()
    on_disk = {
        path.relative_to(REPO).as_posix()
        for folder in (ETL_DIR, REPO / "data_platform" / "contract")
        for path in folder.rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert on_disk <= names, f"left out of the zip: {sorted(on_disk - names)}"
    entries = sorted(path.stem for path in (ETL_DIR / "glue_entry").glob("*.py") if not path.stem.startswith("_"))
    assert entries, "no Glue entry scripts: the import check below would be vacuous"
    needed = set().union(*(_imported_modules(f"etl.glue_entry.{job}") for job in entries))
    assert "data_platform.contract.runs" in needed  # etl imports the contract: the check sees across packages
    modules = {name.removesuffix(".py").removesuffix("/__init__").replace("/", ".") for name in names}
    assert needed - modules == set(), "imported on Glue but not in the zip"


def test_the_glue_zip_holds_no_test_tooling(tmp_path):
    with zipfile.ZipFile(build_package(ETL_DIR, tmp_path).path) as archive:
        names = archive.namelist()
    parts = {part.removesuffix(".py") for name in names for part in name.split("/")}
    assert not parts & {"tests", "testing", "conftest"}, sorted(
        n for n in names if {"tests", "testing"} & set(n.split("/"))
    )


def test_package_hash_changes_when_a_file_in_etl_changes(etl_copy, tmp_path):
    before = build_package(etl_copy, tmp_path)
    (etl_copy / "jobs" / "sales_etl.py").write_text((etl_copy / "jobs" / "sales_etl.py").read_text() + "\n# changed\n")
    after = build_package(etl_copy, tmp_path)
    assert before.sha256 != after.sha256 and before.path != after.path
    assert package_key("sales_etl", before) != package_key("sales_etl", after)
    assert package_key("sales_etl", after) == f"glue/jobs/sales_etl/etl-{after.sha256[:16]}.zip"
    renamed = content_hash([(name.replace("sales_etl", "sales_etl2"), path) for name, path in package_files(etl_copy)])
    assert renamed != after.sha256  # the hash covers paths, not only bytes


def test_entry_script_missing_is_an_actionable_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="etl/glue_entry/<job>.py"):
        entry_script("no_such_job", tmp_path)


def test_glue_default_arguments_extend_the_contract():
    cfg = PROD.platform
    arguments = glue_default_arguments(
        cfg, "sales_etl", artifacts_bucket="art", package_object_key="glue/jobs/sales_etl/etl-abc.zip"
    )
    assert job_arguments.default_job_arguments(cfg, "sales_etl").items() <= arguments.items()
    assert arguments["--extra-py-files"] == "s3://art/glue/jobs/sales_etl/etl-abc.zip"
    assert arguments["--job-bookmark-option"] == "job-bookmark-disable"  # the ledger picks inputs
    assert arguments["--enable-metrics"] == ""
    assert arguments["--custom-logGroup-prefix"] == "/aws-glue/jobs/data-lake-prod-sales_etl"
    # Glue 4.0-and-earlier switches are not sent to a 5.0 job.
    assert not {"--enable-continuous-cloudwatch-log", "--continuous-log-logGroup"} & set(arguments)
    assert arguments["--TempDir"] == "s3://art/glue/tmp/sales_etl/"
    # Its gate's Data Docs: the stack's prefix of its artifacts bucket (the role's grant).
    assert (arguments["--data_docs_bucket"], arguments["--data_docs_prefix"]) == (
        "data-lake-prod-artifacts",
        "data-docs/prod/",
    )
    assert arguments["--datalake-formats"] == "iceberg"
    conf = dict(setting.split("=", 1) for setting in arguments["--conf"].split(" --conf "))
    assert conf["spark.sql.catalog.lake.catalog-impl"] == "org.apache.iceberg.aws.glue.GlueCatalog"
    assert conf["spark.sql.catalog.lake.io-impl"] == "org.apache.iceberg.aws.s3.S3FileIO"
    assert conf["spark.sql.catalog.lake.warehouse"] == "s3://data-lake-prod-silver/"
    gold = glue_default_arguments(cfg, "sales_daily", artifacts_bucket="art", package_object_key="k")
    assert "spark.sql.catalog.lake.warehouse=s3://data-lake-prod-gold/" in gold["--conf"].split(" --conf ")
    maintenance = glue_default_arguments(cfg, "table_maintenance", artifacts_bucket="art", package_object_key="k")
    assert maintenance["--datalake-formats"] == "iceberg"
    assert "spark.sql.catalog.lake.warehouse=s3://data-lake-prod-silver/" in maintenance["--conf"].split(" --conf ")
    modules = dict(m.split("==") for m in arguments["--additional-python-modules"].split(","))
    assert set(modules) == {"great_expectations", "defusedxml"} and all(modules.values())


def test_the_maintenance_job_gets_the_stacks_tables_and_retention_as_it_reads_them():
    from etl.args import JobArguments
    from etl.jobs.table_maintenance import retention_from, tables_from
    from etl.maintenance import Retention

    cfg = PROD.platform
    arguments = job_arguments.default_job_arguments(cfg, "table_maintenance")
    assert arguments["--database"] == "data_lake_prod"
    assert not {"--source_prefix", "--source_suffix", "--max_drop_ratio", "--data_docs_bucket"} & set(arguments)
    parsed = JobArguments.from_mapping(arguments)
    assert tables_from(parsed) == ["customers", "inventory", "products", "sales", "sales_daily"]
    assert retention_from(parsed) == Retention(snapshot_days=14, min_snapshots=20, orphan_days=3)
    assert retention_from(parsed) != Retention()  # the stack's values, not the job's defaults


def glue_job(stack, job: str, package, script: Path) -> GlueJob:
    return GlueJob(
        f"job-{job}",
        GlueJobArgs(
            config=stack.platform,
            job=job,
            account=account(),
            artifacts_bucket=stack.platform.bucket_name("artifacts"),
            kms_key_arn=KEY_ARN,
            package=package,
            script=script,
        ),
    )


@pytest.fixture(scope="module")
def prod_package(tmp_path_factory):
    return build_package(ETL_DIR, tmp_path_factory.mktemp("build"))


@pytest.mark.parametrize("job", list(PROD.platform.jobs))
def test_glue_job_matches_config(job, prod_package):
    job_cfg = PROD.platform.jobs[job]
    resources = declared(lambda: glue_job(PROD, job, prod_package, entry_script(job)))
    glue = named(resources, "aws:glue/job:Job", "-job")
    assert glue["name"] == f"data-lake-prod-{job}"
    assert glue["glueVersion"] == "5.0"
    assert glue["command"]["name"] == "glueetl" and glue["command"]["pythonVersion"] == "3"
    assert glue["workerType"] == job_cfg.worker_type.value
    assert glue["numberOfWorkers"] == job_cfg.workers
    assert glue["timeout"] == job_cfg.timeout_minutes
    assert glue["maxRetries"] == 0  # the runner owns retries of failed runs
    assert glue["executionProperty"]["maxConcurrentRuns"] == job_cfg.max_concurrent_runs
    assert glue["executionClass"] == job_cfg.execution_class.value
    assert glue["securityConfiguration"] == f"data-lake-prod-{job}"
    assert job_arguments.default_job_arguments(PROD.platform, job).items() <= glue["defaultArguments"].items()
    assert glue["defaultArguments"]["--extra-py-files"] == (
        f"s3://data-lake-prod-artifacts/glue/jobs/{job}/etl-{prod_package.short_hash}.zip"
    )
    script = named(resources, "aws:s3/bucketObjectv2:BucketObjectv2", "-script")
    assert glue["command"]["scriptLocation"] == f"s3://data-lake-prod-artifacts/{script['key']}"
    assert script["key"].startswith(f"glue/jobs/{job}/{job}-")


def test_prod_customer_import_runs_on_flex(prod_package):
    resources = declared(lambda: glue_job(PROD, "customer_import", prod_package, entry_script("customer_import")))
    assert named(resources, "aws:glue/job:Job", "-job")["executionClass"] == "FLEX"
    dev_resources = declared(lambda: glue_job(DEV, "customer_import", prod_package, entry_script("customer_import")))
    assert named(dev_resources, "aws:glue/job:Job", "-job")["executionClass"] == "STANDARD"


def test_glue_job_code_key_changes_with_the_code(etl_copy, tmp_path):
    def extra_py_files_and_script():
        package = build_package(etl_copy, tmp_path)
        resources = declared(lambda: glue_job(DEV, "sales_etl", package, entry_script("sales_etl", etl_copy)))
        glue = named(resources, "aws:glue/job:Job", "-job")
        return glue["defaultArguments"]["--extra-py-files"], glue["command"]["scriptLocation"]

    before = extra_py_files_and_script()
    (etl_copy / "base.py").write_text((etl_copy / "base.py").read_text() + "\n# tweak\n")
    after_package = extra_py_files_and_script()
    assert after_package[0] != before[0] and after_package[1] == before[1]
    entry = etl_copy / "glue_entry" / "sales_etl.py"
    entry.write_text(entry.read_text() + "\n# tweak\n")
    after_script = extra_py_files_and_script()
    assert after_script[1] != after_package[1]


def test_glue_job_security_logs_and_role(prod_package):
    resources = declared(lambda: glue_job(DEV, "sales_etl", prod_package, entry_script("sales_etl")))
    security = named(resources, "aws:glue/securityConfiguration:SecurityConfiguration", "-security")
    encryption = security["encryptionConfiguration"]
    assert encryption["s3Encryption"] == {"s3EncryptionMode": "SSE-KMS", "kmsKeyArn": KEY_ARN}
    # Log groups are encrypted by themselves; a CloudWatch-encrypting configuration would send
    # Glue's logs to groups named after the role and configuration, which nobody declares.
    assert encryption["cloudwatchEncryption"] == {"cloudwatchEncryptionMode": "DISABLED"}
    assert encryption["jobBookmarksEncryption"] == {"jobBookmarksEncryptionMode": "CSE-KMS", "kmsKeyArn": KEY_ARN}
    groups = {r["inputs"]["name"]: r["inputs"] for r in of_type(resources, "aws:cloudwatch/logGroup:LogGroup")}
    assert set(groups) == {
        "/aws-glue/jobs/data-lake-dev-sales_etl/error",
        "/aws-glue/jobs/data-lake-dev-sales_etl/output",
    }
    assert all(
        g["retentionInDays"] == DEV.platform.retention.log_retention_days and g["kmsKeyId"] == KEY_ARN
        for g in groups.values()
    )
    role = named(resources, "aws:iam/role:Role", "-role")
    assert json.loads(role["assumeRolePolicy"])["Statement"][0]["Principal"] == {"Service": "glue.amazonaws.com"}
    policy = named(resources, "aws:iam/rolePolicy:RolePolicy", "-role-policy")["policy"]
    assert "arn:aws:s3:::data-lake-dev-bronze/sales/*" in policy
    assert "products" not in policy and "customers" not in policy
    [docs] = [s for s in json.loads(policy)["Statement"] if s.get("Sid") == "WriteDataDocs"]
    assert docs["Action"] == ["s3:GetObject", "s3:PutObject"]
    assert docs["Resource"] == "arn:aws:s3:::data-lake-dev-artifacts/data-docs/dev/*"
    maintenance = declared(lambda: glue_job(DEV, "table_maintenance", prod_package, entry_script("table_maintenance")))
    assert "data-docs" not in named(maintenance, "aws:iam/rolePolicy:RolePolicy", "-role-policy")["policy"]


@pulumi.runtime.test
def test_glue_job_outputs(prod_package):
    job = glue_job(DEV, "sales_etl", prod_package, entry_script("sales_etl"))

    def check(values):
        name, arn = values
        assert name == "data-lake-dev-sales_etl"
        assert arn == f"arn:aws:glue:{REGION}:{synth.ACCOUNT_ID}:job/data-lake-dev-sales_etl"

    return pulumi.Output.all(job.job_name, job.job_arn).apply(check)


# ============================================================================================
# JobRunner


def runner(tracing: bool = False) -> JobRunner:
    return JobRunner(
        "runner-sales_etl",
        JobRunnerArgs(
            config=DEV.platform,
            job="sales_etl",
            account=account(),
            glue_job_name="data-lake-dev-sales_etl",
            glue_job_arn=f"arn:aws:glue:{REGION}:{synth.ACCOUNT_ID}:job/data-lake-dev-sales_etl",
            kms_key_arn=KEY_ARN,
            tracing=tracing,
        ),
    )


def test_runner_state_machine_runs_its_glue_job():
    resources = declared(runner)
    machine = named(resources, "aws:sfn/stateMachine:StateMachine", "-state-machine")
    assert machine["type"] == "STANDARD" and machine["name"] == "data-lake-dev-sales_etl-runner"
    definition = json.loads(machine["definition"])
    task = definition["States"][definition["StartAt"]]
    assert task["Resource"] == "arn:aws:states:::glue:startJobRun.sync"
    assert task["Parameters"]["JobName"] == "data-lake-dev-sales_etl"
    assert task["Retry"][0]["ErrorEquals"] == list(runner_errors.RUNNER_RETRY.errors)
    # dev sales_etl has max_retries: 1 -> the runner re-runs a failed run once
    assert task["Retry"][1] == {"ErrorEquals": list(runner_errors.PERMANENT_ERRORS), "MaxAttempts": 0}
    assert task["Retry"][2] == {
        "ErrorEquals": ["States.TaskFailed"],
        "IntervalSeconds": 60,
        "MaxAttempts": 1,
        "BackoffRate": 2.0,
    }
    logging = machine["loggingConfiguration"]
    assert logging["level"] == "ERROR" and logging["includeExecutionData"] is False
    log_group = named(resources, "aws:cloudwatch/logGroup:LogGroup", "-logs")
    assert logging["logDestination"] == (f"arn:aws:logs:{REGION}:{synth.ACCOUNT_ID}:log-group:{log_group['name']}:*")
    assert log_group["kmsKeyId"] == KEY_ARN and log_group["retentionInDays"] == 14
    assert machine["tracingConfiguration"] == {"enabled": False}


def test_runner_role_is_assumed_by_step_functions_of_this_account():
    resources = declared(runner)
    trust = json.loads(named(resources, "aws:iam/role:Role", "-role")["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "states.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": synth.ACCOUNT_ID}}
    policy = json.loads(named(resources, "aws:iam/rolePolicy:RolePolicy", "-role-policy")["policy"])
    glue = [s for s in policy["Statement"] if s["Sid"] == "RunOneGlueJob"][0]
    assert glue["Resource"].endswith(":job/data-lake-dev-sales_etl")


@pulumi.runtime.test
def test_runner_output_is_a_state_machine_arn():
    def check(arn):
        assert arn == f"arn:aws:states:{REGION}:{synth.ACCOUNT_ID}:stateMachine:data-lake-dev-sales_etl-runner"

    return runner().state_machine_arn.apply(check)


# ============================================================================================
# Triggers


def test_flexible_time_window():
    assert flexible_time_window(0) == {"mode": "OFF"}
    assert flexible_time_window(30) == {"mode": "FLEXIBLE", "maximum_window_in_minutes": 30}


def test_s3_trigger_targets_the_runner_with_dead_letters_and_retries():
    resources = declared(
        lambda: S3EventTrigger(
            "s3-sales",
            S3EventTriggerArgs(
                config=DEV.platform, rule="sales_file_trigger", runner_arn=RUNNER_ARN, account=account()
            ),
        )
    )
    rule = named(resources, "aws:cloudwatch/eventRule:EventRule", "-rule")
    assert rule["name"] == "data-lake-dev-sales_file_trigger" and rule["state"] == "ENABLED"
    pattern = json.loads(rule["eventPattern"])
    assert pattern == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": ["data-lake-dev-bronze"]}, "object": {"key": [{"wildcard": "sales/*.csv"}]}},
    }
    assert events.matches(pattern, events.s3_object_created_event("data-lake-dev-bronze", "sales/2024/a.csv", 10))
    assert not events.matches(pattern, events.s3_object_created_event("data-lake-dev-bronze", "sales/a.json", 10))
    target = named(resources, "aws:cloudwatch/eventTarget:EventTarget", "-target")
    assert target["arn"] == RUNNER_ARN
    transformer = runs.s3_event_transformer()
    assert target["inputTransformer"] == {
        "inputPaths": transformer.input_paths,
        "inputTemplate": transformer.input_template,
    }
    assert target["retryPolicy"] == {"maximumEventAgeInSeconds": 3600, "maximumRetryAttempts": 8}
    queue = named(resources, "aws:sqs/queue:Queue", "-dlq")
    assert queue["name"] == "data-lake-dev-sales_file_trigger-dlq"
    assert queue["sqsManagedSseEnabled"] is True and queue["messageRetentionSeconds"] == 14 * 24 * 3600
    assert target["deadLetterConfig"] == {"arn": f"arn:aws:sqs:{REGION}:{synth.ACCOUNT_ID}:{queue['name']}"}
    queue_policy = json.loads(named(resources, "aws:sqs/queuePolicy:QueuePolicy", "-dlq-policy")["policy"])
    assert queue_policy["Statement"][0]["Condition"] == {
        "ArnEquals": {
            "aws:SourceArn": f"arn:aws:events:{REGION}:{synth.ACCOUNT_ID}:rule/data-lake-dev-sales_file_trigger"
        },
        "StringEquals": {"aws:SourceAccount": synth.ACCOUNT_ID},
    }
    role_policy = json.loads(named(resources, "aws:iam/rolePolicy:RolePolicy", "-role-policy")["policy"])
    assert role_policy == iam.start_execution_policy(RUNNER_ARN)


def test_schedule_trigger_targets_the_runner_in_the_group():
    group = "data-lake-prod"
    resources = declared(
        lambda: ScheduleTrigger(
            "sched",
            ScheduleTriggerArgs(
                config=PROD.platform,
                schedule="daily_customer_import",
                runner_arn=RUNNER_ARN,
                schedule_group_name=group,
                account=account(),
            ),
        )
    )
    schedule = named(resources, "aws:scheduler/schedule:Schedule", "-schedule")
    assert schedule["scheduleExpression"] == "cron(0 2 * * ? *)"
    assert schedule["scheduleExpressionTimezone"] == "UTC"
    assert schedule["flexibleTimeWindow"] == {"mode": "FLEXIBLE", "maximumWindowInMinutes": 30}
    assert schedule["groupName"] == group and schedule["state"] == "ENABLED"
    target = schedule["target"]
    assert target["arn"] == RUNNER_ARN
    assert json.loads(target["input"]) == runs.schedule_input()
    assert target["retryPolicy"] == {"maximumEventAgeInSeconds": 21600, "maximumRetryAttempts": 24}
    queue_arn = f"arn:aws:sqs:{REGION}:{synth.ACCOUNT_ID}:data-lake-prod-daily_customer_import-dlq"
    assert target["deadLetterConfig"] == {"arn": queue_arn}
    trust = json.loads(named(resources, "aws:iam/role:Role", "-role")["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": synth.ACCOUNT_ID}}
    role_policy = json.loads(named(resources, "aws:iam/rolePolicy:RolePolicy", "-role-policy")["policy"])
    assert role_policy == iam.start_execution_policy(RUNNER_ARN, dead_letter_queue_arn=queue_arn)


def test_dev_schedule_fires_exactly_on_time():
    resources = declared(
        lambda: ScheduleTrigger(
            "sched",
            ScheduleTriggerArgs(
                config=DEV.platform,
                schedule="weekly_inventory_sync",
                runner_arn=RUNNER_ARN,
                schedule_group_name="g",
                account=account(),
            ),
        )
    )
    schedule = named(resources, "aws:scheduler/schedule:Schedule", "-schedule")
    assert schedule["flexibleTimeWindow"] == {"mode": "OFF"}
    assert schedule["scheduleExpression"] == "cron(0 3 ? * MON *)"


def test_after_job_trigger_matches_upstream_success():
    resources = declared(
        lambda: JobSucceededTrigger(
            "after",
            JobSucceededTriggerArgs(
                config=DEV.platform, trigger="sales_daily", runner_arn=RUNNER_ARN, account=account()
            ),
        )
    )
    pattern = json.loads(named(resources, "aws:cloudwatch/eventRule:EventRule", "-rule")["eventPattern"])
    assert pattern == {
        "source": ["aws.glue"],
        "detail-type": ["Glue Job State Change"],
        "detail": {"jobName": ["data-lake-dev-sales_etl"], "state": ["SUCCEEDED"]},
    }
    target = named(resources, "aws:cloudwatch/eventTarget:EventTarget", "-target")
    assert target["arn"] == RUNNER_ARN
    assert target["inputTransformer"]["inputTemplate"] == runs.job_succeeded_transformer().input_template
    assert target["deadLetterConfig"]["arn"].endswith(":data-lake-dev-sales_daily-dlq")


# ============================================================================================
# Alerts


@pytest.fixture(scope="module")
def prod_alerts() -> list[dict]:
    cfg = PROD.platform
    runners = {
        job: f"arn:aws:states:{REGION}:{synth.ACCOUNT_ID}:stateMachine:{cfg.names.runner(job)}" for job in cfg.jobs
    }
    triggers = [*cfg.s3_rules, *cfg.schedules, *cfg.after_job]
    return declared(
        lambda: Alerts(
            "alerts",
            AlertsArgs(
                config=cfg,
                account=account(),
                kms_key_arn=KEY_ARN,
                runner_arns=runners,
                rule_names={key: f"rule-{key}" for key in [*cfg.s3_rules, *cfg.after_job]},
                dead_letter_queue_names={key: cfg.names.dead_letter_queue(key) for key in triggers},
                schedule_group_name="data-lake-prod",
            ),
        )
    )


def alarms(resources) -> list[dict]:
    return [r["inputs"] for r in of_type(resources, "aws:cloudwatch/metricAlarm:MetricAlarm")]


def test_alert_topic_is_encrypted_with_subscriptions(prod_alerts):
    topic = named(prod_alerts, "aws:sns/topic:Topic", "-topic")
    assert topic["name"] == "data-lake-prod-alerts" and topic["kmsMasterKeyId"] == KEY_ARN
    emails = sorted(
        r["inputs"]["endpoint"] for r in of_type(prod_alerts, "aws:sns/topicSubscription:TopicSubscription")
    )
    assert emails == sorted(PROD.platform.alerts.emails)
    policy = json.loads(named(prod_alerts, "aws:sns/topicPolicy:TopicPolicy", "-topic-policy")["policy"])
    assert {s["Principal"]["Service"] for s in policy["Statement"]} == {
        "events.amazonaws.com",
        "cloudwatch.amazonaws.com",
    }


def test_every_alarm_notifies_the_topic_and_ignores_missing_data(prod_alerts):
    topic_arn = f"arn:aws:sns:{REGION}:{synth.ACCOUNT_ID}:data-lake-prod-alerts"
    for alarm in alarms(prod_alerts):
        assert alarm["treatMissingData"] == "notBreaching", alarm["name"]
        assert alarm["alarmActions"] == [topic_arn], alarm["name"]
        assert alarm["name"].startswith("data-lake-prod-")


def test_alarm_namespaces_and_dimensions(prod_alerts):
    cfg = PROD.platform
    found = {(a["namespace"], a["metricName"]): [] for a in alarms(prod_alerts)}
    for alarm in alarms(prod_alerts):
        found[(alarm["namespace"], alarm["metricName"])].append(alarm)
    runner_failed = found[("AWS/States", "ExecutionsFailed")]
    assert len(runner_failed) == len(found[("AWS/States", "ExecutionsTimedOut")]) == len(cfg.jobs)
    assert {a["dimensions"]["StateMachineArn"].rsplit(":", 1)[-1] for a in runner_failed} == {
        cfg.names.runner(job) for job in cfg.jobs
    }
    assert {a["dimensions"]["RuleName"] for a in found[("AWS/Events", "FailedInvocations")]} == {
        f"rule-{key}" for key in [*cfg.s3_rules, *cfg.after_job]
    }
    for metric in ("TargetErrorCount", "InvocationDroppedCount"):
        (scheduler,) = found[("AWS/Scheduler", metric)]
        assert scheduler["dimensions"] == {"ScheduleGroup": "data-lake-prod"}
    dlq = found[("AWS/SQS", "ApproximateNumberOfMessagesVisible")]
    # one per trigger, plus the alert topic's own Glue-failure delivery queue
    assert len(dlq) == len(cfg.s3_rules) + len(cfg.schedules) + len(cfg.after_job) + 1
    assert all(
        a["threshold"] == cfg.alerts.dead_letter_threshold
        and a["statistic"] == "Maximum"
        and a["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
        for a in dlq
    )
    quarantine = found[("DataLake", "QuarantinedRows")]
    assert {a["dimensions"]["JobName"] for a in quarantine} == {cfg.names.glue_job(job) for job in cfg.dataset_jobs}
    assert all(
        a["dimensions"]["Environment"] == "prod" and a["statistic"] == "Sum" and a["threshold"] == 100
        for a in quarantine
    )
    # The mail says where the runs' validation pages are (the alarm sums runs: the index).
    assert all(
        a["alarmDescription"].endswith(": s3://data-lake-prod-artifacts/data-docs/prod/site/index.html")
        and len(a["alarmDescription"]) <= 1024
        for a in quarantine
    )
    glue = found[("Glue", "glue.driver.aggregate.numFailedTasks")]
    assert len(glue) == len(cfg.jobs)
    assert all(
        a["dimensions"]["JobRunId"] == "ALL"
        and a["dimensions"]["Type"] == "count"
        and a["comparisonOperator"] == "GreaterThanThreshold"
        and a["threshold"] == 0
        for a in glue
    )


def test_failed_runs_reach_the_topic_once_as_readable_messages(prod_alerts):
    """The alert is the runner's execution status, after its retries: a Glue attempt that
    failed and was re-run successfully is no execution failure, so it sends nothing."""
    rule = named(prod_alerts, "aws:cloudwatch/eventRule:EventRule", "-run-failures")
    assert rule["name"] == "data-lake-prod-run-failures"
    pattern = json.loads(rule["eventPattern"])
    assert pattern["source"] == ["aws.states"] and pattern["detail-type"] == ["Step Functions Execution Status Change"]
    assert pattern["detail"]["status"] == ["FAILED", "TIMED_OUT", "ABORTED"]
    runner = "arn:aws:states:eu-west-1:123456789012:stateMachine:data-lake-prod-sales_etl-runner"
    assert runner in pattern["detail"]["stateMachineArn"]
    cause = alerts.glue_run_cause("data-lake-prod-sales_etl", "jr_1", "FAILED", "boom")
    failed = alerts.execution_status_change_event(runner, "exec-1", "FAILED", error="States.TaskFailed", cause=cause)
    assert events.matches(pattern, failed)
    assert not events.matches(pattern, alerts.execution_status_change_event(runner, "exec-1", "SUCCEEDED"))
    assert not events.matches(pattern, runs.glue_job_state_change_event("data-lake-prod-sales_etl", "jr_1", "FAILED"))
    target = named(prod_alerts, "aws:cloudwatch/eventTarget:EventTarget", "-run-failures-target")
    assert target["arn"].endswith(":data-lake-prod-alerts")
    transformer = runs.InputTransformer(
        target["inputTransformer"]["inputPaths"], target["inputTransformer"]["inputTemplate"]
    )
    mail = transformer.apply(failed)
    assert mail.startswith(f"Runner {runner} execution exec-1 FAILED after its retries. Error: States.TaskFailed.")
    assert '\\"Id\\": \\"jr_1\\"' in json.dumps(mail) and "boom" in mail and "sales_etl" in mail
    # The run's validation page: the link the job wrote under the execution's name.
    assert mail.endswith(": s3://data-lake-prod-artifacts/data-docs/prod/site/runs/exec-1.html")


# ============================================================================================
# DataCatalog


def _catalog(stack: StackConfig) -> list[dict]:
    schemas = dataset_schemas(stack.platform)
    return declared(lambda: DataCatalog("catalog", DataCatalogArgs(config=stack.platform, tables=schemas)))


def test_catalog_declares_each_dataset_as_an_iceberg_table_of_its_declared_schema():
    from etl.jobs import REGISTRY
    from etl.tables import TABLE_PROPERTIES

    resources = _catalog(DEV)
    assert named(resources, "aws:glue/catalogDatabase:CatalogDatabase", "-database")["name"] == "data_lake_dev"
    tables = {r["inputs"]["name"]: r["inputs"] for r in of_type(resources, "aws:glue/catalogTable:CatalogTable")}
    assert set(tables) == {cfg.dataset for cfg in DEV.platform.dataset_jobs.values()}
    for job, job_cfg in DEV.platform.dataset_jobs.items():
        table = tables[job_cfg.dataset]
        iceberg = table["openTableFormatInput"]["icebergInput"]
        assert (iceberg["metadataOperation"], iceberg["version"]) == ("CREATE", "2")
        definition = iceberg["icebergTableInput"]
        assert definition["location"] == f"s3://{DEV.platform.output_bucket(job)}/{job_cfg.dataset}"
        fields = [(f["name"], json.loads(f["type"])) for f in definition["schema"]["fields"]]
        spark_types = {
            "string": "string",
            "int": "int",
            "long": "bigint",
            "date": "date",
            "timestamptz": "timestamp",
            "boolean": "boolean",
        }
        expected = [(f.name, f.dataType.simpleString()) for f in REGISTRY[job].schema.fields]
        assert [(name, spark_types.get(t, t) if isinstance(t, str) else t["type"]) for name, t in fields] == [
            (name, "map" if kind.startswith("map<") else kind) for name, kind in expected
        ]
        assert [f["name"] for f in definition["partitionSpec"]["fields"]] == list(REGISTRY[job].partition_columns)
        assert all(f["transform"] == "identity" for f in definition["partitionSpec"]["fields"])
        assert definition["properties"] == {k: v for k, v in TABLE_PROPERTIES.items() if k != "format-version"}
        assert "storageDescriptor" not in table and "partitionKeys" not in table  # Iceberg's, not Hive's
        assert not any(key.startswith("projection.") for key in table.get("parameters") or {})
    attributes = next(
        f
        for f in tables["products"]["openTableFormatInput"]["icebergInput"]["icebergTableInput"]["schema"]["fields"]
        if f["name"] == "attributes"
    )
    assert json.loads(attributes["type"])["type"] == "map"


@pytest.mark.parametrize(("stack", "protected"), [(DEV, False), (PROD, True)])
def test_pulumi_never_updates_an_iceberg_table_and_prod_never_deletes_one(stack, protected):
    tables = of_type(_catalog(stack), "aws:glue/catalogTable:CatalogTable")
    assert len(tables) == len(stack.platform.dataset_jobs)
    for table in tables:
        assert set(table["options"]["ignoreChanges"]) == {
            "description",
            "owner",
            "parameters",
            "partitionKeys",
            "retention",
            "storageDescriptor",
            "tableType",
            "openTableFormatInput",
        }
        assert table["options"]["protect"] is protected
        # Every input the table declares besides its identity is ignored after creation.
        assert set(table["inputs"]) - {"name", "databaseName"} <= set(table["options"]["ignoreChanges"])
    assert len(ICEBERG_OWNED_INPUTS) == 8


# ============================================================================================
# DataPlatform


@pulumi.runtime.test
def test_platform_exposes_typed_outputs():
    platform = build(DEV)
    outputs = stack_outputs(platform)
    assert set(outputs) == {"bucket_names", "job_names", "runner_arns", "alert_topic_arn"}

    def check(values):
        buckets, jobs, runners, topic = values
        assert buckets == {p: DEV.platform.bucket_name(p) for p in BUCKETS}
        assert jobs == {job: DEV.platform.names.glue_job(job) for job in DEV.platform.jobs}
        assert runners == {
            job: f"arn:aws:states:{REGION}:{synth.ACCOUNT_ID}:stateMachine:{DEV.platform.names.runner(job)}"
            for job in DEV.platform.jobs
        }
        assert topic == f"arn:aws:sns:{REGION}:{synth.ACCOUNT_ID}:data-lake-dev-alerts"

    return pulumi.Output.all(
        pulumi.Output.all(**platform.bucket_names),
        pulumi.Output.all(**platform.job_names),
        pulumi.Output.all(**platform.runner_arns),
        platform.alert_topic_arn,
    ).apply(check)


def test_platform_without_schedules_declares_no_schedule_group():
    cfg = DEV.platform.model_copy(update={"schedules": {}, "after_job": {}})
    resources = declared(lambda: build(StackConfig(stack="dev", region=REGION, platform=cfg)))
    assert not of_type(resources, "aws:scheduler/scheduleGroup:ScheduleGroup")
    assert not of_type(resources, "datalake:triggers:ScheduleTrigger")
    assert not [a for a in alarms(resources) if a["namespace"] == "AWS/Scheduler"]
    assert len(of_type(resources, "datalake:triggers:S3EventTrigger")) == len(cfg.s3_rules)
