"""The quality gate: each rule kind, GE/Spark agreement, and the warn/drop/fail actions."""

from __future__ import annotations

import datetime as dt
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from pyspark.sql import Row
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from etl import quality as q
from etl.quality import Action

pytestmark = pytest.mark.spark

ORDERS_SCHEMA = "order_id int, sku string, quantity int, currency string"


def rows(tuples, failed_rules: list[str] | None = None) -> list[Row]:
    """Expected rows in ORDERS_SCHEMA (+ `_failed_rules` for quarantine), without a Spark job."""
    names = ["order_id", "sku", "quantity", "currency"]
    if failed_rules is not None:
        names.append("_failed_rules")
        tuples = [(*t, failed_rules) for t in tuples]
    return [Row(**dict(zip(names, t, strict=True))) for t in tuples]


def cached(df):
    # Cached, as the gate's caller must; one partition keeps each of GE's jobs to one task.
    return df.coalesce(1).cache()


def orders(spark, data):
    return cached(spark.createDataFrame(data, ORDERS_SCHEMA))


def flagged(df, rules) -> dict[str, int]:
    """Rows whose predicate is not True (False *or null*), for the rules that flag any."""
    # Through columns, as the gate does: Spark refuses window functions (unique) in aggregates.
    judged = df.withColumns({rule.name: rule.row_predicate() for rule in rules})
    [counts] = judged.agg(
        *[F.sum(F.when(F.col(rule.name), 0).otherwise(1)).alias(rule.name) for rule in rules]
    ).collect()
    return {name: n for name, n in counts.asDict().items() if n}


def gate(df, rules, **kwargs):
    return q.run_gate(df, rules, suite_name="test_suite", **kwargs)


@pytest.fixture(params=["spark_engine", "small_frames"], autouse=True)
def ge_engine(request, monkeypatch):
    """Every test of this module runs twice: once with GE's Spark engine for every frame, once
    with small frames on its pandas engine wherever it judges alike, as jobs run them
    (tests/test_quality_engines.py compares the two engines directly)."""
    if request.param == "spark_engine":
        monkeypatch.setattr(q, "SMALL_FRAME_ROWS", -1)


# --- rules as values ------------------------------------------------------------------------


def test_constructors_default_names_actions_and_kinds():
    rules = [
        q.column_exists("order_id"),
        q.row_count_at_least(),
        q.not_null("order_id"),
        q.unique("order_id"),
        q.unique(["order_id", "sku"]),
        q.between("quantity", 1),
        q.in_set("currency", ["USD"]),
        q.matches_regex("sku", "^S"),
        q.max_length("sku", 8),
    ]
    assert [(r.name, r.action, r.kind, r.columns) for r in rules] == [
        ("order_id_exists", Action.FAIL, "column_exists", ("order_id",)),
        ("row_count_at_least_1", Action.FAIL, "row_count", ()),
        ("order_id_not_null", Action.DROP, "not_null", ("order_id",)),
        ("order_id_unique", Action.DROP, "unique", ("order_id",)),
        ("order_id_sku_unique", Action.DROP, "unique", ("order_id", "sku")),
        ("quantity_between", Action.DROP, "between", ("quantity",)),
        ("currency_in_set", Action.DROP, "in_set", ("currency",)),
        ("sku_matches_regex", Action.DROP, "regex", ("sku",)),
        ("sku_max_length_8", Action.DROP, "max_length", ("sku",)),
    ]
    assert [r.name for r in q.columns_present(["a", "b"], action=Action.WARN)] == [
        "a_exists",
        "b_exists",
    ]
    assert q.not_null("x", action="fail", name="custom").action is Action.FAIL


