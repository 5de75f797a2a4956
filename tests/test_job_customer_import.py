from __future__ import annotations

from datetime import date

import pytest
from pyspark.sql.types import LongType, StringType, StructField, StructType
from pyspark.testing import assertDataFrameEqual
from support.etl_lake import LocalLake

from etl.jobs.customer_import import (
    CUSTOMERS_BRONZE_SCHEMA,
    CUSTOMERS_SILVER_SCHEMA,
    latest_customers,
    type_customers,
)

pytestmark = pytest.mark.spark

HEADER = "customer_id,full_name,email,country_code,signup_date"
RAW_SCHEMA = StructType(
    [*CUSTOMERS_BRONZE_SCHEMA.fields, StructField("_source_key", StringType()), StructField("_row_seq", LongType())]
)
SILVER_NO_INGEST = StructType([f for f in CUSTOMERS_SILVER_SCHEMA.fields if f.name != "_ingested_at"])


def test_type_and_latest_customers(spark):
    raw = spark.createDataFrame(
        [
            ("c1", "Ann", "ANN@x.io", "de", "2024-01-01", "customers/1.csv", 0),
            ("c1", "Ann B", "ann@y.io", "DE", "2024-01-01", "customers/1.csv", 1),
            ("c2", " ", "bob@x.io", "fr", "yesterday", "customers/1.csv", 2),
            ("c2", "Bob", "bob@z.io", "FR", "2024-02-01", "customers/2.csv", 0),
        ],
        RAW_SCHEMA,
    )
    expected = spark.createDataFrame(
        [
            ("c1", "Ann B", "ann@y.io", "DE", date(2024, 1, 1), "customers/1.csv"),
            ("c2", "Bob", "bob@z.io", "FR", date(2024, 2, 1), "customers/2.csv"),
        ],
        "customer_id string, full_name string, email string, country_code string, signup_date date, _source_key string",
    )
    assertDataFrameEqual(latest_customers(type_customers(raw)), expected)


def test_daily_import_quarantines_bad_customers_and_then_has_nothing_pending(spark, tmp_path):
    lake = LocalLake(tmp_path)
    lake.put(
        "customers/2024-01-05.csv",
        f"{HEADER}\nc1,Ann,ann@x.io,DE,2024-01-01\nc2,Bob,not-an-email,FR,2024-01-02\n"
        "c3,Cy,cy@x.io,XX,2024-01-03\nc4,Di,di@x.io,US,someday\nc5,,ed@x.io,gb,2024-01-04\n",
    )
    bronze_before = lake.hashes(lake.bronze)

    first = lake.run("customer_import", spark, trigger_source="schedule", max_drop_ratio="0.8")
    second = lake.run("customer_import", spark, trigger_source="schedule")

    assert (first.state, first.rows_written, first.rows_quarantined) == ("SUCCEEDED", 2, 3)
    assert (first.rules_failed, first.warnings) == (
        {"email_plausible": 1, "country_code_iso_3166": 1, "signup_date_parses": 1},
        {"full_name_not_null": 1},
    )
    assert second.state == "NO_INPUT"
    key, run = "customers/2024-01-05.csv", first.run_id
    expected = spark.createDataFrame(
        [
            ("c1", "Ann", "ann@x.io", "DE", date(2024, 1, 1), key, run),
            ("c5", None, "ed@x.io", "GB", date(2024, 1, 4), key, run),
        ],
        SILVER_NO_INGEST,
    )
    assertDataFrameEqual(
        lake.read(spark, "customers", CUSTOMERS_SILVER_SCHEMA).select(*SILVER_NO_INGEST.fieldNames()), expected
    )
    quarantined = spark.read.json(str(tmp_path / lake.silver / f"_quarantine/customers/{run}/rows.jsonl"))
    assertDataFrameEqual(
        quarantined.select("customer_id", "_failed_rules", "_source_key"),
        spark.createDataFrame(
            [
                ("c2", ["email_plausible"], key),
                ("c3", ["country_code_iso_3166"], key),
                ("c4", ["signup_date_parses"], key),
            ],
            "customer_id string, _failed_rules array<string>, _source_key string",
        ),
    )
    assert lake.hashes(lake.bronze) == bronze_before
