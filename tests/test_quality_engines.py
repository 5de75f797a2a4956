"""Great Expectations' two engines in the quality gate: small frames go to its pandas engine
only where it gives the Spark engine's result (etl.quality), and then it gives exactly that."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from pyspark.sql import functions as F

from etl import quality as q
from etl.quality import Action

pytestmark = pytest.mark.spark

SPARK_ENGINE, PANDAS_ENGINE = "quality_gate", "quality_gate_small_frames"  # GE data sources


def engine_of(validation: dict) -> str:
    return validation["meta"]["active_batch_definition"]["datasource_name"]


def cached(df):
    return df.coalesce(1).cache()


ALIKE_SCHEMA = "s string, i int, d decimal(12,2), day date, ts timestamp, flag boolean"
ALIKE_ROWS = [
    ("a", 1, Decimal("0.00"), dt.date(2024, 1, 1), dt.datetime(2024, 1, 1, 0, 0), True),
    ("a", 2, Decimal("9.99"), dt.date(2024, 1, 2), dt.datetime(2024, 1, 1, 23, 59, 59, 999999), False),
    ("é😀x", None, Decimal("10.00"), None, dt.datetime(2024, 1, 2), None),
    (None, 10, Decimal("-0.01"), dt.date(2023, 12, 31), None, True),
    ("", 10, None, dt.date(2024, 1, 2), dt.datetime(2024, 1, 1), False),
    ("EUR", -3, Decimal("10.01"), dt.date(2024, 1, 1), dt.datetime(2023, 12, 31, 23, 59), None),
]
ALIKE_RULES = [
    q.column_exists("s"),
    q.column_exists("absent", action=Action.WARN),
    q.row_count_at_least(3),
    *[q.not_null(c, action=Action.WARN) for c in ("s", "i", "d", "day", "ts", "flag")],
    *[q.unique(c, action=Action.WARN) for c in ("s", "i", "d", "day", "ts")],
    q.unique(["s", "i"], action=Action.WARN),
    q.between("i", 1, 10, action=Action.WARN, name="i_closed"),
    q.between("i", 1, 10, strict_min=True, strict_max=True, action=Action.WARN, name="i_open"),
    q.between("d", Decimal("0"), 10, action=Action.WARN, name="d_between"),
    q.between("day", dt.date(2024, 1, 1), action=Action.WARN, name="day_from"),
    q.between("ts", max_value=dt.datetime(2024, 1, 1, 23, 59, 59, 999999), action=Action.WARN, name="ts_until"),
    q.between("ts", dt.datetime(2024, 1, 1), strict_min=True, action=Action.WARN, name="ts_after"),
    q.in_set("s", ["a", "EUR"], action=Action.WARN),
    q.max_length("s", 2, action=Action.WARN),
]


def validated(df, rules, engine_rows: int, monkeypatch) -> dict:
    monkeypatch.setattr(q, "SMALL_FRAME_ROWS", engine_rows)
    return q._validate(df, rules, "alike")[0]


def test_both_engines_give_ge_the_same_result_for_every_rule_they_share(spark, monkeypatch):
    df = cached(spark.createDataFrame(ALIKE_ROWS, ALIKE_SCHEMA))
    on_spark = validated(df, ALIKE_RULES, -1, monkeypatch)
    on_pandas = validated(df, ALIKE_RULES, 1_000, monkeypatch)
    assert (engine_of(on_spark), engine_of(on_pandas)) == (SPARK_ENGINE, PANDAS_ENGINE)

    assert verdicts(on_pandas) == verdicts(on_spark)
    # The frame breaks most rules: the comparison is not one of two empty verdicts.
    assert sum(not ok for ok, _, _ in verdicts(on_spark).values()) >= 15


def verdicts(validation: dict) -> dict:
    return {
        r["expectation_config"]["meta"]["rule"]: (r["success"], r["result"], r["exception_info"]["raised_exception"])
        for r in validation["results"]
    }


TS_RULES = [
    q.between("ts", max_value=dt.datetime(2024, 1, 1, 23, 59, 59, 999999), action=Action.WARN, name="ts_until"),
    q.between("ts", dt.datetime(2024, 1, 1), strict_min=True, action=Action.WARN, name="ts_after"),
]


@pytest.mark.parametrize(
    "outlier, collected_as",
    [
        # GE's pandas `between` compares a nanosecond column at once (Spark collects microseconds).
        (dt.datetime(2024, 1, 1, 0, 0, 0, 1), "datetime64[ns]"),
        # Beyond what nanoseconds hold: kept in microseconds, compared value by value.
        (dt.datetime(3000, 1, 1), "datetime64[us]"),
        (dt.datetime(1000, 1, 1), "datetime64[us]"),
    ],
)
def test_timestamps_are_judged_alike_in_or_out_of_the_nanosecond_range(spark, monkeypatch, outlier, collected_as):
    rows = [(r[4],) for r in ALIKE_ROWS] + [(outlier,)]
    df = cached(spark.createDataFrame(rows, "ts timestamp"))
    monkeypatch.setattr(q, "SMALL_FRAME_ROWS", -1)
    on_spark = q._validate(df, TS_RULES, "ts")[0]
    monkeypatch.setattr(q, "SMALL_FRAME_ROWS", 1_000)
    on_pandas, seen = q._validate(df, TS_RULES, "ts")
    assert engine_of(on_pandas) == PANDAS_ENGINE
    assert str(seen.collected["ts"].dtype) == collected_as
    assert verdicts(on_pandas) == verdicts(on_spark)
    assert not any(ok for ok, _, _ in verdicts(on_spark).values())  # both rules broke: not two empty verdicts


@pytest.mark.parametrize(
    "schema, rule, engine",
    [
        ("s string", q.not_null("s"), PANDAS_ENGINE),
        ("s string", q.matches_regex("s", "^a"), SPARK_ENGINE),  # Java regex is not Python's re
        ("x double", q.not_null("x"), SPARK_ENGINE),  # pandas counts NaN as null, Spark does not
        ("x bigint", q.between("x", 1), SPARK_ENGINE),  # int64 with a null becomes float64
        ("d decimal(5,2)", q.between("d", 0.5), SPARK_ENGINE),  # Spark compares in double
        ("d decimal(5,2)", q.between("d", Decimal("0.5")), PANDAS_ENGINE),
        ("ts timestamp", q.between("ts", dt.datetime(2024, 1, 1, tzinfo=dt.UTC)), SPARK_ENGINE),
        ("ts timestamp", q.between("ts", dt.datetime(2024, 1, 1)), PANDAS_ENGINE),
        ("day date", q.between("day", dt.datetime(2024, 1, 1)), SPARK_ENGINE),
        ("i int", q.in_set("i", [1, 2]), SPARK_ENGINE),
        ("s string", q.row_count_at_least(1), SPARK_ENGINE),  # table-level only: nothing to collect
    ],
)
def test_small_frames_go_to_the_pandas_engine_only_where_it_judges_alike(spark, schema, rule, engine):
    df = cached(spark.createDataFrame([(None,)], schema))
    assert engine_of(q._validate(df, [rule], "choice")[0]) == engine


def test_an_empty_frame_goes_to_the_spark_engine(spark):
    # Empty, the engines' results differ in form (0 unexpected values against none).
    df = cached(spark.createDataFrame([], "s string"))
    assert engine_of(q._validate(df, [q.not_null("s")], "empty")[0]) == SPARK_ENGINE


def test_frames_above_the_small_frame_limit_go_to_the_spark_engine(spark, monkeypatch):
    df = cached(spark.createDataFrame([("S",), (None,), ("S",)], "sku string"))
    rules = [q.not_null("sku", action=Action.WARN)]
    monkeypatch.setattr(q, "SMALL_FRAME_ROWS", 2)
    assert engine_of(q.run_gate(df, rules, suite_name="limit").validation) == SPARK_ENGINE
    monkeypatch.setattr(q, "SMALL_FRAME_ROWS", 3)
    assert engine_of(q.run_gate(df, rules, suite_name="limit").validation) == PANDAS_ENGINE


def test_the_callers_row_estimate_chooses_the_engine_but_never_the_verdict(spark, monkeypatch):
    # A job passes the rows it read as `expected_rows`, so the gate need not count first.
    df = cached(spark.createDataFrame([("S",), (None,), ("S",)], "sku string"))
    rules = [q.not_null("sku", action=Action.WARN)]
    monkeypatch.setattr(q, "SMALL_FRAME_ROWS", 2)
    # Expected small, proves bigger: the Spark engine after all.
    under = q.run_gate(df, rules, suite_name="under", expected_rows=1)
    assert engine_of(under.validation) == SPARK_ENGINE
    monkeypatch.setattr(q, "SMALL_FRAME_ROWS", 3)
    # Expected big: the Spark engine, trusted without a count.
    over = q.run_gate(df, rules, suite_name="over", expected_rows=4)
    assert engine_of(over.validation) == SPARK_ENGINE
    exact = q.run_gate(df, rules, suite_name="exact", expected_rows=3)
    assert engine_of(exact.validation) == PANDAS_ENGINE
    for result in (under, over, exact):
        assert (result.rows_in, result.rows_passed, result.warnings) == (3, 3, {"sku_not_null": 1})


@pytest.mark.parametrize("engine_rows", [1_000, -1], ids=["pandas", "spark"])
def test_the_gate_reports_the_range_of_string_columns_it_collected(spark, monkeypatch, engine_rows):
    monkeypatch.setattr(q, "SMALL_FRAME_ROWS", engine_rows)
    df = cached(spark.createDataFrame(ALIKE_ROWS, ALIKE_SCHEMA).withColumn("none", F.lit(None).cast("string")))
    # The rows with s == "é😀x" and "EUR" are dropped: the range still covers them (bounds of the
    # rows read, so of those passed).
    rules = [q.max_length("s", 2), q.not_null("i", action=Action.WARN), q.not_null("none", action=Action.WARN)]
    gate = q.run_gate(df, rules, suite_name="ranges", max_drop_ratio=1.0)
    assert gate.ok and gate.rows_passed == len(ALIKE_ROWS) - 2
    if engine_rows < 0:  # the Spark engine collects nothing
        assert [gate.string_range(c) for c in ("s", "none")] == [None, None]
        return
    # Python's order is Spark's: "é😀x" sorts after "a" and "EUR" by code point, as by UTF-8 bytes.
    spark_order = df.where("s IS NOT NULL").agg(F.min("s"), F.max("s")).first()
    assert gate.string_range("s") == tuple(spark_order) == ("", "é😀x")
    assert gate.string_range("none") == (None, None)  # every value null
    assert gate.string_range("i") is None  # not a string column
    assert gate.string_range("d") is None  # not collected: no rule names it