def test_rules_are_immutable_hashable_values():
    values = ["USD"]
    rule = q.in_set("currency", values)
    values.append("EUR")
    assert list(rule.params["values"]) == ["USD"]
    with pytest.raises(TypeError):
        rule.params["values"] = ()  # type: ignore[index]
    assert len({rule, q.in_set("currency", ["USD"])}) == 1


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: q.between("quantity"), "give min_value, max_value or both"),
        (lambda: q.between("quantity", 5, 1), "min_value 5 > max_value 1"),
        (lambda: q.row_count_at_least(action=Action.DROP), "cannot drop rows"),
        (lambda: q.Rule("r", Action.WARN, "nonsense", ("a",), {}), "unknown kind 'nonsense'"),
        (lambda: q.unique([]), "at least one column"),
    ],
)
def test_bad_rules_are_refused_with_a_readable_message(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_duplicate_rule_names_are_refused(spark):
    df = orders(spark, [(1, "S-1", 1, "USD")])
    with pytest.raises(ValueError, match="duplicate rule name 'order_id_not_null'"):
        gate(df, [q.not_null("order_id"), q.not_null("order_id", action=Action.WARN)])


def test_to_expectation_is_the_matching_ge_expectation():
    import great_expectations.expectations as gxe

    exp = q.between("quantity", 1, 10, strict_max=True).to_expectation()
    assert isinstance(exp, gxe.ExpectColumnValuesToBeBetween)
    assert (exp.column, exp.min_value, exp.max_value, exp.strict_max) == ("quantity", 1, 10, True)
    assert exp.meta == {"rule": "quantity_between", "action": "drop"}
    compound = q.unique(["order_id", "sku"]).to_expectation()
    assert isinstance(compound, gxe.ExpectCompoundColumnsToBeUnique)
    assert compound.column_list == ["order_id", "sku"]


# --- every constructor catches what breaks it, passes clean data, and GE agrees with Spark ---

# (rule, rows that pass it, rows that break it). Mixed in one frame and gated with `drop`: GE's
# count must equal the breaking rows, and the predicate must route exactly them to quarantine.
CASES = {
    "not_null": (
        q.not_null("sku"),
        [(1, "S-1", 1, "USD"), (2, "", 1, "USD")],
        [(3, None, 1, "USD"), (4, None, 2, "USD")],
    ),
    "unique": (
        # Every copy of a duplicated key breaks it (GE semantics); nulls are never duplicates.
        q.unique("order_id"),
        [(1, "S", 1, "USD"), (2, "S", 1, "USD"), (None, "S", 1, "USD"), (None, "S", 2, "USD")],
        [(3, "S", 1, "USD"), (3, "S", 1, "USD"), (3, "T", 2, "USD")],
    ),
    "unique_compound": (
        # A key with a null part is skipped, as a null is in the single-column rule.
        q.unique(["order_id", "sku"]),
        [(1, "A", 1, "USD"), (1, "B", 1, "USD"), (1, None, 1, "USD"), (1, None, 1, "USD")],
        [(2, "A", 1, "USD"), (2, "A", 2, "USD")],
    ),
    "between": (
        q.between("quantity", 1, 10),
        [(1, "S", 1, "USD"), (2, "S", 10, "USD"), (3, "S", None, "USD")],
        [(4, "S", 0, "USD"), (5, "S", 11, "USD")],
    ),
    "between_strict": (
        q.between("quantity", 0, 10, strict_min=True, strict_max=True),
        [(1, "S", 1, "USD"), (2, "S", 9, "USD")],
        [(3, "S", 0, "USD"), (4, "S", 10, "USD")],
    ),
    "between_max_only": (
        q.between("quantity", max_value=3),
        [(1, "S", -5, "USD"), (2, "S", 3, "USD")],
        [(3, "S", 4, "USD")],
    ),
    "in_set": (
        q.in_set("currency", ["USD", "EUR"]),
        [(1, "S", 1, "USD"), (2, "S", 1, "EUR"), (3, "S", 1, None)],
        [(4, "S", 1, "usd"), (5, "S", 1, "GBP")],
    ),
    "regex": (
        q.matches_regex("sku", r"^SKU-\d+$"),
        [(1, "SKU-1", 1, "USD"), (2, "SKU-42", 1, "USD"), (3, None, 1, "USD")],
        [(4, "SKU-x", 1, "USD"), (5, "sku-1", 1, "USD")],
    ),
    "regex_unanchored_searches": (
        # rlike finds the pattern anywhere, exactly as GE's Spark engine does.
        q.matches_regex("sku", r"\d"),
        [(1, "a1b", 1, "USD"), (2, "9", 1, "USD")],
        [(3, "abc", 1, "USD")],
    ),
    "max_length": (
        q.max_length("currency", 3),
        [(1, "S", 1, "USD"), (2, "S", 1, ""), (3, "S", 1, None)],
        [(4, "S", 1, "EURO")],
    ),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_rule_catches_breaking_rows_and_passes_the_rest(spark, case):
    rule, good, bad = CASES[case]
    result = gate(orders(spark, good + bad), [rule], max_drop_ratio=1.0)

    assert result.failed_rules == {rule.name: len(bad)}  # GE's count
    assertDataFrameEqual(result.passed, rows(good))  # the predicate's split
    assertDataFrameEqual(result.quarantined, rows(bad, failed_rules=[rule.name]))
    assert (result.status, result.rows_passed, result.rows_quarantined) == (
        "passed",
        len(good),
        len(bad),
    )


def test_clean_data_passes_every_rule(spark):
    # Case names are unique, the rules' default names are not (three `between` cases).
    rules = [replace(rule, name=case) for case, (rule, _, _) in CASES.items()]
    clean = orders(spark, [(1, "SKU-1", 1, "USD"), (2, "SKU-2", 3, "EUR"), (3, "SKU-3", None, None)])
    result = gate(clean, rules)
    assert (result.status, result.failed_rules, result.rows_quarantined) == ("passed", {}, 0)
    assert result.validation["statistics"]["successful_expectations"] == len(rules)
    assert result.passed is clean


def test_ge_and_predicates_agree_on_one_frame_with_nulls_everywhere(spark):
    """All row kinds in one GE call over data where nulls, duplicates and bad values mix."""
    df = orders(
        spark,
        [
            (1, "SKU-1", 5, "USD"),
            (1, None, None, None),
            (2, "bad", -1, "GBP"),
            (None, "SKU-22222", 50, "EUR"),
            (None, "SKU-3", 0, "USD"),
            (3, "SKU-1", 7, "usd"),
        ],
    )
    rules = [
        q.not_null("order_id", action=Action.WARN),
        q.not_null("sku", action=Action.WARN),
        q.unique("order_id", action=Action.WARN),
        q.unique(["sku"], action=Action.WARN, name="sku_unique"),
        q.unique(["order_id", "sku"], action=Action.WARN),
        q.between("quantity", 0, 10, strict_min=True, action=Action.WARN),
        q.in_set("currency", ["USD", "EUR"], action=Action.WARN),
        q.matches_regex("sku", r"^SKU-\d{1,3}$", action=Action.WARN),
        q.max_length("sku", 5, action=Action.WARN),
    ]
    result = gate(df, rules)
    expected = {
        "order_id_not_null": 2,
        "sku_not_null": 1,
        "order_id_unique": 2,
        "sku_unique": 2,
        "quantity_between": 3,
        "currency_in_set": 2,
        "sku_matches_regex": 2,
        "sku_max_length_5": 1,
    }
    assert result.failed_rules == expected
    assert flagged(df, rules) == expected
    assert (result.status, result.warnings, result.rows_passed) == ("passed", expected, 6)


# --- the actions ----------------------------------------------------------------------------


def test_drop_splits_rows_and_lists_every_broken_rule(spark):
    df = orders(
        spark,
        [
            (1, "SKU-1", 2, "USD"),
            (2, "SKU-2", 0, "USD"),
            (3, "SKU-3", -1, "GBP"),
            (4, None, 1, "EUR"),
            (5, "SKU-5", 3, "EUR"),
        ],
    )
    rules = [
        q.column_exists("order_id"),
        q.not_null("sku"),
        q.between("quantity", 0, strict_min=True, name="quantity_positive"),
        q.in_set("currency", ["USD", "EUR"], name="currency_valid"),
    ]
    result = gate(df, rules, max_drop_ratio=0.9)

    assert (result.status, result.reason, result.escalated) == ("passed", None, False)
    expected_passed = spark.createDataFrame([(1, "SKU-1", 2, "USD"), (5, "SKU-5", 3, "EUR")], ORDERS_SCHEMA)
    assertDataFrameEqual(result.passed, expected_passed)
    expected_quarantine = spark.createDataFrame(
        [
            (2, "SKU-2", 0, "USD", ["quantity_positive"]),
            (3, "SKU-3", -1, "GBP", ["quantity_positive", "currency_valid"]),
            (4, None, 1, "EUR", ["sku_not_null"]),
        ],
        ORDERS_SCHEMA + ", _failed_rules array<string>",
    )
    assertDataFrameEqual(result.quarantined, expected_quarantine)
    assert (result.rows_in, result.rows_passed, result.rows_quarantined) == (5, 2, 3)
    assert result.failed_rules == {"sku_not_null": 1, "quantity_positive": 2, "currency_valid": 1}
    assert result.warnings == {}


@pytest.mark.parametrize("limit", [5, 4, 3], ids=["collected", "collected_by_ge_counts", "persisted"])
def test_rows_broken_by_several_rules_are_counted_once_and_collected_only_up_to_the_limit(spark, monkeypatch, limit):
    """A row breaking two rules counts once. When the input (5 rows) or the sum of GE's counts
    of the broken rules (2 + 2) is at most MAX_QUARANTINE_ROWS_COLLECTED, the gate counts the
    quarantined rows by collecting them in Spark's JSON (what the quarantine writes); else it
    keeps them in memory and counts them there."""
    monkeypatch.setattr(q, "MAX_QUARANTINE_ROWS_COLLECTED", limit)
    df = orders(spark, [(1, "SKU-1", 2, "USD"), (2, None, 0, "USD"), (3, "SKU-3", -1, "GBP"), (4, None, 1, "EUR"), (5, "SKU-5", 3, "EUR")])  # fmt: skip
    rules = [q.not_null("sku"), q.between("quantity", 0, strict_min=True, name="quantity_positive")]
    result = gate(df, rules, max_drop_ratio=0.9)

    assert (result.rows_in, result.rows_quarantined, result.rows_passed) == (5, 3, 2)
    expected = [
        {"order_id": 2, "quantity": 0, "currency": "USD", "_failed_rules": ["sku_not_null", "quantity_positive"]},
        {"order_id": 3, "sku": "SKU-3", "quantity": -1, "currency": "GBP", "_failed_rules": ["quantity_positive"]},
        {"order_id": 4, "quantity": 1, "currency": "EUR", "_failed_rules": ["sku_not_null"]},
    ]
    if limit >= 4:
        assert result.quarantined_lines is not None and not result.quarantined.is_cached
        assert sorted(map(json.loads, result.quarantined_lines), key=lambda r: r["order_id"]) == expected
    else:
        assert result.quarantined_lines is None and result.quarantined.is_cached
    assert sorted(map(json.loads, result.quarantined.toJSON().collect()), key=lambda r: r["order_id"]) == expected
    result.quarantined.unpersist()


@pytest.mark.parametrize("limit", [100_000, 0], ids=["keys_looked_up", "window"])
def test_unique_drop_tags_the_same_rows_whichever_way_duplicates_are_found(spark, monkeypatch, limit):
    monkeypatch.setattr(q, "MAX_DUPLICATED_ROWS_LOOKED_UP", limit)
    t1, t2 = dt.datetime(2024, 1, 1, 9), dt.datetime(2024, 1, 1, 10)
    schema = "store string, ts timestamp, qty double"
    df = cached(
        spark.createDataFrame(
            [
                ("A", t1, 1.0),
                ("A", t1, 2.0),
                ("A", t2, 3.0),
                ("B", t1, 4.0),
                (None, t1, 5.0),
                (None, t1, 6.0),
                ("C", t1, 0.5),
                ("D", t1, 0.5),
            ],
            schema,
        )
    )
    rules = [q.unique(["store", "ts"]), q.unique("qty")]
    result = gate(df, rules, max_drop_ratio=1.0)
    assert result.failed_rules == {"store_ts_unique": 2, "qty_unique": 2}
    assertDataFrameEqual(
        result.passed,
        spark.createDataFrame([("A", t2, 3.0), ("B", t1, 4.0), (None, t1, 5.0), (None, t1, 6.0)], schema),
    )
    assertDataFrameEqual(
        result.quarantined,
        spark.createDataFrame(
            [
                ("A", t1, 1.0, ["store_ts_unique"]),
                ("A", t1, 2.0, ["store_ts_unique"]),
                ("C", t1, 0.5, ["qty_unique"]),
                ("D", t1, 0.5, ["qty_unique"]),
            ],
            schema + ", _failed_rules array<string>",
        ),
    )


def test_repeated_keys_are_matched_exactly_whatever_characters_they_hold(spark):
    """The looked-up keys cross to the JVM as one JSON document: quotes, backslashes, line
    breaks, NUL and non-ASCII must come back as the same strings (and nothing else matches)."""
    odd = ['a"b', "back\\slash", "line\nbreak", "nul\x00", "snow\u2603", "K1"]
    rows = [(key, n) for n, key in enumerate(odd + odd[:-1])] + [("K10", 99), ("k1", 98), ("a'b", 97)]
    df = cached(spark.createDataFrame(rows, "key string, n int"))
    result = gate(df, [q.unique("key")], max_drop_ratio=1.0)
    assert result.failed_rules == {"key_unique": 10}
    assert sorted(r.key for r in result.passed.collect()) == sorted(["K1", "K10", "k1", "a'b"])
    assert sorted(r.key for r in result.quarantined.collect()) == sorted(odd[:-1] * 2)


@pytest.mark.parametrize("key_type", ["string", "int", "date"])
def test_a_unique_drop_splits_on_the_keys_ges_validation_saw_without_a_window_of_its_own(spark, monkeypatch, key_type):
    """GE's Spark engine records the repeated keys as it counts them (etl.gx_sources), its
    pandas engine validated the collected rows: either way the split finds no keys itself."""

    def refuse(*args, **kwargs):
        raise AssertionError("the keys were seen by GE's validation")

    monkeypatch.setattr(q, "_repeated_keys", refuse)
    pandas_sees_keys = key_type == "string"  # its collected frame holds the keys' strings
    if q.SMALL_FRAME_ROWS > 0 and not pandas_sees_keys:
        monkeypatch.setattr(q, "SMALL_FRAME_ROWS", -1)
    # Rows 0..7 hold keys 0..3 twice each, rows 10..13 keys of their own.
    k = "CAST(IF(id < 8, id % 4, id) AS INT)"
    key = {"string": f"'k' || {k}", "int": k, "date": f"date_add(DATE'2024-01-01', {k})"}[key_type]
    df = cached(spark.range(8).union(spark.range(10, 14)).selectExpr(f"{key} AS key", "id AS n"))
    result = gate(df, [q.unique("key")], max_drop_ratio=1.0)
    assert result.failed_rules == {"key_unique": 8}
    assert sorted(r.n for r in result.passed.collect()) == [10, 11, 12, 13]
    assert sorted(r.n for r in result.quarantined.collect()) == list(range(8))


def test_fail_stops_everything_and_names_each_rule_and_count(spark):
    df = orders(spark, [(1, "S", 1, "USD"), (None, "S", 0, "USD"), (None, None, 1, "USD")])
    rules = [
        q.not_null("order_id", action=Action.FAIL),
        q.not_null("sku", action=Action.FAIL),
        q.between("quantity", 1),  # drop: counted, but nothing is split when the gate fails
    ]
    result = gate(df, rules, max_drop_ratio=1.0)
    assert result.status == "failed"
    assert result.reason == (
        "quality gate failed: rule 'order_id_not_null' (fail) broken by 2 of 3 rows; "
        "rule 'sku_not_null' (fail) broken by 1 of 3 rows"
    )
    assert (result.passed, result.quarantined, result.escalated) == (None, None, False)
    assert (result.rows_in, result.rows_passed, result.rows_quarantined) == (3, 0, 3)
    assert result.failed_rules == {
        "order_id_not_null": 2,
        "sku_not_null": 1,
        "quantity_between": 1,
    }
    assert result.validation["success"] is False


def test_warn_records_but_keeps_every_row(spark):
    df = orders(spark, [(1, "S", 1, "USD"), (2, "S", 1, "JPY")])
    rules = [q.in_set("currency", ["USD"], action=Action.WARN), q.not_null("sku")]
    result = gate(df, rules)
    assert (result.status, result.quarantined, result.rows_quarantined) == ("passed", None, 0)
    assert result.passed is df
    assert result.warnings == result.failed_rules == {"currency_in_set": 1}


# --- escalation -----------------------------------------------------------------------------


def _twenty_rows_with_bad(spark, bad: int):
    return orders(spark, [(i, "S", -1 if i < bad else 1, "USD") for i in range(20)])


def test_drop_ratio_exactly_at_threshold_passes(spark):
    result = gate(_twenty_rows_with_bad(spark, 1), [q.between("quantity", 0)], max_drop_ratio=0.05)
    assert (result.status, result.escalated, result.rows_quarantined) == ("passed", False, 1)


def test_drop_ratio_above_threshold_escalates_to_fail(spark):
    result = gate(_twenty_rows_with_bad(spark, 2), [q.between("quantity", 0)], max_drop_ratio=0.05)
    assert (result.status, result.escalated, result.passed, result.quarantined) == (
        "failed",
        True,
        None,
        None,
    )
    assert result.reason == (
        "quality gate failed: 2 of 20 rows (10.0%) dropped, above the 5.0% threshold; rules: quantity_between=2"
    )
    assert (result.rows_passed, result.rows_quarantined) == (0, 20)


def test_threshold_comparison_has_no_float_rounding_surprise(spark):
    # 0.29 * 100 is 28.999... in floating point; 29 of 100 is still *at* a 29% threshold.
    df = cached(spark.range(100).select(F.col("id").cast("int").alias("n")))
    result = q.run_gate(df, [q.between("n", 29)], suite_name="s", max_drop_ratio=0.29)
    assert (result.status, result.rows_quarantined) == ("passed", 29)


# --- missing columns and empty input --------------------------------------------------------


def test_missing_required_column_fails_before_row_rules_touch_it(spark):
    df = cached(spark.createDataFrame([(1, "S")], "order_id int, sku string"))
    rules = [q.column_exists("quantity"), q.between("quantity", 1), q.not_null("sku")]
    result = gate(df, rules)
    assert result.status == "failed"
    assert result.reason == ("quality gate failed: required column 'quantity' is missing (rule 'quantity_exists')")
    assert result.failed_rules == {"quantity_exists": 1}
    evaluated = [r["expectation_config"]["meta"]["rule"] for r in result.validation["results"]]
    assert sorted(evaluated) == ["quantity_exists", "sku_not_null"]


def test_missing_column_without_an_exists_rule_still_fails(spark):
    df = cached(spark.createDataFrame([(1,)], "order_id int"))
    result = gate(df, [q.not_null("sku", action=Action.WARN)])
    assert result.status == "failed"
    assert result.reason == ("quality gate failed: column 'sku' is missing, needed by rule 'sku_not_null'")


def test_empty_input_fails_the_row_count_rule(spark):
    df = orders(spark, [])
    result = gate(df, [q.row_count_at_least(), q.not_null("order_id")])
    assert result.status == "failed"
    assert result.reason == ("quality gate failed: rule 'row_count_at_least_1' (fail) expects at least 1 rows, got 0")
    assert (result.rows_in, result.failed_rules) == (0, {"row_count_at_least_1": 0})


def test_empty_input_without_row_count_rule_passes(spark):
    result = gate(orders(spark, []), [q.not_null("order_id")])
    assert (result.status, result.rows_in, result.rows_passed) == ("passed", 0, 0)


# --- the record of the validation -----------------------------------------------------------


def test_validation_is_json_and_names_suite_and_rules(spark):
    df = orders(spark, [(1, "S", 1, "USD"), (2, None, 1, "USD")])
    result = q.run_gate(df, [q.not_null("sku", action="warn")], suite_name="sales_silver")
    stored = json.loads(json.dumps(result.validation))
    assert stored["suite_name"] == "sales_silver"
    assert stored["statistics"]["unsuccessful_expectations"] == 1
    [entry] = stored["results"]
    assert entry["expectation_config"]["meta"] == {"rule": "sku_not_null", "action": "warn"}
    assert entry["result"]["unexpected_count"] == 1
    # No row values leave the cluster: GE is asked for counts only.
    assert entry["result"]["partial_unexpected_list"] == []


def test_concurrent_gates_each_judge_their_own_frame(spark):
    # GE's Spark data source is shared by the process; its active batch must not leak across.
    one_null = orders(spark, [(1, None, 1, "USD"), (2, "S", 1, "USD")])
    three_nulls = orders(spark, [(1, None, 1, "USD"), (2, None, 1, "USD"), (3, None, 1, "USD")])
    rules = [q.not_null("sku", action=Action.WARN)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda df: gate(df, rules), [one_null, three_nulls]))
    assert [(r.rows_in, r.warnings) for r in results] == [
        (2, {"sku_not_null": 1}),
        (3, {"sku_not_null": 3}),
    ]


def test_rule_that_cannot_be_evaluated_fails_the_gate(spark):
    df = orders(spark, [(1, "S", 1, "USD")])
    result = gate(df, [q.matches_regex("sku", "(unclosed", action=Action.WARN)])
    assert result.status == "failed"
    assert result.reason.startswith("quality gate failed: rule 'sku_matches_regex' could not be evaluated: ")


def test_between_on_dates(spark):
    df = cached(spark.createDataFrame([(dt.date(2024, 1, 1),), (dt.date(2023, 12, 31),), (None,)], "order_date date"))
    rule = q.between("order_date", dt.date(2024, 1, 1), action=Action.WARN)
    result = gate(df, [rule])
    assert result.failed_rules == {"order_date_between": 1}
    json.dumps(result.validation)  # dates in the stored result stay serializable
    assert flagged(df, [rule]) == {"order_date_between": 1}


@pytest.mark.parametrize(
    ("now", "bound"),
    [
        # Rounded up to the next whole hour, then a day ahead: the bound changes once an hour.
        (dt.datetime(2024, 1, 1, 10, 20, 30, tzinfo=dt.UTC), dt.datetime(2024, 1, 2, 11, 0)),
        (dt.datetime(2024, 1, 1, 10, 59, 59, 999999, tzinfo=dt.UTC), dt.datetime(2024, 1, 2, 11, 0)),
        # A whole hour is its own bound: the tolerance never drops below the day.
        (dt.datetime(2024, 1, 1, 10, 0, tzinfo=dt.UTC), dt.datetime(2024, 1, 2, 10, 0)),
        (dt.datetime(2024, 1, 1, 23, 30, tzinfo=dt.UTC), dt.datetime(2024, 1, 3, 0, 0)),
        # Naive in UTC, whatever zone `now` came in.
        (dt.datetime(2024, 1, 1, 12, 20, tzinfo=dt.timezone(dt.timedelta(hours=2))), dt.datetime(2024, 1, 2, 11, 0)),
        (dt.datetime(2024, 1, 1, 10, 20), dt.datetime(2024, 1, 2, 11, 0)),
    ],
)
def test_the_latest_plausible_time_is_a_day_ahead_rounded_up_to_the_hour(now, bound):
    assert q.latest_plausible(now) == bound
    assert q.latest_plausible(now).tzinfo is None


def test_the_not_in_future_rules_use_the_rounded_bound():
    from etl.jobs.inventory_sync import inventory_quality_rules
    from etl.jobs.sales_etl import sales_quality_rules

    now = dt.datetime(2024, 1, 1, 10, 20, tzinfo=dt.UTC)
    rules = {r.name: r for r in [*sales_quality_rules(now), *inventory_quality_rules(now)]}
    for name in ("order_ts_not_in_future", "snapshot_ts_not_in_future"):
        assert rules[name].params["max_value"] == dt.datetime(2024, 1, 2, 11, 0), name


def test_rule_names_reach_quarantined_rows_exactly_whatever_their_characters(spark):
    """The split tags rows through Spark SQL: a name with quotes, a backslash or a backtick is a
    literal there, never SQL."""
    names = ["sku's `present`", "quantity \\ positive", "it''s; DROP"]
    df = orders(spark, [(1, "SKU-1", 2, "USD"), (2, None, 0, "USD"), (3, "SKU-3", -1, "GBP")])
    rules = [
        q.not_null("sku", name=names[0]),
        q.between("quantity", 0, strict_min=True, name=names[1]),
        q.in_set("currency", ["USD", "EUR"], name=names[2]),
    ]
    result = gate(df, rules, max_drop_ratio=1.0)
    tagged = {row["order_id"]: row["_failed_rules"] for row in result.quarantined.collect()}
    assert tagged == {2: [names[0], names[1]], 3: [names[1], names[2]]}
    assert [row["order_id"] for row in result.passed.collect()] == [1]
