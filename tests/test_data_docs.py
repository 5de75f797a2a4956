"""The quality gate's validations as Great Expectations Data Docs (GX's own site builder)."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from browser import headless_chromium, open_file
from moto import mock_aws
from selenium.webdriver.common.by import By

from etl.data_docs import DataDocs, docs_prefix
from etl.quality import Action, between, not_null, run_gate
from etl.storage import LocalStorage, S3Storage

BUCKET = "data-lake-dev-artifacts"


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
    index = docs.build()
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
        index = docs.build(pages=[page])
        keys = {o["Key"] for o in client.list_objects_v2(Bucket=BUCKET)["Contents"]}
        assert index == "data-docs/prod/site/index.html" and index in keys and page.key in keys
        assert all(k.startswith("data-docs/prod/") for k in keys)
        assert b"1 unexpected values found" in client.get_object(Bucket=BUCKET, Key=page.key)["Body"].read()
        static = {k for k in keys if "/site/static/" in k}
        docs.build(pages=[page])  # the static assets are written once
        again = {o["Key"]: o["LastModified"] for o in client.list_objects_v2(Bucket=BUCKET)["Contents"]}
        assert static and all(k in again for k in static)
