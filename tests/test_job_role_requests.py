"""Each Glue job role allows every S3 request its job makes, and nothing outside its datasets.

The five jobs run for real (local Spark) on `tests/s3_requests.MirroredStorage`: every request
of the storage layer goes through boto3 to moto and is recorded, and Spark's own requests are
added as its S3 file systems make them. Each request, with its request context, is then
evaluated against the job role's policy from the synthesized stack (and the bucket's policy)
by `tests/iam_eval.py`. The request list comes from running the code, so a new write path
(say, table metadata files) is checked without editing this test.
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
from s3_requests import SPARK, STORAGE, MirroredStorage, RequestLog, S3Call, authorizations

from data_platform import contract, iam
from data_platform.config import StackConfig, load_stack
from data_platform.local.demo import sample_files

pytestmark = pytest.mark.spark

REPO = Path(__file__).resolve().parents[1]
JOBS = ("sales_etl", "sales_daily", "product_catalog", "inventory_sync", "customer_import")


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
        self.summaries: list[Any] = []

    def run(self, job: str, run_id: str, **run_input: str) -> Any:
        from etl.args import JobArguments
        from etl.jobs import get_job

        arguments = contract.job_run_arguments(self.cfg, job, contract.runner_input(**run_input))
        values = {k.removeprefix("--"): v for k, v in arguments.items() if v != ""}
        values.update({"JOB_RUN_ID": run_id, "storage_root": "s3://"})
        start = len(self.log.calls)
        job_instance = get_job(job)(JobArguments.from_mapping(values), self.spark, storage=self.storage)
        summary = job_instance.run()
        self.storage.sync()  # what Spark wrote last is part of this run
        self.calls[job] += self.log.calls[start:]
        self.summaries.append(summary)
        return summary


@pytest.fixture(scope="module")
def runs(spark, tmp_path_factory) -> Iterator[JobRuns]:
    stack = load_stack("dev", REPO)
    cfg = stack.platform
    bronze = cfg.bucket_name("bronze")
    with mock_aws():
        client = boto3.client("s3", region_name="eu-west-1")
        for purpose in ("bronze", "silver", "gold"):
            client.create_bucket(Bucket=cfg.bucket_name(purpose),
                                 CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        log = RequestLog()
        log.attach(client)
        storage = MirroredStorage(tmp_path_factory.mktemp("lake"), client, log, {bronze})
        for sample in sample_files():
            storage.put_source_object(bronze, sample.key, sample.body)
        lake = JobRuns(stack, storage, log, spark)

        def s3_event(job: str, run_id: str, key: str) -> Any:
            return lake.run(job, run_id, trigger_source="s3_event", source_bucket=bronze, source_key=key)

        first = s3_event("sales_etl", "jr_sales_1", "sales/2024-06-01/store-berlin.csv")
        s3_event("sales_etl", "jr_sales_2", "sales/2024-06-02/store-hamburg.csv")
        s3_event("sales_etl", "jr_sales_3", "sales/2024-06-01/store-berlin.csv")  # again: merges with silver
        s3_event("sales_etl", "jr_sales_bad", "sales/2024-06-03/store-munich.csv")  # refused: rejected.json
        lake.run("sales_daily", "jr_daily_1", trigger_source="job_succeeded",
                 upstream_job=cfg.names.glue_job("sales_etl"), upstream_run_id=first.run_id)
        s3_event("product_catalog", "jr_products_1", "products/catalog-2024-06-01.json")
        s3_event("product_catalog", "jr_products_2", "products/catalog-2024-06-02.json")
        s3_event("inventory_sync", "jr_inventory_1", "inventory/updates/2024-06-02T0600.xml")
        lake.run("inventory_sync", "jr_inventory_2", trigger_source="schedule")  # ledger: nothing pending
        lake.run("customer_import", "jr_customers_1", trigger_source="schedule")
        yield lake


def test_the_runs_did_what_they_do_in_production(runs):
    """The request log is only as good as the runs: each path (merge, quarantine, refusal,
    ledger, after-job) was taken."""
    outcome = {s.run_id: (s.state, s.error_kind, s.rows_quarantined > 0) for s in runs.summaries}
    assert outcome == {
        "jr_sales_1": ("SUCCEEDED", None, True), "jr_sales_2": ("SUCCEEDED", None, True),
        "jr_sales_3": ("SUCCEEDED", None, True), "jr_sales_bad": ("FAILED", "input", False),
        "jr_daily_1": ("SUCCEEDED", None, False), "jr_products_1": ("SUCCEEDED", None, False),
        "jr_products_2": ("SUCCEEDED", None, False), "jr_inventory_1": ("SUCCEEDED", None, False),
        "jr_inventory_2": ("NO_INPUT", None, False), "jr_customers_1": ("SUCCEEDED", None, False),
    }, [(s.run_id, s.error) for s in runs.summaries]
    for job in JOBS:
        origins = {c.origin for c in runs.calls[job]}
        assert origins == {STORAGE, SPARK}, f"{job}: requests from {origins} only"
    # The reason for the unconditional ListBucket: a read of a dataset folder HEADs the bare key.
    assert any(c.operation == "HeadObject" and c.status == 404 and c.params["Key"] == "sales"
               for c in runs.calls["sales_etl"])


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
            denied.append(f"{decision}: {call.origin} {call.operation} -> {request.action} {request.resource} "
                          f"{dict(request.context)}")
    return denied


def _renamed(stack: StackConfig, calls: list[S3Call]) -> list[S3Call]:
    """The dev run's requests as the same run would make them in another stack's buckets."""
    dev = load_stack("dev", REPO).platform
    names = {dev.bucket_name(p): stack.platform.bucket_name(p) for p in ("bronze", "silver", "gold")}

    def rename(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: (names.get(v, v) if k == "Bucket" else rename(v)) for k, v in value.items()}
        return value

    return [S3Call(c.origin, c.operation, rename(c.params), c.status) for c in calls]


@pytest.mark.parametrize("stack_name", ["dev", "prod"])
@pytest.mark.parametrize("job", JOBS)
def test_every_request_of_the_job_is_allowed_by_its_role(runs, job, stack_name):
    stack = load_stack(stack_name, REPO)
    calls = _renamed(stack, runs.calls[job])
    assert len(calls) > 10
    assert _denied(stack, job, calls) == []


@pytest.mark.parametrize("job", JOBS)
def test_requests_outside_the_jobs_datasets_are_denied(runs, job):
    """What other jobs did to their own datasets and inputs, and a write to bronze, this job's
    role may not do."""
    stack = load_stack("dev", REPO)
    cfg = stack.platform
    own = cfg.jobs[job]
    foreign = []
    for other in JOBS:
        if other == job:
            continue
        for call in runs.calls[other]:
            key = call.params.get("Key", "")
            if call.operation not in ("GetObject", "PutObject", "DeleteObject") or call.status >= 300:
                continue
            mine = (own.dataset in key.split("/") or key.startswith((f"_ledger/{job}/", f"_runs/{job}/"))
                    or (call.params["Bucket"] == cfg.bucket_name(own.source.layer.value)
                        and key.startswith(own.source.prefix)))
            if not mine:
                foreign.append(call)
    bronze_write = S3Call(STORAGE, "PutObject", {"Bucket": cfg.bucket_name("bronze"), "Key": "sales/x.csv"}, 200)
    foreign.append(bronze_write)
    assert len(foreign) > 20
    denied = _denied(stack, job, foreign)
    assert len(denied) == len(foreign), [c for c in foreign if not any(c.params.get("Key", "") in d for d in denied)]


def _prefix_conditioned(stack: StackConfig, job: str) -> dict[str, Any]:
    """The role policy as it was before: s3:ListBucket only with an s3:prefix condition."""
    policy = role_policy(stack, job)
    access = iam.job_s3_access(stack.platform, job)
    statements = [s for s in policy["Statement"] if s.get("Action") != "s3:ListBucket"]
    by_bucket: dict[str, list[str]] = {}
    for grant in (*access.reads, *access.writes):
        by_bucket.setdefault(grant.bucket, []).append(f"{grant.prefix}*")
    for index, (bucket, prefixes) in enumerate(sorted(by_bucket.items())):
        statements.append({"Sid": f"List{index}", "Effect": "Allow", "Action": "s3:ListBucket",
                           "Resource": f"arn:aws:s3:::{bucket}",
                           "Condition": {"StringLike": {"s3:prefix": sorted(set(prefixes))}}})
    return {**policy, "Statement": statements}


@pytest.mark.parametrize("job", JOBS)
def test_a_prefix_conditioned_list_grant_would_deny_the_jobs_requests(runs, job):
    stack = load_stack("dev", REPO)
    denied = _denied(stack, job, runs.calls[job], _prefix_conditioned(stack, job))
    assert denied, "the old policy shape would have passed: the test could not tell the fix from the fault"
    assert all("s3:ListBucket" in line for line in denied), denied
