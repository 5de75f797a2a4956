from __future__ import annotations

import gzip
import json
import time
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType
from pyspark.testing import assertDataFrameEqual
from support.etl_lake import LocalLake

from etl.jobs.sales_etl import (
    SALES_BRONZE_COLUMNS,
    SALES_BRONZE_SCHEMA,
    SALES_SILVER_SCHEMA,
    sales_quality_rules,
    type_sales,
)
from etl.quality import run_gate

pytestmark = pytest.mark.spark

HEADER = ",".join(SALES_BRONZE_COLUMNS)
GOOD_CSV = f"""{HEADER}
o1,2024-01-05T10:00:00Z,s1,c1,A,2,9.99,EUR
o2,2024-01-05 11:00:00,s1,,B,1,5.00,usd
o3,2024-01-06T09:00:00Z,s2,c2,A,3,1.50,EUR
o4,2024-01-06T09:30:00Z,s2,c3,C,0,1.00,EUR
"""
KEY = "sales/2024-01-05.csv"
RAW_SCHEMA = StructType([*SALES_BRONZE_SCHEMA.fields, StructField("_source_key", StringType())])
BUSINESS = [c for c in SALES_SILVER_SCHEMA.fieldNames() if c != "_ingested_at"]


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def sale(order_id, order_ts, store, customer, sku, qty, price, currency, amount, day, key, run_id):
    return (
        order_id,
        ts(order_ts),
        store,
        customer,
        sku,
        qty,
        Decimal(price),
        currency,
        Decimal(amount),
        date.fromisoformat(day),
        key,
        run_id,
    )


def silver_rows(spark, rows):
    schema_without_ingest = SALES_SILVER_SCHEMA.fieldNames()
    fields = [f for f in SALES_SILVER_SCHEMA.fields if f.name != "_ingested_at"]
    assert len(fields) == len(schema_without_ingest) - 1
    return spark.createDataFrame(rows, StructType(fields))


def test_type_sales_casts_and_nulls_what_does_not_parse(spark):
    raw = spark.createDataFrame(
        [
            ("o1", "2024-01-05T10:00:00Z", " s1 ", "c1", "A", "2", "9.99", "eur", "k"),
            ("o2", "not a time", "s1", "", "B", "1.5", "abc", "USD", "k"),
            ("o3", "2024-01-05T23:30:00-02:00", "s1", "c", "B", "1", "1", "USD", "k"),
            ("o4", None, "   ", None, "  C ", " 3 ", "2", " usd ", "k"),  # blanks and padding
        ],
        RAW_SCHEMA,
    )
    expected = spark.createDataFrame(
        [
            (
                "o1",
                ts("2024-01-05T10:00:00"),
                "s1",
                "c1",
                "A",
                2,
                Decimal("9.99"),
                "EUR",
                "k",
                Decimal("19.98"),
                date(2024, 1, 5),
            ),
            ("o2", None, "s1", None, "B", None, None, "USD", "k", None, None),
            (
                "o3",
                ts("2024-01-06T01:30:00"),
                "s1",
                "c",
                "B",
                1,
                Decimal("1.00"),
                "USD",
                "k",
                Decimal("1.00"),
                date(2024, 1, 6),
            ),
            ("o4", None, None, None, "C", 3, Decimal("2.00"), "USD", "k", Decimal("6.00"), None),
        ],
        "order_id string, order_ts timestamp, store_id string, customer_id string, sku string, quantity int, "
        "unit_price decimal(12,2), currency string, _source_key string, amount decimal(14,2), order_date date",
    )
    assertDataFrameEqual(type_sales(raw), expected)


