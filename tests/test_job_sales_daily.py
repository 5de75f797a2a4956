from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pyspark.sql.types import StructType
from pyspark.testing import assertDataFrameEqual
from support.etl_lake import LocalLake

from etl.jobs.sales_daily import SALES_DAILY_SCHEMA, daily_sales
from etl.jobs.sales_etl import SALES_SILVER_SCHEMA

pytestmark = pytest.mark.spark

HEADER = "order_id,order_ts,store_id,customer_id,sku,quantity,unit_price,currency"
GOLD = [c for c in SALES_DAILY_SCHEMA.fieldNames() if c not in ("_ingested_at", "_run_id")]
GOLD_SCHEMA = StructType([f for f in SALES_DAILY_SCHEMA.fields if f.name in GOLD])


def part(day: str) -> str:
    return f"sales/order_date={day}/part-00000.snappy.parquet"


def test_daily_sales_sums_per_date_store_and_currency(spark):
    sales = spark.createDataFrame(
        [
            ("o1", date(2024, 1, 5), "s1", "EUR", 2, Decimal("20.00"), part("2024-01-05")),
            ("o2", date(2024, 1, 5), "s1", "EUR", 1, Decimal("5.50"), part("2024-01-05")),
            ("o3", date(2024, 1, 5), "s1", "USD", 1, Decimal("3.00"), part("2024-01-05")),
            ("o4", date(2024, 1, 6), "s2", "EUR", 4, Decimal("8.00"), part("2024-01-06")),
        ],
        "order_id string, order_date date, store_id string, currency string, quantity int, amount decimal(14,2), _source_key string",
    )
    expected = spark.createDataFrame(
        [
            (date(2024, 1, 5), "s1", "EUR", 2, 3, Decimal("25.50"), part("2024-01-05")),
            (date(2024, 1, 5), "s1", "USD", 1, 1, Decimal("3.00"), part("2024-01-05")),
            (date(2024, 1, 6), "s2", "EUR", 1, 4, Decimal("8.00"), part("2024-01-06")),
        ],
        GOLD_SCHEMA,
    )
    assertDataFrameEqual(daily_sales(sales), expected)


def test_after_sales_etl_only_the_touched_dates_are_recomputed(spark, tmp_path):
    lake = LocalLake(tmp_path)
    lake.put(
        "sales/a.csv",
        f"{HEADER}\no1,2024-01-05T10:00:00Z,s1,c,A,2,10.00,EUR\no2,2024-01-06T10:00:00Z,s1,c,A,1,1.00,EUR\n",
    )
    first = lake.upload_event("sales_etl", spark, "sales/a.csv")
    assert first.state == "SUCCEEDED"
    full = lake.run("sales_daily", spark, trigger_source="manual")
    assert (full.state, full.rows_written) == ("SUCCEEDED", 2)
    gold_before = lake.hashes(lake.gold)

    # o1 is restated onto 2024-01-07: 2024-01-05 empties, 2024-01-06 is untouched.
    lake.put("sales/b.csv", f"{HEADER}\no1,2024-01-07T10:00:00Z,s1,c,A,3,10.00,EUR\n")
    upstream = lake.upload_event("sales_etl", spark, "sales/b.csv")
    daily = lake.after_job("sales_daily", spark, upstream)

    assert (upstream.state, upstream.rows_written) == ("SUCCEEDED", 1)
    moved = lake.read(spark, "sales", SALES_SILVER_SCHEMA).select("order_id", "order_date", "_source_key")
    assertDataFrameEqual(
        moved,
        spark.createDataFrame(
            [("o1", date(2024, 1, 7), "sales/b.csv"), ("o2", date(2024, 1, 6), "sales/a.csv")], moved.schema
        ),
    )
    manifest = lake.json(lake.silver, f"_runs/sales_etl/{upstream.run_id}.json")
    assert manifest["partitions"] == [{"order_date": "2024-01-05"}, {"order_date": "2024-01-07"}]
    manifest_key = f"_runs/sales_etl/{upstream.run_id}.json"
    assert (daily.state, daily.source_keys, daily.rows_written) == ("SUCCEEDED", [manifest_key], 1)
    gold = lake.read(spark, "sales_daily", SALES_DAILY_SCHEMA, layer="gold").select(*GOLD)
    first_silver = f"data_lake_dev.sales@{silver_snapshot(first)}"
    second_silver = f"data_lake_dev.sales@{silver_snapshot(upstream)}"
    expected = spark.createDataFrame(
        [
            (date(2024, 1, 6), "s1", "EUR", 1, 1, Decimal("1.00"), first_silver),  # not recomputed
            (date(2024, 1, 7), "s1", "EUR", 1, 3, Decimal("30.00"), second_silver),
        ],
        GOLD_SCHEMA,
    )
    assertDataFrameEqual(gold, expected)
    day6 = [k for k in gold_before if k.startswith("sales_daily/data/order_date=2024-01-06/")]
    assert day6 and all(lake.hashes(lake.gold).get(k) == gold_before[k] for k in day6)
    assert lake.table_partitions(spark, "sales_daily") == ["order_date=2024-01-06", "order_date=2024-01-07"]


def silver_snapshot(run) -> str:
    """The snapshot id a sales_etl run committed (`outputs`: `<database>.sales@<id>`)."""
    [output] = run.outputs
    return output.rsplit("@", 1)[1]


def test_a_missing_upstream_manifest_is_an_input_error(spark, tmp_path):
    lake = LocalLake(tmp_path)
    summary = lake.run(
        "sales_daily", spark, trigger_source="job_succeeded", upstream_job="sales_etl", upstream_run_id="jr_nope"
    )
    assert (summary.state, summary.error_kind) == ("FAILED", "input")
    assert "no run manifest" in summary.error and "jr_nope" in summary.error


def test_upstream_name_from_the_glue_event_maps_to_the_job_key():
    from etl.base import InputError
    from etl.jobs.sales_daily import upstream_job_key

    assert upstream_job_key("data-lake-prod-sales_etl", "sales_etl") == "sales_etl"
    assert upstream_job_key("sales_etl", "sales_etl") == "sales_etl"
    assert upstream_job_key(None, "sales_etl") == "sales_etl"
    with pytest.raises(InputError, match="started after 'data-lake-dev-product_catalog'"):
        upstream_job_key("data-lake-dev-product_catalog", "sales_etl")
