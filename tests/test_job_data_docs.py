"""A job renders the validation its gate quarantined as Data Docs, last, and a failure to do so
costs the run nothing but a logged error and a warning."""

from __future__ import annotations

import logging

import pytest
from support.etl_lake import LocalLake

from etl.data_docs import link_target
from etl.jobs.sales_etl import SALES_BRONZE_COLUMNS, SALES_SILVER_SCHEMA

pytestmark = pytest.mark.spark

HEADER = ",".join(SALES_BRONZE_COLUMNS)
CLEAN = f"{HEADER}\no1,2024-01-05T10:00:00Z,s1,c1,A,2,9.99,EUR\no2,2024-01-05T11:00:00Z,s1,c1,B,1,5.00,EUR\n"
ONE_DROPPED = CLEAN + "o3,2024-01-06T09:30:00Z,s2,c3,C,0,1.00,EUR\n"  # quantity 0: quantity_positive drops it
BROKEN_FEED = f"{HEADER}\no1,2024-01-05T10:00:00Z,s1,c1,A,2,9.99,XXX\no2,2024-01-05T10:00:00Z,s1,c1,A,2,9.99,EUR\n"
KEY = "sales/2024-01-05.csv"
ARTIFACTS = "data-lake-dev-artifacts"
DOCS = {"data_docs_bucket": ARTIFACTS, "data_docs_prefix": "data-docs/dev/"}


def run(spark, tmp_path, csv: str, **overrides: str):
    lake = LocalLake(tmp_path)
    lake.put(KEY, csv)
    return lake, lake.upload_event("sales_etl", spark, KEY, **{"max_drop_ratio": "0.5", **DOCS, **overrides})


def linked_page(tmp_path, execution: str):
    link = tmp_path / ARTIFACTS / "data-docs/dev/site/runs" / f"{execution}.html"
    return (link.parent / link_target(link.read_bytes())).resolve()


def test_a_run_that_drops_rows_writes_its_page_the_index_and_the_link_its_alert_names(spark, tmp_path):
    lake, summary = run(spark, tmp_path, ONE_DROPPED, execution_name="exec-1")
    assert (summary.state, summary.rows_written, summary.rows_quarantined) == ("SUCCEEDED", 2, 1)
    page = linked_page(tmp_path, "exec-1")
    site = tmp_path / ARTIFACTS / "data-docs/dev/site"
    assert page.parent.parent == site / "validations/sales_etl/quality" / summary.run_id
    assert summary.run_id in page.read_text() and "quantity" in page.read_text()
    assert page.relative_to(site).as_posix() in (site / "index.html").read_text()
    [stored] = (tmp_path / ARTIFACTS / "data-docs/dev/validations").rglob("*.json")
    assert stored.relative_to(tmp_path / ARTIFACTS / "data-docs/dev/validations").parts[:3] == (
        "sales_etl",
        "quality",
        summary.run_id,
    )
    # Written last, as a stage of its own (timed, shown live), after the commit and the ledger.
    assert [s["name"] for s in summary.stages][-2:] == ["write", "data docs"]
    assert "data_docs_not_written" not in summary.warnings
    assert lake.files(lake.silver, f"_ledger/sales_etl/{summary.run_id}")


def test_a_failed_gate_links_its_page_too(spark, tmp_path):
    _lake, summary = run(spark, tmp_path, BROKEN_FEED, execution_name="exec-2", max_drop_ratio="0.05")
    assert (summary.state, summary.error_kind) == ("FAILED", "data_quality")
    assert summary.run_id in linked_page(tmp_path, "exec-2").read_text()
    assert [s["name"] for s in summary.stages][-2:] == ["quality gate", "data docs"]


def test_a_run_whose_gate_passes_every_row_writes_no_data_docs(spark, tmp_path):
    _lake, summary = run(spark, tmp_path, CLEAN, execution_name="exec-3")
    assert (summary.state, summary.rows_quarantined) == ("SUCCEEDED", 0)
    assert not (tmp_path / ARTIFACTS).exists()
    assert "data docs" not in [s["name"] for s in summary.stages]


def test_a_run_without_a_data_docs_location_writes_none(spark, tmp_path):
    lake = LocalLake(tmp_path)
    lake.put(KEY, ONE_DROPPED)
    summary = lake.upload_event("sales_etl", spark, KEY, max_drop_ratio="0.5")
    assert (summary.state, summary.rows_quarantined) == ("SUCCEEDED", 1)
    assert not (tmp_path / ARTIFACTS).exists() and not list(tmp_path.rglob("data-docs"))


def test_data_docs_that_cannot_be_written_leave_the_run_and_its_data_and_are_logged(spark, tmp_path, caplog):
    (tmp_path / ARTIFACTS).write_text("a file where the bucket's folder would be")  # every write fails
    with caplog.at_level(logging.ERROR, logger="etl"):
        lake, summary = run(spark, tmp_path, ONE_DROPPED, execution_name="exec-4")
    assert (summary.state, summary.error, summary.rows_written, summary.rows_quarantined) == ("SUCCEEDED", None, 2, 1)
    assert summary.warnings["data_docs_not_written"] == 1
    assert lake.files(lake.silver, f"_quarantine/sales/{summary.run_id}/") == [
        f"_quarantine/sales/{summary.run_id}/rows.jsonl",
        f"_quarantine/sales/{summary.run_id}/validation.json",
    ]
    assert lake.files(lake.silver, f"_ledger/sales_etl/{summary.run_id}")
    assert lake.read(spark, "sales", SALES_SILVER_SCHEMA).count() == 2
    [record] = [r for r in caplog.records if "Data Docs" in r.getMessage()]
    assert summary.run_id in record.getMessage() and "validation.json" in record.getMessage()