def test_sales_rules_drop_each_kind_of_bad_row(spark):
    now = datetime(2024, 1, 10, tzinfo=UTC)
    typed = spark.createDataFrame(
        [
            sale("ok", "2024-01-05T10:00:00", "s1", "c1", "A", 1, "1.00", "EUR", "1.00", "2024-01-05", "k", "r"),
            sale("dup", "2024-01-05T10:00:00", "s1", "c1", "A", 1, "1.00", "EUR", "1.00", "2024-01-05", "k", "r"),
            sale("dup", "2024-01-05T10:00:00", "s1", "c1", "A", 1, "1.00", "EUR", "1.00", "2024-01-05", "k", "r"),
            sale("future", "2024-02-01T00:00:00", "s1", "c1", "A", 1, "1.00", "EUR", "1.00", "2024-02-01", "k", "r"),
            sale("zero", "2024-01-05T10:00:00", "s1", "c1", "A", 0, "1.00", "EUR", "0.00", "2024-01-05", "k", "r"),
            sale("xxx", "2024-01-05T10:00:00", "s1", "c1", "A", 1, "1.00", "XXX", "1.00", "2024-01-05", "k", "r"),
            sale("neg", "2024-01-05T10:00:00", "s1", None, None, 1, "-1.00", "EUR", "-1.00", "2024-01-05", "k", "r"),
        ],
        silver_rows(spark, []).schema,
    )
    gate = run_gate(typed.cache(), sales_quality_rules(now), suite_name="t", max_drop_ratio=1.0)
    assert gate.status == "passed"
    expected = spark.createDataFrame(
        [
            ("dup", ["order_id_unique"]),
            ("dup", ["order_id_unique"]),
            ("future", ["order_ts_not_in_future"]),
            ("zero", ["quantity_positive"]),
            ("xxx", ["currency_iso_4217"]),
            ("neg", ["sku_not_null", "unit_price_not_negative"]),
        ],
        "order_id string, _failed_rules array<string>",
    )
    assertDataFrameEqual(gate.quarantined.select("order_id", "_failed_rules"), expected)
    assert gate.warnings == {"customer_id_not_null": 1}


def test_upload_lands_in_silver_and_a_rerun_changes_no_byte(spark, tmp_path):
    lake = LocalLake(tmp_path)
    lake.put(KEY, GOOD_CSV)
    bronze_before = lake.hashes(lake.bronze)

    first = lake.upload_event("sales_etl", spark, KEY, max_drop_ratio="0.5")

    assert (first.state, first.error) == ("SUCCEEDED", None)
    assert (first.rows_read, first.rows_written, first.rows_quarantined) == (4, 3, 1)
    run = first.run_id
    expected = silver_rows(
        spark,
        [
            sale("o1", "2024-01-05T10:00:00", "s1", "c1", "A", 2, "9.99", "EUR", "19.98", "2024-01-05", KEY, run),
            sale("o2", "2024-01-05T11:00:00", "s1", None, "B", 1, "5.00", "USD", "5.00", "2024-01-05", KEY, run),
            sale("o3", "2024-01-06T09:00:00", "s2", "c2", "A", 3, "1.50", "EUR", "4.50", "2024-01-06", KEY, run),
        ],
    )
    assertDataFrameEqual(lake.read(spark, "sales", SALES_SILVER_SCHEMA).select(*BUSINESS), expected)
    assert lake.table_partitions(spark, "sales") == ["order_date=2024-01-05", "order_date=2024-01-06"]
    quarantined = [
        json.loads(line)
        for line in (tmp_path / lake.silver / f"_quarantine/sales/{run}/rows.jsonl").read_text().splitlines()
    ]
    assert [(r["order_id"], r["_failed_rules"], r["_source_key"]) for r in quarantined] == [
        ("o4", ["quantity_positive"], KEY)
    ]
    assert lake.json(lake.silver, f"_ledger/sales_etl/{run}.json")[0]["key"] == KEY
    manifest = lake.json(lake.silver, f"_runs/sales_etl/{run}.json")
    assert manifest["partitions"] == [{"order_date": "2024-01-05"}, {"order_date": "2024-01-06"}]

    silver_before = {k: v for k, v in lake.hashes(lake.silver).items() if k.startswith("sales/")}
    second = lake.upload_event("sales_etl", spark, KEY, max_drop_ratio="0.5")

    assert (second.state, second.rows_written) == ("SUCCEEDED", 0)
    assert {k: v for k, v in lake.hashes(lake.silver).items() if k.startswith("sales/")} == silver_before
    assert lake.hashes(lake.bronze) == bronze_before


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (gzip.compress(GOOD_CSV.encode()), "gzip-compressed"),
        (GOOD_CSV.encode().replace(b"s2", b"s\xff2"), "not UTF-8 text (invalid byte 0xff"),
        (b"", "empty"),
        (b"order_id;order_ts\n1;2\n", "CSV header is"),
    ],
)
def test_an_unreadable_file_fails_as_input_error_and_is_rejected(spark, tmp_path, payload, problem):
    lake = LocalLake(tmp_path)
    lake.put(KEY, payload)
    bronze_before = lake.hashes(lake.bronze)

    summary = lake.upload_event("sales_etl", spark, KEY)

    assert (summary.state, summary.error_kind) == ("FAILED", "input")
    assert KEY in summary.error and problem in summary.error and "\n" not in summary.error
    rejected = lake.json(lake.silver, f"_quarantine/sales/{summary.run_id}/rejected.json")
    assert (rejected["source_key"], rejected["reason"]) == (KEY, summary.error)
    ledger_key = f"_ledger/sales_etl/{summary.run_id}.rejected.json"
    assert lake.files(lake.silver) == [ledger_key, f"_quarantine/sales/{summary.run_id}/rejected.json"]
    [entry] = lake.json(lake.silver, ledger_key)
    assert (entry["key"], entry["outcome"], entry["reason"]) == (KEY, "rejected", summary.error)
    assert lake.hashes(lake.bronze) == bronze_before


