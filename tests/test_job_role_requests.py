"""Each Glue job role allows every S3 and Glue Data Catalog request its job makes, and nothing
outside its datasets.

The five dataset jobs and the maintenance job run for real (local Spark, Iceberg tables in a
local catalog) on `tests/s3_requests.MirroredStorage`: every request of the storage layer goes
through boto3 to moto and is recorded, Spark's own requests are added as its S3 file systems
make them, and the tables' data, manifest and metadata files as Iceberg writes, reads and
deletes them; the runs that quarantine rows write their Data Docs to the artifacts bucket,
named after the runner's execution as the runner passes it. The Glue Data Catalog calls are
those Iceberg's GlueCatalog makes for the tables
each run loaded and committed (`s3_requests.glue_calls`). Each request, with its request
context, is then evaluated against the job role's policy from the synthesized stack (and the
bucket's policy) by `tests/iam_eval.py`. The request list comes from running the code, so a
new write path is checked without editing this test.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import pytest
from iam_eval import Decision, Request, evaluate
from moto import mock_aws
from s3_requests import (
    SPARK,
    STORAGE,
    GlueCall,
    MirroredStorage,
    RequestLog,
    S3Call,
    authorizations,
    glue_authorizations,
    glue_calls,
)

from data_platform import job_arguments
from data_platform.cli.demo import sample_files
from data_platform.components import iam
from data_platform.config import StackConfig, load_stack
from data_platform.contract.data_docs import data_docs_prefix
from data_platform.contract.runs import runner_input
from data_platform.synth import ACCOUNT_ID

pytestmark = pytest.mark.spark

REPO = Path(__file__).resolve().parents[1]
DATASET_JOBS = ("sales_etl", "sales_daily", "product_catalog", "inventory_sync", "customer_import")
JOBS = (*DATASET_JOBS, "table_maintenance")
# The maintenance run expires every snapshot but the last (the stack keeps days of them), so
# that the run deletes files the way a run in production eventually does.
EXPIRE_ALL_BUT_THE_LAST = {"snapshot_retention_days": "0", "min_snapshots": "1"}


@cache
def synthesized(stack: str) -> tuple[dict[str, Any], ...]:
    from data_platform.synth import synthesize

    return tuple(synthesize(load_stack(stack, REPO)))


def role_policy(stack: StackConfig, job: str) -> dict[str, Any]:
    wanted = f"{stack.platform.names.base}-job-{job}-role-policy"
    [found] = [r for r in synthesized(stack.stack) if r["name"] == wanted]
    return json.loads(found["inputs"]["policy"])


def bucket_policies(stack: StackConfig) -> dict[str, dict[str, Any]]:
    policies = {}
    for resource in synthesized(stack.stack):
        if resource["type"] == "aws:s3/bucketPolicy:BucketPolicy":
            document = json.loads(resource["inputs"]["policy"])
            bucket = document["Statement"][0]["Resource"][0].split(":::")[1]
            policies[bucket] = document
    return policies


class JobRuns:
    """Runs jobs as their runners would start them, each on the recording storage."""

    def __init__(self, stack: StackConfig, storage: MirroredStorage, log: RequestLog, spark: Any) -> None:
        self.stack, self.cfg, self.storage, self.log, self.spark = stack, stack.platform, storage, log, spark
        self.calls: dict[str, list[S3Call]] = {job: [] for job in JOBS}
        self.glue: dict[str, list[GlueCall]] = {job: [] for job in JOBS}
        self.summaries: list[Any] = []

    def run(self, job: str, run_id: str, extra: dict[str, str] | None = None, **run_input: str) -> Any:
        from etl.args import JobArguments
        from etl.jobs import MAINTENANCE_JOBS, get_job

        arguments = job_arguments.job_run_arguments(self.cfg, job, runner_input(**run_input))
        values = {k.removeprefix("--"): v for k, v in arguments.items() if v != ""}
        # What the runner adds (Glue's run id, and the execution's name: `$$.Execution.Name`).
        values.update({"JOB_RUN_ID": run_id, "execution_name": f"sfn-{run_id}", "storage_root": "s3://"})
        values.update(extra or {})
        start = len(self.log.calls)
        self.storage.begin_run()
        job_class = get_job(job)
        if job in MAINTENANCE_JOBS:
            summary = job_class(JobArguments.from_mapping(values), self.spark).run()
        else:
            summary = job_class(JobArguments.from_mapping(values), self.spark, storage=self.storage).run()
        activity = self.storage.end_run()  # what Spark and Iceberg did last is part of this run
        if job in MAINTENANCE_JOBS:
            for bucket, dataset in sorted(activity.loaded):
                self.storage.list_table(bucket, dataset)  # remove_orphan_files lists the location
        self.calls[job] += self.log.calls[start:]
        self.glue[job] += glue_calls(activity, values["database"])
        self.summaries.append(summary)
        return summary


@pytest.fixture(scope="module")
def runs(spark, tmp_path_factory) -> Iterator[JobRuns]:
    stack = load_stack("dev", REPO)
    cfg = stack.platform
    bronze = cfg.bucket_name("bronze")
    with mock_aws():
        client = boto3.client("s3", region_name="eu-west-1")
        for purpose in ("bronze", "silver", "gold", "artifacts"):
            client.create_bucket(
                Bucket=cfg.bucket_name(purpose), CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
            )
        log = RequestLog()
        log.attach(client)
        storage = MirroredStorage(tmp_path_factory.mktemp("lake"), client, log, {bronze})
        for sample in sample_files():
            storage.put_source_object(bronze, sample.key, sample.body)
        # The jobs' Spark catalog `lake`: a local Iceberg catalog (kept outside the buckets)
        # whose tables live where the jobs put them, in the mirrored bucket folders.
        from etl.session import table_session

        lake = JobRuns(stack, storage, log, table_session(spark, str(tmp_path_factory.mktemp("catalog"))))

        def s3_event(job: str, run_id: str, key: str) -> Any:
            return lake.run(job, run_id, trigger_source="s3_event", source_bucket=bronze, source_key=key)

        first = s3_event("sales_etl", "jr_sales_1", "sales/2024-06-01/store-berlin.csv")
        s3_event("sales_etl", "jr_sales_2", "sales/2024-06-02/store-hamburg.csv")
        s3_event("sales_etl", "jr_sales_3", "sales/2024-06-01/store-berlin.csv")  # again: merges with silver
        s3_event("sales_etl", "jr_sales_bad", "sales/2024-06-03/store-munich.csv")  # refused: rejected.json
        lake.run(
            "sales_daily",
            "jr_daily_1",
            trigger_source="job_succeeded",
            upstream_job=cfg.names.glue_job("sales_etl"),
            upstream_run_id=first.run_id,
        )
        s3_event("product_catalog", "jr_products_1", "products/catalog-2024-06-01.json")
        s3_event("product_catalog", "jr_products_2", "products/catalog-2024-06-02.json")
        s3_event("inventory_sync", "jr_inventory_1", "inventory/updates/2024-06-02T0600.xml")
        lake.run("inventory_sync", "jr_inventory_2", trigger_source="schedule")  # ledger: nothing pending
        lake.run("customer_import", "jr_customers_1", trigger_source="schedule")
        lake.run("table_maintenance", "jr_maintenance_1", extra=EXPIRE_ALL_BUT_THE_LAST, trigger_source="schedule")
        yield lake


def test_the_runs_did_what_they_do_in_production(runs):
    """The request log is only as good as the runs: each path (merge, quarantine, refusal,
    ledger, after-job) was taken."""
    outcome = {s.run_id: (s.state, s.error_kind, s.rows_quarantined > 0) for s in runs.summaries}
    assert outcome == {
        "jr_sales_1": ("SUCCEEDED", None, True),
        "jr_sales_2": ("SUCCEEDED", None, True),
        "jr_sales_3": ("SUCCEEDED", None, True),
        "jr_sales_bad": ("FAILED", "input", False),
        "jr_daily_1": ("SUCCEEDED", None, False),
        "jr_products_1": ("SUCCEEDED", None, False),
        "jr_products_2": ("SUCCEEDED", None, False),
        "jr_inventory_1": ("SUCCEEDED", None, False),
        "jr_inventory_2": ("NO_INPUT", None, False),
        "jr_customers_1": ("SUCCEEDED", None, False),
        "jr_maintenance_1": ("SUCCEEDED", None, False),
    }, [(s.run_id, s.error) for s in runs.summaries]
    for job in DATASET_JOBS:
        origins = {c.origin for c in runs.calls[job]}
        assert origins == {STORAGE, SPARK}, f"{job}: requests from {origins} only"
    # Each run that quarantined rows wrote its Data Docs (none failed), and only those did.
    assert not [s.run_id for s in runs.summaries if s.warnings.get("data_docs_not_written")]
    linked = {c.params["Key"] for job in JOBS for c in runs.calls[job] if c.operation == "PutObject"}
    linked = {k for k in linked if k.startswith("data-docs/dev/site/runs/")}
    assert linked == {f"data-docs/dev/site/runs/sfn-jr_sales_{n}.html" for n in (1, 2, 3)}
    # The reason for the unconditional ListBucket: a read of a dataset folder HEADs the bare key.
    assert any(
        c.operation == "HeadObject" and c.status == 404 and c.params["Key"] == "sales" for c in runs.calls["sales_etl"]
    )


def _table_requests(calls: list[S3Call], operation: str, area: str) -> list[str]:
    return [c.params["Key"] for c in calls if c.operation == operation and f"/{area}/" in c.params.get("Key", "")]


def test_the_table_files_are_recorded_as_iceberg_writes_reads_and_deletes_them(runs):
    """Data, manifests and metadata are written by the commits, read by the next runs (the
    merge's lookup, the gold recompute) and deleted: old metadata after a commit, expired
    snapshots' files by the maintenance job."""
    sales = runs.calls["sales_etl"]
    assert _table_requests(sales, "PutObject", "data") and _table_requests(sales, "PutObject", "metadata")
    assert any(k.endswith(".metadata.json") for k in _table_requests(sales, "GetObject", "metadata"))
    assert any(k.startswith("sales/data/") for k in _table_requests(runs.calls["sales_daily"], "GetObject", "data"))
    maintenance = runs.calls["table_maintenance"]
    deleted = _table_requests(maintenance, "DeleteObject", "data") + _table_requests(
        maintenance, "DeleteObject", "metadata"
    )
    assert any(k.startswith("sales/") for k in deleted), deleted
    assert {c.params["Prefix"] for c in maintenance if c.operation == "ListObjectsV2"} >= {
        f"{d}/" for d in runs.cfg.datasets()
    }
    database = runs.cfg.names.glue_database()
    assert GlueCall("UpdateTable", database, "sales") in runs.glue["sales_etl"]
    assert GlueCall("GetTable", database, "sales") in runs.glue["sales_daily"]
    assert GlueCall("UpdateTable", database, "sales") not in runs.glue["sales_daily"]
    maintained = runs.glue["table_maintenance"]
    assert {c.table for c in maintained if c.operation == "GetTable"} == set(runs.cfg.datasets())
    assert "sales" in {c.table for c in maintained if c.operation == "UpdateTable"}  # compacted, snapshots expired


def _requests(calls: list[S3Call]) -> list[tuple[S3Call, Request]]:
    return [(call, request) for call in calls for request in authorizations(call)]


def _denied(stack: StackConfig, job: str, calls: list[S3Call], policy: dict[str, Any] | None = None) -> list[str]:
    policy = policy or role_policy(stack, job)
    buckets = bucket_policies(stack)
    denied = []
    for call, request in _requests(calls):
        bucket = request.resource.split(":::")[1].split("/")[0]
        decision = evaluate(request, [policy, *([buckets[bucket]] if bucket in buckets else [])])
        if decision is not Decision.ALLOW:
            denied.append(
                f"{decision}: {call.origin} {call.operation} -> {request.action} {request.resource} "
                f"{dict(request.context)}"
            )
    return denied


def _glue_denied(
    stack: StackConfig, job: str, calls: list[GlueCall], policy: dict[str, Any] | None = None
) -> list[str]:
    """Each Data Catalog call is allowed only when each of its resources is."""
    policy = policy or role_policy(stack, job)
    denied = []
    for call in calls:
        refused = [
            r.resource
            for r in glue_authorizations(call, str(stack.region), ACCOUNT_ID)
            if evaluate(r, [policy]) is not Decision.ALLOW
        ]
        if refused:
            denied.append(f"glue:{call.operation} {call.database}.{call.table}: denied on {refused}")
    return denied


def _renamed(stack: StackConfig, calls: list[S3Call]) -> list[S3Call]:
    """The dev run's requests as the same run would make them in another stack's buckets (and
    under its Data Docs prefix)."""
    dev = load_stack("dev", REPO).platform
    names = {dev.bucket_name(p): stack.platform.bucket_name(p) for p in ("bronze", "silver", "gold", "artifacts")}
    docs, own_docs = data_docs_prefix(dev.environment), data_docs_prefix(stack.platform.environment)

    def rename(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: (
                    names.get(v, v)
                    if k == "Bucket"
                    else own_docs + v[len(docs) :]
                    if k in ("Key", "Prefix") and isinstance(v, str) and v.startswith(docs)
                    else rename(v)
                )
                for k, v in value.items()
            }
        return value

    return [S3Call(c.origin, c.operation, rename(c.params), c.status) for c in calls]


def _glue_renamed(stack: StackConfig, calls: list[GlueCall]) -> list[GlueCall]:
    database = stack.platform.names.glue_database()
    return [GlueCall(c.operation, database, c.table) for c in calls]


@pytest.mark.parametrize("stack_name", ["dev", "prod"])
@pytest.mark.parametrize("job", JOBS)
def test_every_request_of_the_job_is_allowed_by_its_role(runs, job, stack_name):
    stack = load_stack(stack_name, REPO)
    calls = _renamed(stack, runs.calls[job])
    assert len(calls) > 10
    assert _denied(stack, job, calls) == []
    glue = _glue_renamed(stack, runs.glue[job])
    assert any(c.operation == "UpdateTable" for c in glue), glue
    assert _glue_denied(stack, job, glue) == []


def _own(cfg: Any, job: str, key: str, bucket: str) -> bool:
    own = cfg.jobs[job]
    return (
        own.dataset in key.split("/")
        or key.startswith((f"_ledger/{job}/", f"_runs/{job}/"))
        or (bucket == cfg.bucket_name(own.source.layer.value) and key.startswith(own.source.prefix))
        # The stack's Data Docs are every dataset job's: one site, one index.
        or (bucket == cfg.bucket_name("artifacts") and key.startswith(data_docs_prefix(cfg.environment)))
    )


@pytest.mark.parametrize("job", DATASET_JOBS)
def test_requests_outside_the_jobs_datasets_are_denied(runs, job):
    """What other jobs (the maintenance job included) did to their own datasets and inputs, and
    a write to bronze, this job's role may not do; nor may it read or commit another job's
    table in the catalog (beyond the tables its own runs read)."""
    stack = load_stack("dev", REPO)
    cfg = stack.platform
    foreign = []
    for other in JOBS:
        if other == job:
            continue
        for call in runs.calls[other]:
            key = call.params.get("Key", "")
            if call.operation not in ("GetObject", "PutObject", "DeleteObject") or call.status >= 300:
                continue
            if not _own(cfg, job, key, call.params["Bucket"]):
                foreign.append(call)
    bronze_write = S3Call(STORAGE, "PutObject", {"Bucket": cfg.bucket_name("bronze"), "Key": "sales/x.csv"}, 200)
    foreign.append(bronze_write)
    assert len(foreign) > 20
    denied = _denied(stack, job, foreign)
    assert len(denied) == len(foreign), [c for c in foreign if not any(c.params.get("Key", "") in d for d in denied)]
    read = {c.table for c in runs.glue[job] if c.operation == "GetTable"}
    foreign_glue = {
        c
        for other in JOBS
        if other != job
        for c in runs.glue[other]
        if c.table and (c.operation == "UpdateTable" and c.table != cfg.jobs[job].dataset or c.table not in read)
    }
    assert {c.table for c in foreign_glue} >= set(cfg.datasets()) - read
    assert len(_glue_denied(stack, job, sorted(foreign_glue, key=str))) == len(foreign_glue)


def test_the_maintenance_job_may_touch_no_bookkeeping_and_no_bronze(runs):
    stack = load_stack("dev", REPO)
    bookkeeping = [
        c
        for job in DATASET_JOBS
        for c in runs.calls[job]
        if c.status < 300
        and c.operation in ("GetObject", "PutObject", "DeleteObject")
        and c.params["Key"].startswith(("_ledger/", "_runs/", "_quarantine/", "_staging/", "data-docs/"))
    ]
    bronze = [
        c
        for c in runs.calls["sales_etl"]
        if c.operation == "GetObject" and c.params["Bucket"] == stack.platform.bucket_name("bronze")
    ]
    assert bookkeeping and bronze and any(c.params["Key"].startswith("data-docs/") for c in bookkeeping)
    assert len(_denied(stack, "table_maintenance", [*bookkeeping, *bronze])) == len(bookkeeping) + len(bronze)


def test_a_role_without_the_data_docs_grant_would_deny_exactly_the_data_docs_requests(runs):
    """The grant is what lets the runs that quarantined rows write their Data Docs: without it
    each object request under the stack's Data Docs prefix is denied, and nothing else."""
    stack = load_stack("dev", REPO)
    policy = role_policy(stack, "sales_etl")
    without = {**policy, "Statement": [s for s in policy["Statement"] if s.get("Sid") != "WriteDataDocs"]}
    assert len(without["Statement"]) == len(policy["Statement"]) - 1
    calls = runs.calls["sales_etl"]
    docs = [
        c for c in calls if c.operation in ("GetObject", "HeadObject", "PutObject") and "data-docs/" in c.params["Key"]
    ]
    assert {c.operation for c in docs} == {"GetObject", "HeadObject", "PutObject"}
    denied = _denied(stack, "sales_etl", calls, without)
    assert len(denied) == len(docs) and all(":::data-lake-dev-artifacts/data-docs/dev/" in line for line in denied)


@pytest.mark.parametrize("job", JOBS)
def test_a_role_without_the_catalog_grants_would_deny_the_jobs_glue_calls(runs, job):
    """The role as it was before the tables moved to Iceberg: no Glue Data Catalog statement."""
    stack = load_stack("dev", REPO)
    policy = role_policy(stack, job)
    without = {
        **policy,
        "Statement": [s for s in policy["Statement"] if not any(str(a).startswith("glue:") for a in iam_actions(s))],
    }
    assert len(without["Statement"]) < len(policy["Statement"])
    denied = _glue_denied(stack, job, runs.glue[job], without)
    assert len(denied) == len(runs.glue[job]) > 0


def iam_actions(statement: dict[str, Any]) -> list[str]:
    actions = statement.get("Action", [])
    return [actions] if isinstance(actions, str) else list(actions)


def _prefix_conditioned(stack: StackConfig, job: str) -> dict[str, Any]:
    """The role policy as it was before: s3:ListBucket only with an s3:prefix condition."""
    policy = role_policy(stack, job)
    access = iam.job_s3_access(stack.platform, job)
    statements = [s for s in policy["Statement"] if s.get("Action") != "s3:ListBucket"]
    by_bucket: dict[str, list[str]] = {}
    for grant in (*access.reads, *access.writes):
        by_bucket.setdefault(grant.bucket, []).append(f"{grant.prefix}*")
    for index, (bucket, prefixes) in enumerate(sorted(by_bucket.items())):
        statements.append(
            {
                "Sid": f"List{index}",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": f"arn:aws:s3:::{bucket}",
                "Condition": {"StringLike": {"s3:prefix": sorted(set(prefixes))}},
            }
        )
    return {**policy, "Statement": statements}


@pytest.mark.parametrize("job", DATASET_JOBS)
def test_a_prefix_conditioned_list_grant_would_deny_the_jobs_requests(runs, job):
    stack = load_stack("dev", REPO)
    denied = _denied(stack, job, runs.calls[job], _prefix_conditioned(stack, job))
    assert denied, "the old policy shape would have passed: the test could not tell the fix from the fault"
    assert all("s3:ListBucket" in line for line in denied), denied
