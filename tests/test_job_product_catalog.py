from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from pyspark.sql.types import LongType, StringType, StructField, StructType
from pyspark.testing import assertDataFrameEqual
from support.etl_lake import LocalLake

from etl.base import InputError
from etl.jobs.product_catalog import (
    PRODUCT_JSON_TYPES,
    PRODUCTS_BRONZE_SCHEMA,
    PRODUCTS_SILVER_SCHEMA,
    latest_products,
    products_quality_rules,
)
from etl.quality import run_gate
from etl.readers import check_json_records, json_layout

pytestmark = pytest.mark.spark

RAW_SCHEMA = StructType(
    [*PRODUCTS_BRONZE_SCHEMA.fields, StructField("_source_key", StringType()), StructField("_row_seq", LongType())]
)
BUSINESS = [c for c in PRODUCTS_SILVER_SCHEMA.fieldNames() if c != "_ingested_at"]
SILVER_NO_INGEST = StructType([f for f in PRODUCTS_SILVER_SCHEMA.fields if f.name != "_ingested_at"])


def product(sku, name="Mug", price="4.50", active=True, attributes=None, currency="EUR", category="kitchen"):
    return {
        "sku": sku,
        "name": name,
        "category": category,
        "price": float(price) if price else None,
        "currency": currency,
        "active": active,
        "attributes": attributes or {},
    }


def test_latest_products_keeps_the_last_occurrence_of_the_latest_object(spark):
    raw = spark.createDataFrame(
        [
            ("A", "old", None, Decimal("1.00"), "EUR", True, {}, "products/1.json", 0),
            ("A", "newer in file", None, Decimal("1.00"), "EUR", True, {}, "products/1.json", 1),
            ("B", "from 1", None, Decimal("1.00"), "EUR", True, {}, "products/1.json", 2),
            ("B", "from 2", None, Decimal("2.00"), "EUR", False, {"c": "red"}, "products/2.json", 0),
            (None, "no sku", None, None, None, None, None, "products/2.json", 1),
            (None, "no sku either", None, None, None, None, None, "products/2.json", 2),
        ],
        RAW_SCHEMA,
    )
    expected = spark.createDataFrame(
        [
            ("A", "newer in file", None, Decimal("1.00"), "EUR", True, {}, "products/1.json"),
            ("B", "from 2", None, Decimal("2.00"), "EUR", False, {"c": "red"}, "products/2.json"),
            (None, "no sku", None, None, None, None, None, "products/2.json"),
            (None, "no sku either", None, None, None, None, None, "products/2.json"),
        ],
        StructType(RAW_SCHEMA.fields[:-1]),
    )
    assertDataFrameEqual(latest_products(raw), expected)


def test_product_rules_drop_bad_products(spark):
    rows = spark.createDataFrame(
        [
            ("A-1", "Mug", "kitchen", Decimal("1.00"), "EUR", True, {}, "k", None, "r"),
            ("bad sku!", "Mug", "kitchen", Decimal("1.00"), "EUR", True, {}, "k", None, "r"),
            ("B", None, None, Decimal("-1.00"), "EURO", None, {}, "k", None, "r"),
        ],
        PRODUCTS_SILVER_SCHEMA,
    )
    gate = run_gate(rows.cache(), products_quality_rules(), suite_name="t", max_drop_ratio=1.0)
    expected = spark.createDataFrame(
        [
            ("bad sku!", ["sku_format"]),
            ("B", ["name_not_null", "price_not_negative", "currency_iso_4217", "active_not_null"]),
        ],
        "sku string, _failed_rules array<string>",
    )
    assertDataFrameEqual(gate.quarantined.select("sku", "_failed_rules"), expected)
    assert gate.warnings == {"category_not_null": 1}


def test_lines_and_array_files_land_as_one_row_per_sku_and_rerun_is_a_no_op(spark, tmp_path):
    lake = LocalLake(tmp_path)
    lines = "\n".join(
        json.dumps(p)
        for p in [product("A", name="Mug v1"), product("A", name="Mug v2", attributes={"colour": "red", "size": 2})]
    )
    lake.put("products/1.json", lines + "\n")
    lake.put("products/2.json", json.dumps([product("B", price="10", active=False, category=None)], indent=2))
    bronze_before = lake.hashes(lake.bronze)

    first = lake.run("product_catalog", spark, trigger_source="schedule", max_drop_ratio="0.5")

    assert (first.state, first.rows_read, first.rows_written, first.warnings) == (
        "SUCCEEDED",
        3,
        2,
        {"category_not_null": 1},
    )
    expected = spark.createDataFrame(
        [
            (
                "A",
                "Mug v2",
                "kitchen",
                Decimal("4.50"),
                "EUR",
                True,
                {"colour": "red", "size": "2"},
                "products/1.json",
                first.run_id,
            ),
            ("B", "Mug", None, Decimal("10.00"), "EUR", False, {}, "products/2.json", first.run_id),
        ],
        SILVER_NO_INGEST,
    )
    assertDataFrameEqual(lake.read(spark, "products", PRODUCTS_SILVER_SCHEMA).select(*BUSINESS), expected)
    assert lake.table_partitions(spark, "products") == [""]  # an unpartitioned table

    silver_before = lake.hashes(lake.silver)
    again = lake.upload_event("product_catalog", spark, "products/1.json")
    assert (again.state, again.rows_written) == ("SUCCEEDED", 0)
    assert {k: v for k, v in lake.hashes(lake.silver).items() if k.startswith("products/")} == {
        k: v for k, v in silver_before.items() if k.startswith("products/")
    }
    assert lake.hashes(lake.bronze) == bronze_before


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (b'{"sku": "A", "name": "x"\n', "invalid JSON at line 1"),
        (b"[1, 2]", "element 0 is int, expected a JSON object"),
        (b'{"sku": 123, "name": "x"}\n', "line 1: field 'sku' is 123, expected a string"),
        (b'{"sku": "A", "price": "cheap"}\n', "field 'price' is \"cheap\", expected a number"),
        (b'{"sku": "A", "active": 1}\n', "field 'active' is 1, expected true/false"),
        (b"sku,name\nA,x\n", "not JSON (starts with b's'"),
        (b"  \n ", "the file is empty"),
    ],
)
def test_json_that_is_not_a_product_list_is_an_input_error(payload, problem):
    with pytest.raises(InputError) as raised:
        layout = json_layout(io.BytesIO(payload), "products/x.json")
        check_json_records(io.BytesIO(payload), "products/x.json", layout, PRODUCT_JSON_TYPES)
    assert str(raised.value).startswith("products/x.json: ") and problem in str(raised.value)


def test_a_bad_product_file_fails_the_run_and_is_rejected(spark, tmp_path):
    lake = LocalLake(tmp_path)
    lake.put("products/x.json", b'[{"sku": "A"}, {"sku": ')
    summary = lake.upload_event("product_catalog", spark, "products/x.json")
    assert (summary.state, summary.error_kind) == ("FAILED", "input")
    assert summary.error.startswith("products/x.json: invalid JSON at line 1")
    assert lake.files(lake.silver) == [
        f"_ledger/product_catalog/{summary.run_id}.rejected.json",
        f"_quarantine/products/{summary.run_id}/rejected.json",
    ]