def business_rows(lake, spark):
    df = lake.read(spark, "sales", SALES_SILVER_SCHEMA)
    return sorted(
        tuple(r)
        for r in df.select("order_id", "store_id", "customer_id", "sku", "quantity", "unit_price", "currency").collect()
    )


def test_columns_are_matched_by_header_name_in_any_order_and_extras_are_ignored(spark, tmp_path):
    reordered = ["currency", "sku", "order_id", "note", "unit_price", "quantity", "customer_id", "store_id", "order_ts"]
    lines = [",".join(reordered)]
    for row in GOOD_CSV.strip().splitlines()[1:]:
        values = dict(zip(SALES_BRONZE_COLUMNS, row.split(","), strict=True))
        values["note"] = "ignored"
        lines.append(",".join(values[c] for c in reordered))
    control, shuffled = LocalLake(tmp_path / "control"), LocalLake(tmp_path / "shuffled")
    control.put(KEY, GOOD_CSV)
    shuffled.put(KEY, "\n".join(lines) + "\n")

    assert control.upload_event("sales_etl", spark, KEY, max_drop_ratio="0.5").state == "SUCCEEDED"
    summary = shuffled.upload_event("sales_etl", spark, KEY, max_drop_ratio="0.5")

    assert summary.state == "SUCCEEDED", summary.error
    assert business_rows(shuffled, spark) == business_rows(control, spark)
    assert "note" not in shuffled.read(spark, "sales", SALES_SILVER_SCHEMA).columns


def test_a_header_missing_a_column_names_it(spark, tmp_path):
    lake = LocalLake(tmp_path)
    lake.put(KEY, GOOD_CSV.replace(",unit_price", ",price"))
    summary = lake.upload_event("sales_etl", spark, KEY, max_drop_ratio="0.5")
    assert (summary.state, summary.error_kind) == ("FAILED", "input")
    assert "lacks unit_price" in summary.error, summary.error


def test_quoted_fields_may_hold_commas_quotes_and_newlines(spark, tmp_path):
    lake = LocalLake(tmp_path)
    lake.put(
        KEY,
        f'{HEADER}\r\no1,2024-01-05T10:00:00Z,s1,"c1, line one\nline ""two""",A,2,9.99,EUR\r\n'
        "o2,2024-01-05T11:00:00Z,s1,c2,B,1,5.00,USD\r\n",
    )
    summary = lake.upload_event("sales_etl", spark, KEY, max_drop_ratio="0.5")
    assert summary.state == "SUCCEEDED", summary.error
    customers = {r.order_id: r.customer_id for r in lake.read(spark, "sales", SALES_SILVER_SCHEMA).collect()}
    assert customers == {"o1": 'c1, line one\nline "two"', "o2": "c2"}


