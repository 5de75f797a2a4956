"""The quality gate's validations as Great Expectations Data Docs (GX's own site builder)."""

from __future__ import annotations

import json
import posixpath
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from browser import headless_chromium, open_file
from moto import mock_aws
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from data_platform.config import load_stack
from data_platform.local.docs import build_local_docs, validation_pages
from etl.data_docs import DataDocs, docs_prefix, link_target
from etl.quality import Action, between, not_null, run_gate
from etl.storage import LocalStorage, S3Storage

BUCKET = "data-lake-dev-artifacts"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def validation(spark):
    rows = [(1, 5.0), (2, -3.0), (3, -1.0), (None, 2.0), (5, 7.0)]
    df = spark.createDataFrame(rows, "order_id int, amount double").cache()
    gate = run_gate(
        df,
        [not_null("order_id"), between("amount", min_value=0, action=Action.DROP, name="amount_positive")],
        suite_name="sales_etl.quality",
        max_drop_ratio=1.0,
    )
    return gate.validation


def at(minute: int) -> datetime:
    return datetime(2026, 12, 2, 6, minute, tzinfo=UTC)


pytestmark = pytest.mark.spark


def test_a_runs_page_shows_each_failed_expectation_with_its_unexpected_count(tmp_path, validation):
    docs = DataDocs(LocalStorage(tmp_path), BUCKET, docs_prefix("dev"))
    page = docs.store(validation, run_id="jr_42", run_time=at(0), batch="sales_etl")
    index = docs.build().index
    assert (tmp_path / BUCKET / index).is_file()
    with headless_chromium() as browser:
        open_file(browser, tmp_path / BUCKET / page.key)
        text = browser.find_element(By.TAG_NAME, "body").text
        assert "jr_42" in text and "sales_etl.quality" in text
        assert "Unsuccessful Expectations\n2" in text
        assert "values must never be null" in text and "1 unexpected values found" in text
        assert "values must be greater than or equal to 0" in text and "2 unexpected values found" in text
    # GX's index draws its table with bootstrap-table from a CDN; its rows are data in the page.
    assert page.relative_path in (tmp_path / BUCKET / index).read_text()


def test_a_job_builds_its_own_page_and_the_index_lists_the_newest(tmp_path, validation):
    docs = DataDocs(LocalStorage(tmp_path), BUCKET, docs_prefix("dev"))
    pages = [docs.store(validation, run_id=f"jr_{n}", run_time=at(n), batch="sales_etl") for n in range(3)]
    docs.build(pages=pages[-1:], limit=2)
    site = tmp_path / BUCKET / docs_prefix("dev") / "site"
    assert (tmp_path / BUCKET / pages[-1].key).is_file()
    assert not (tmp_path / BUCKET / pages[0].key).exists()
    index = (site / "index.html").read_text()
    assert "jr_2" in index and "jr_1" in index and "jr_0" not in index


def test_the_cloud_site_is_written_through_s3(validation):
    with mock_aws():
        client = boto3.client("s3", region_name="eu-west-1")
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        docs = DataDocs(S3Storage(client), BUCKET, docs_prefix("prod"))
        page = docs.store(validation, run_id="jr_7", run_time=at(7), batch="sales_etl")
        index = docs.build(pages=[page]).index
        keys = {o["Key"] for o in client.list_objects_v2(Bucket=BUCKET)["Contents"]}
        assert index == "data-docs/prod/site/index.html" and index in keys and page.key in keys
        assert all(k.startswith("data-docs/prod/") for k in keys)
        assert b"1 unexpected values found" in client.get_object(Bucket=BUCKET, Key=page.key)["Body"].read()
        static = {k for k in keys if "/site/static/" in k}
        docs.build(pages=[page])  # the static assets are written once
        again = {o["Key"]: o["LastModified"] for o in client.list_objects_v2(Bucket=BUCKET)["Contents"]}
        assert static and all(k in again for k in static)


def test_a_published_run_is_linked_under_its_execution_and_the_link_opens_its_page(tmp_path, validation):
    """The link is the page the alert names: in a browser it lands on the run's GX page."""
    docs = DataDocs(LocalStorage(tmp_path), BUCKET, docs_prefix("dev"))
    page = docs.publish(validation, run_id="jr_9", run_time=at(9), batch="sales_etl", execution_name="exec-9")
    link = tmp_path / BUCKET / "data-docs/dev/site/runs/exec-9.html"
    assert (link.parent / link_target(link.read_bytes())).resolve() == (tmp_path / BUCKET / page.key).resolve()
    assert page.key in link.read_text()  # the page's key, for `aws s3 presign`
    with headless_chromium() as browser:
        open_file(browser, link)
        # The redirect is a second navigation, which `get` does not wait for.
        target = (tmp_path / BUCKET / page.key).resolve().as_uri()
        WebDriverWait(browser, 60).until(
            lambda b: b.current_url == target and "jr_9" in b.find_element(By.TAG_NAME, "body").text
        )
    # A job without an execution (run by hand) still renders its page, and links nothing.
    docs.publish(validation, run_id="jr_10", run_time=at(10), batch="sales_etl", execution_name=None)
    assert sorted(p.name for p in link.parent.iterdir()) == ["exec-9.html"]
    assert docs.stored_runs() == {"jr_9", "jr_10"}