def test_a_refused_file_in_a_scheduled_batch_does_not_block_the_others_or_later_runs(spark, tmp_path):
    lake = LocalLake(tmp_path)
    lake.put("sales/a.csv", GOOD_CSV)
    lake.put("sales/b.csv", gzip.compress(GOOD_CSV.encode()))
    bronze_before = lake.hashes(lake.bronze)

    first = lake.run("sales_etl", spark, trigger_source="schedule", max_drop_ratio="0.5")
    assert first.state == "SUCCEEDED", first.error
    assert first.source_keys == ["sales/a.csv"] and first.warnings["inputs_rejected"] == 1
    rejected = lake.json(lake.silver, f"_quarantine/sales/{first.run_id}/rejected.json")
    assert [r["source_key"] for r in rejected["refused"]] == ["sales/b.csv"]
    assert "gzip" in rejected["refused"][0]["reason"]

    lake.put("sales/c.csv", GOOD_CSV.replace("o1,", "o9,"))
    bronze_before["sales/c.csv"] = lake.hashes(lake.bronze)["sales/c.csv"]
    second = lake.run("sales_etl", spark, trigger_source="schedule", max_drop_ratio="0.5")
    assert (second.state, second.source_keys) == ("SUCCEEDED", ["sales/c.csv"])
    assert lake.run("sales_etl", spark, trigger_source="schedule", max_drop_ratio="0.5").state == "NO_INPUT"

    lake.put("sales/b.csv", GOOD_CSV.replace("o2,", "o8,"))  # fixed and re-uploaded: pending again
    bronze_before["sales/b.csv"] = lake.hashes(lake.bronze)["sales/b.csv"]
    assert lake.run("sales_etl", spark, trigger_source="schedule", max_drop_ratio="0.5").source_keys == ["sales/b.csv"]
    assert lake.hashes(lake.bronze) == bronze_before


def test_a_broken_feed_fails_the_gate_and_quarantines_the_whole_input(spark, tmp_path):
    lake = LocalLake(tmp_path)
    lake.put(
        KEY, f"{HEADER}\no1,2024-01-05T10:00:00Z,s1,c1,A,2,9.99,XXX\no2,2024-01-05T10:00:00Z,s1,c1,A,2,9.99,EUR\n"
    )  # 50% dropped

    summary = lake.upload_event("sales_etl", spark, KEY)

    assert (summary.state, summary.error_kind, summary.rows_quarantined) == ("FAILED", "data_quality", 2)
    assert "currency_iso_4217" in summary.error and "above the 5.0% threshold" in summary.error
    prefix = f"_quarantine/sales/{summary.run_id}/"
    assert lake.files(lake.silver) == [prefix + "rows.jsonl", prefix + "validation.json"]
    rows = spark.read.json(str(tmp_path / lake.silver / prefix / "rows.jsonl")).select("order_id", "_failed_rules")
    assertDataFrameEqual(
        rows,
        spark.createDataFrame(
            [("o1", ["currency_iso_4217"]), ("o2", [])], "order_id string, _failed_rules array<string>"
        ),
    )
    validation = lake.json(lake.silver, prefix + "validation.json")
    assert validation["reason"] == summary.error and validation["validation"]["success"] is False


@pytest.mark.parametrize(
    "csv",
    [GOOD_CSV, f"{HEADER}\no1,2024-01-05T10:00:00Z,s1,c1,A,2,9.99,XXX\no2,2024-01-05T10:00:00Z,s1,,A,2,9.99,EUR\n"],
    ids=["rows dropped", "input failed"],
)
def test_a_small_quarantine_is_written_as_the_spark_file_writer_writes_it(spark, tmp_path, monkeypatch, csv):
    """Few quarantined rows are encoded as Spark's JSON (etl.quality.json_lines) and written by the driver; the
    file must be what the Spark JSON writer (used above MAX_QUARANTINE_ROWS_COLLECTED) writes."""
    outputs = {}
    for label, limit in (("collected", 50_000), ("spark_write", 0)):
        monkeypatch.setattr("etl.quarantine.MAX_QUARANTINE_ROWS_COLLECTED", limit)
        lake = LocalLake(tmp_path / label)
        lake.put(KEY, csv)
        summary = lake.upload_event("sales_etl", spark, KEY)
        text = (tmp_path / label / lake.silver / f"_quarantine/sales/{summary.run_id}/rows.jsonl").read_text()
        assert text.endswith("\n") and summary.rows_quarantined == len(text.splitlines()) > 0
        outputs[label] = [json.loads(line) for line in text.splitlines()]
    lines = outputs
    for row in (*lines["collected"], *lines["spark_write"]):  # the run's own id and clock differ, nothing else may
        assert row.pop("_run_id") and row.pop("_ingested_at")
    assert lines["collected"] == lines["spark_write"]
    assert [list(r) for r in lines["collected"]] == [list(r) for r in lines["spark_write"]]  # key order too


def test_the_checkpointed_and_the_cached_typed_frame_give_the_same_run_and_are_both_freed(spark, tmp_path, monkeypatch):
    """Small inputs hold the typed frame as a local checkpoint, big ones in the columnar
    cache (etl.load.hold): same summary, same silver rows, same quarantine; nothing of the
    run stays persisted afterwards."""
    csv = GOOD_CSV + "o9,2024-01-05T10:00:00Z,s1,c1,A,-1,9.99,EUR\n"  # one row for quarantine
    results = {}
    for label, limit in (("checkpoint", 500_000), ("cache", 0)):
        monkeypatch.setattr("etl.load.MAX_CHECKPOINTED_ROWS", limit)
        persisted_before = set(spark.sparkContext._jsc.getPersistentRDDs().keySet())
        lake = LocalLake(tmp_path / label)
        lake.put(KEY, csv)
        summary = lake.upload_event("sales_etl", spark, KEY, max_drop_ratio="0.5")
        assert summary.state == "SUCCEEDED" and summary.rows_quarantined >= 1, summary
        assert set(spark.sparkContext._jsc.getPersistentRDDs().keySet()) <= persisted_before, label
        rows = lake.read(spark, "sales", SALES_SILVER_SCHEMA).drop("_run_id", "_ingested_at")
        quarantine = (tmp_path / label / lake.silver / f"_quarantine/sales/{summary.run_id}/rows.jsonl").read_text()
        results[label] = (
            summary.rows_read,
            summary.rows_written,
            summary.rows_quarantined,
            sorted(map(tuple, rows.collect())),
            [json.loads(line)["order_id"] for line in quarantine.splitlines()],
        )
    assert results["checkpoint"] == results["cache"]


def test_a_file_into_a_table_with_history_is_written_without_a_stats_job(spark, tmp_path, monkeypatch):
    # The gate read the keys (a small file): the write takes their bounds from it.
    import etl.tables.table as table_module

    lake = LocalLake(tmp_path)
    lake.put("sales/a.csv", f"{HEADER}\no1,2024-01-05T10:00:00Z,s1,c1,A,2,9.99,EUR\n")
    assert lake.upload_event("sales_etl", spark, "sales/a.csv").state == "SUCCEEDED"
    monkeypatch.setattr(table_module, "incoming_stats", lambda *_, **__: pytest.fail("a stats job ran"))
    lake.put(
        "sales/b.csv",
        f"{HEADER}\no2,2024-01-06T11:00:00Z,s1,c1,B,1,1.00,EUR\no1,2024-01-07T10:00:00Z,s1,c1,A,3,9.99,EUR\n",
    )
    second = lake.upload_event("sales_etl", spark, "sales/b.csv")
    assert (second.state, second.rows_written) == ("SUCCEEDED", 2)  # o2 new, o1 restated on another day
    manifest = lake.json(lake.silver, f"_runs/sales_etl/{second.run_id}.json")
    assert sorted(p["order_date"] for p in manifest["partitions"]) == ["2024-01-05", "2024-01-06", "2024-01-07"]
    days = lake.read(spark, "sales", SALES_SILVER_SCHEMA).select("order_id", "order_date")
    assertDataFrameEqual(days, spark.createDataFrame([("o1", date(2024, 1, 7)), ("o2", date(2024, 1, 6))], days.schema))