def test_a_published_run_on_s3_writes_only_under_its_stacks_prefix(validation):
    with mock_aws():
        client = boto3.client("s3", region_name="eu-west-1")
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        docs = DataDocs(S3Storage(client), BUCKET, docs_prefix("prod"))
        page = docs.publish(validation, run_id="jr_1", run_time=at(1), batch="sales_etl", execution_name="e-1")
        keys = {o["Key"] for o in client.list_objects_v2(Bucket=BUCKET)["Contents"]}
        assert {page.key, "data-docs/prod/site/index.html", "data-docs/prod/site/runs/e-1.html"} <= keys
        assert all(k.startswith("data-docs/prod/") for k in keys)
        link = client.get_object(Bucket=BUCKET, Key="data-docs/prod/site/runs/e-1.html")["Body"].read()
        assert posixpath.normpath(posixpath.join("data-docs/prod/site/runs", link_target(link))) == page.key


def test_lake_docs_renders_the_runs_from_before_the_jobs_wrote_data_docs_once(tmp_path, validation):
    """A lake whose quarantines hold validations but whose Data Docs do not (older runs): `lake
    docs` stores each once, renders them, links each run to its page, drops the former map."""
    cfg = load_stack("dev", REPO).platform
    home = tmp_path / "home"
    runs = ["local-20240601T060000-aaaa0001", "local-20240601T070000-aaaa0002"]
    for run_id in runs:
        record = {"job": "sales_etl", "run_id": run_id, "dataset": "sales", "validation": validation}
        folder = home / cfg.bucket_name("silver") / "_quarantine" / "sales" / run_id
        folder.mkdir(parents=True)
        (folder / "validation.json").write_text(json.dumps(record))
    refused = home / cfg.bucket_name("silver") / "_quarantine" / "sales" / "local-refused" / "validation.json"
    refused.parent.mkdir(parents=True)
    refused.write_text(json.dumps({"job": "sales_etl", "run_id": "local-refused", "validation": None}))
    (home / "_lake").mkdir()
    (home / "_lake" / "data_docs_pages.json").write_text("{}")

    index = build_local_docs(cfg, home)
    assert index == home / "data-lake-dev-artifacts/data-docs/dev/site/index.html" and index.is_file()
    pages = validation_pages(home, [*runs, "local-refused", "local-never-ran"])
    assert sorted(pages) == runs
    assert all(Path(p).is_file() and run_id in Path(p).read_text() for run_id, p in pages.items())
    assert not (home / "_lake" / "data_docs_pages.json").exists()
    stored = sorted((home / "data-lake-dev-artifacts/data-docs/dev/validations").rglob("*.json"))
    assert len(stored) == 2
    build_local_docs(cfg, home)  # again: nothing is stored twice
    assert sorted((home / "data-lake-dev-artifacts/data-docs/dev/validations").rglob("*.json")) == stored


def test_a_failed_runs_alert_names_the_link_to_the_page_its_run_wrote(tmp_path, validation, capsys):
    """Locally the runner's execution is the run: the alert's link is the one the run's Data
    Docs write under its execution name (written here as the job writes it), and `lake alerts`
    prints the page on a line of its own (a table cell cuts a long path short)."""
    from data_platform.cli.app import main
    from data_platform.local.lake import LocalLake

    calls: list[dict] = []

    def failing(job: str, arguments: dict) -> dict:
        calls.append(dict(arguments))
        return {"state": "FAILED", "error": "rule currency_iso_4217 failed", "error_kind": "data_quality"}

    home = tmp_path / "home"
    lake = LocalLake(load_stack("dev", REPO), home, job_fn=failing)
    (tmp_path / "orders.csv").write_text("order_id\n1\n")
    [run] = lake.upload(tmp_path / "orders.csv", "sales/orders.csv").runs
    lake.close()
    assert [(c["--JOB_RUN_ID"], c["--execution_name"]) for c in calls] == [(run.run_id, run.run_id)]
    docs = DataDocs(LocalStorage(home), BUCKET, docs_prefix("dev"))
    page = docs.publish(validation, run_id=run.run_id, run_time=at(3), batch="sales_etl", execution_name=run.run_id)

    assert main(["--home", str(home), "alerts", "--json"]) == 0
    [alert] = json.loads(capsys.readouterr().out)
    link = Path(alert["message"].rsplit(": ", 1)[1])
    assert (link.parent / link_target(link.read_bytes())).resolve() == (home / BUCKET / page.key).resolve()
    assert main(["--home", str(home), "alerts"]) == 0
    assert f"{run.run_id}  validation: {BUCKET}/{page.key}" in capsys.readouterr().out