def test_schedule_processes_pending_files_once(spark, tmp_path):
    lake = LocalLake(tmp_path)
    lake.put("sales/a.csv", f"{HEADER}\no1,2024-01-05T10:00:00Z,s1,c1,A,2,9.99,EUR\n")
    lake.put("sales/b.csv", f"{HEADER}\no2,2024-01-05T11:00:00Z,s1,c1,B,1,1.00,EUR\n")
    lake.put("sales/notes.txt", "not an input")

    first = lake.run("sales_etl", spark, trigger_source="schedule", max_drop_ratio="0.5")
    second = lake.run("sales_etl", spark, trigger_source="schedule", max_drop_ratio="0.5")

    assert (first.state, first.source_keys, first.rows_written) == ("SUCCEEDED", ["sales/a.csv", "sales/b.csv"], 2)
    assert (second.state, second.source_keys) == ("NO_INPUT", [])
    sources = lake.read(spark, "sales", SALES_SILVER_SCHEMA).select("order_id", "_source_key")
    assertDataFrameEqual(sources, spark.createDataFrame([("o1", "sales/a.csv"), ("o2", "sales/b.csv")], sources.schema))

    lake.put("sales/b.csv", f"{HEADER}\no2,2024-01-05T11:00:00Z,s1,c1,B,4,1.00,EUR\n")  # re-uploaded, changed
    third = lake.run("sales_etl", spark, trigger_source="schedule", max_drop_ratio="0.5")
    assert (third.state, third.source_keys, third.rows_written) == ("SUCCEEDED", ["sales/b.csv"], 1)
    quantities = lake.read(spark, "sales", SALES_SILVER_SCHEMA).select("order_id", "quantity")
    assertDataFrameEqual(quantities, spark.createDataFrame([("o1", 2), ("o2", 4)], quantities.schema))


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"source_key": "products/a.json"}, "not an input of sales_etl"),
        ({"source_key": "sales/missing.csv"}, "no such object"),
        ({"source_key": "sales/../x.csv"}, "'..' segment"),
        ({"source_key": "sales/a.csv", "source_bucket": "other-bucket"}, "is not the bronze bucket"),
    ],
)
def test_an_event_for_a_foreign_object_is_refused(spark, tmp_path, overrides, problem):
    lake = LocalLake(tmp_path)
    lake.put("sales/a.csv", f"{HEADER}\n")
    summary = lake.run("sales_etl", spark, **{"trigger_source": "s3_event", **overrides})
    assert (summary.state, summary.error_kind) == ("FAILED", "input")
    assert problem in summary.error
    assert not lake.files(lake.silver, "sales/")


def test_every_row_keeps_the_exact_key_of_its_object_whether_read_alone_or_in_a_batch(spark, tmp_path):
    """One object read alone gets its key as a constant; objects read together get theirs from
    each row's file name, which Spark URL-encodes: both give the key as uploaded."""
    odd = ["sales/a b+c%41é.csv", "sales/x#1 ;=&.csv"]
    alone, batch = LocalLake(tmp_path / "alone"), LocalLake(tmp_path / "batch")
    for n, key in enumerate(odd):
        text = f"{HEADER}\no{n},2024-01-05T10:00:00Z,s1,c1,A,2,9.99,EUR\n"
        alone.put(key, text)
        batch.put(key, text)
    for key in odd:
        assert alone.upload_event("sales_etl", spark, key, max_drop_ratio="0.5").state == "SUCCEEDED"
    assert batch.run("sales_etl", spark, trigger_source="schedule", max_drop_ratio="0.5").source_keys == sorted(odd)
    for lake in (alone, batch):
        sources = lake.read(spark, "sales", SALES_SILVER_SCHEMA).select("order_id", "_source_key")
        assertDataFrameEqual(sources, spark.createDataFrame([("o0", odd[0]), ("o1", odd[1])], sources.schema))


class _Clock(datetime):
    """`datetime` whose `now` moves on a minute per call, within one hour (a rule's bound is
    rounded to the hour: etl.quality.latest_plausible)."""

    calls = 0

    @classmethod
    def now(cls, tz=None):
        cls.calls += 1
        return datetime(2026, 3, 2, 10, 0, tzinfo=UTC).replace(minute=cls.calls % 60).astimezone(tz)


@pytest.mark.parametrize("engine_rows", [0, None], ids=["ge_spark_engine", "ge_engine_by_size"])
def test_running_the_job_again_in_a_warm_session_compiles_no_new_code(spark, tmp_path, monkeypatch, engine_rows):
    """Each query a run makes must be the Java code Spark generated for the same query in the
    run before: a new class is compiled, then run interpreted until the JIT compiles it again,
    a large share of a warm run on a small file (bench/RESULTS.md). A value new in every run
    written into a query as a literal (the run's clock, a snapshot id), or GE's aggregates in
    another order, would each be a new class in every run."""
    if engine_rows is not None:
        monkeypatch.setattr("etl.quality.SMALL_FRAME_ROWS", engine_rows)
    monkeypatch.setattr("etl.job.datetime", _Clock)
    codegen = spark.sparkContext._jvm.org.apache.spark.metrics.source.CodegenMetrics.METRIC_COMPILATION_TIME()
    csv = GOOD_CSV + "o1,2024-01-07T10:00:00Z,s1,c1,A,1,2.00,EUR\n"  # o1 twice, o4 a bad quantity
    compiled = []
    for i in range(3):
        lake = LocalLake(tmp_path / f"run{i}")
        lake.put(KEY, csv)
        before = codegen.getCount()
        summary = lake.upload_event("sales_etl", spark, KEY, max_drop_ratio="0.9")
        compiled.append(codegen.getCount() - before)
        assert (summary.state, summary.rows_written, summary.rows_quarantined) == ("SUCCEEDED", 2, 3), summary
    assert compiled[1:] == [0, 0], compiled
    # The counter sees a class compiled: a query with a literal no query had before.
    before = codegen.getCount()
    spark.range(1).select(F.col("id") + F.lit(time.time_ns())).collect()
    assert codegen.getCount() > before


def test_a_warm_session_keeps_the_code_of_the_pipeline_it_runs_again(spark, tmp_path, monkeypatch):
    """sales_etl and then sales_daily on one lake, as an engine or `lake watch` runs them,
    again and again: from the third time (the second restates the orders: a merge), neither
    compiles a class. Spark keeps the classes it generates in a cache of a set size, in
    segments that evict on their own; too small a cache for the pipeline evicts classes that
    the next run compiles again (etl.session, `spark.sql.codegen.cache.maxEntries`)."""
    monkeypatch.setattr("etl.job.datetime", _Clock)
    codegen = spark.sparkContext._jvm.org.apache.spark.metrics.source.CodegenMetrics.METRIC_COMPILATION_TIME()
    lake = LocalLake(tmp_path)
    compiled = []
    for i in range(4):
        # The same day's orders each time, so that sales_daily recomputes the same date: a
        # date is a literal in its partition filter (a class per date, kept for that date).
        key = f"sales/2024-01-05-{i}.csv"
        lake.put(key, GOOD_CSV)
        before = codegen.getCount()
        silver = lake.upload_event("sales_etl", spark, key, max_drop_ratio="0.9")
        between = codegen.getCount()
        gold = lake.after_job("sales_daily", spark, silver)
        compiled.append((between - before, codegen.getCount() - between))
        assert (silver.state, gold.state) == ("SUCCEEDED", "SUCCEEDED"), (silver, gold)
    assert compiled[2:] == [(0, 0), (0, 0)], compiled
