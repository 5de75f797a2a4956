"""The quality gate's data sources (etl.gx_sources): GE's own results, without the zero-value
unexpected-value metrics, on its Spark engine and on its pandas engine."""

from __future__ import annotations

from contextlib import contextmanager, nullcontext

import great_expectations as gx
import pytest
from great_expectations.execution_engine import PandasExecutionEngine, SparkDFExecutionEngine
from great_expectations.validator.v1_validator import Validator as V1Validator
from pyspark.sql import functions as F

from etl import gx_sources
from etl import quality as q
from etl.quality import Action
from tests.test_quality_engines import ALIKE_ROWS, ALIKE_RULES, ALIKE_SCHEMA, cached

pytestmark = pytest.mark.spark

# Every rule kind, broken by ALIKE_ROWS: the regex rule and a compound key besides ALIKE_RULES.
RULES = [
    *ALIKE_RULES,
    q.matches_regex("s", "^[a-z]$", action=Action.WARN),
    q.unique(["day", "flag"], action=Action.WARN),
]
ENGINES = {"spark": SparkDFExecutionEngine, "pandas": PandasExecutionEngine}


@pytest.fixture(scope="module")
def sources():
    """{engine: (GE's stock source, the gate's)}, in one ephemeral context of their own."""
    context = gx.get_context(mode="ephemeral")
    factories = context.data_sources
    return {
        "spark": (
            factories.add_spark(name="stock_spark", persist=False),
            getattr(factories, f"add_{gx_sources.SOURCE_TYPES['spark']}")(name="gate_spark", persist=False),
        ),
        "pandas": (
            factories.add_pandas(name="stock_pandas"),
            getattr(factories, f"add_{gx_sources.SOURCE_TYPES['pandas']}")(name="gate_pandas"),
        ),
    }


def frame(spark, engine: str):
    df = cached(spark.createDataFrame(ALIKE_ROWS, ALIKE_SCHEMA))
    return df if engine == "spark" else df.toPandas()


def rules_of(engine: str) -> list[q.Rule]:
    # The pandas engine runs what the gate sends it: no regex (Python's `re` is not Java's).
    return RULES if engine == "spark" else [r for r in RULES if r.kind != "regex"]


def validate(source, data, rules, result_format: dict) -> dict:
    suite = gx.ExpectationSuite(name="s", expectations=[rule.to_expectation() for rule in rules])
    definition = source.add_dataframe_asset(name=f"a{len(source.assets)}").add_batch_definition_whole_dataframe("w")
    result = definition.get_batch(batch_parameters={"dataframe": data}).validate(suite, result_format=result_format)
    results = result.to_json_dict()["results"]
    for r in results:  # names the source and asset, which differ by construction
        r["expectation_config"]["kwargs"].pop("batch_id")
    return {r["expectation_config"]["meta"]["rule"]: r for r in results}


def recording_metrics(monkeypatch, engine_class) -> list[str]:
    """The names of the metrics `engine_class` is asked to compute, from now on."""
    names: list[str] = []
    resolve = engine_class.resolve_metrics

    def recording(self, metrics_to_resolve, metrics=None, runtime_configuration=None):
        metrics_to_resolve = list(metrics_to_resolve)
        names.extend(m.metric_name for m in metrics_to_resolve)
        return resolve(self, metrics_to_resolve, metrics, runtime_configuration)

    monkeypatch.setattr(engine_class, "resolve_metrics", recording)
    return names


@pytest.mark.parametrize("engine", ["spark", "pandas"])
@pytest.mark.parametrize("partial", [0, 2], ids=["no_values", "two_values"])
@pytest.mark.parametrize("recording", [None, 100, 1], ids=["not_recording", "recording", "recording_past_limit"])
def test_the_gate_sources_give_ge_stock_results_for_every_rule_kind(spark, sources, engine, partial, recording):
    data, rules = frame(spark, engine), rules_of(engine)
    result_format = {"result_format": "BASIC", "partial_unexpected_count": partial}
    stock = validate(sources[engine][0], data, rules, result_format)
    with nullcontext() if recording is None else gx_sources.recording_repeated_values(recording):
        ours = validate(sources[engine][1], data, rules, result_format)
    assert ours == stock
    broken = [name for name, r in stock.items() if not r["success"]]
    assert len(broken) >= 16, broken  # not a comparison of passing verdicts
    if partial:  # the values are still fetched when they are asked for
        assert ours["s_in_set"]["result"]["partial_unexpected_list"]


@pytest.mark.parametrize("engine", ["spark", "pandas"])
@pytest.mark.parametrize("partial", [0, 2], ids=["no_values", "two_values"])
def test_configurations_built_once_give_ge_stock_results(spark, sources, engine, partial):
    data, rules = frame(spark, engine), rules_of(engine)
    result_format = {"result_format": "BASIC", "partial_unexpected_count": partial}
    stock = validate(sources[engine][0], data, rules, result_format)
    with gx_sources.configurations_built_once():
        stock_once = validate(sources[engine][0], data, rules, result_format)
        ours_once = validate(sources[engine][1], data, rules, result_format)
    assert stock_once == stock
    assert ours_once == stock
    assert len([name for name, r in stock.items() if not r["success"]]) >= 16


def test_an_expectation_builds_its_configuration_once_inside_the_block_only():
    expectation = q.unique("s").to_expectation()
    assert expectation.configuration is not expectation.configuration  # GE's: built on every read
    with gx_sources.configurations_built_once():
        kept = expectation.configuration
        assert expectation.configuration is kept
        assert q.not_null("s").to_expectation().configuration is not kept
    assert expectation.configuration is not kept  # GE's own again
    assert expectation.configuration == kept


@pytest.mark.parametrize("engine", ["spark", "pandas"])
def test_zero_value_metrics_never_reach_the_engine(spark, sources, monkeypatch, engine):
    data, rules = frame(spark, engine), rules_of(engine)
    stock, ours = sources[engine]
    sent = recording_metrics(monkeypatch, ENGINES[engine])
    validate(stock, data, rules, q.RESULT_FORMAT)
    asked_by_stock = [name for name in sent if name.endswith(".unexpected_values")]
    sent.clear()
    validate(ours, data, rules, q.RESULT_FORMAT)
    assert len(asked_by_stock) >= 15  # one per column-map rule
    assert [name for name in sent if name.endswith(".unexpected_values")] == []
    assert "table.row_count" in sent  # everything else still goes to the engine


@pytest.mark.parametrize("engine", ["spark", "pandas"])
def test_the_gate_validates_through_the_gate_sources(spark, monkeypatch, engine):
    monkeypatch.setattr(q, "SMALL_FRAME_ROWS", -1 if engine == "spark" else 100)
    df = cached(spark.createDataFrame(ALIKE_ROWS, ALIKE_SCHEMA))
    validation, _ = q._validate(df, [q.not_null("s", action=Action.WARN)], "through")
    source = validation["meta"]["active_batch_definition"]["datasource_name"]
    assert source == {"spark": "quality_gate", "pandas": "quality_gate_small_frames"}[engine]
    assert q._batch_definitions[engine].data_asset.datasource.type == gx_sources.SOURCE_TYPES[engine]


def repeated_values(df, column: str) -> list[str]:
    """Values of `column` on more than one row, as strings, found by a `group by` (the engine
    keeps the rows GE's window flags)."""
    groups = df.where(F.col(column).isNotNull()).groupBy(column).count().where("count > 1")
    return sorted(row.value for row in groups.select(F.col(column).cast("string").alias("value")).collect())


def test_a_recording_keeps_the_values_unique_rules_find_repeated_up_to_its_limit(spark, sources):
    df = frame(spark, "spark")
    rules = [q.unique(c, action=Action.WARN) for c in ("s", "i", "d", "day", "ts")]
    with gx_sources.recording_repeated_values(limit=4) as found:
        results = validate(sources["spark"][1], df, [*rules, q.unique(["s", "i"], action=Action.WARN)], q.RESULT_FORMAT)
    assert {name: r["result"]["unexpected_count"] for name, r in results.items()} == {
        "s_unique": 2, "i_unique": 2, "d_unique": 0, "day_unique": 4, "ts_unique": 2, "s_i_unique": 0,
    }  # fmt: skip
    # One recorded list per one-column rule, each value once; the compound rule is GE's alone.
    assert {c: sorted(v) for c, v in found.by_column.items()} == {
        c: repeated_values(df, c) for c in ("s", "i", "d", "day", "ts")
    }
    assert [len(found.by_column[c]) for c in ("s", "i", "d", "day", "ts")] == [1, 1, 0, 2, 1]

    with gx_sources.recording_repeated_values(limit=3) as found:
        results = validate(sources["spark"][1], df, rules, q.RESULT_FORMAT)
    assert results["day_unique"]["result"]["unexpected_count"] == 4  # counted, past the limit
    assert "day" not in found.by_column and sorted(found.by_column["s"]) == ["a"]


def hashed_columns(monkeypatch) -> dict[str, int | None]:
    """Column -> what the Spark engine's search by hash answered (None: it left the column to
    GE's window), for every column searched by hash from now on."""
    answers: dict[str, int | None] = {}
    by_hash = gx_sources._repeated_by_hash

    def recording(domain, column, found):
        answers[column] = by_hash(domain, column, found)
        return answers[column]

    monkeypatch.setattr(gx_sources, "_repeated_by_hash", recording)
    return answers


@pytest.mark.parametrize("one_pass", [False, True], ids=["ge_order", "one_pass"])
def test_repeated_values_are_looked_for_by_hash_on_exact_key_types_only(spark, sources, monkeypatch, one_pass):
    df = cached(spark.createDataFrame([(1.0, "a"), (-0.0, "b"), (0.0, "a"), (None, None)], "x double, s string"))
    rules = [q.unique("x", action=Action.WARN), q.unique("s", action=Action.WARN)]
    stock = validate(sources["spark"][0], df, rules, q.RESULT_FORMAT)
    hashed = hashed_columns(monkeypatch)
    with gx_sources.recording_repeated_values(10) as found:
        with gx_sources.counting_rows_with_the_rules() if one_pass else nullcontext():
            ours = validate(sources["spark"][1], df, rules, q.RESULT_FORMAT)
    assert ours == stock
    # -0.0 and 0.0 repeat for Spark's grouping (GE's window) though their hashes differ: a
    # double column is left to the window.
    assert stock["x_unique"]["result"]["unexpected_count"] == 2
    assert hashed == {"s": 2}
    assert {c: sorted(v) for c, v in found.by_column.items()} == {"x": ["-0.0", "0.0"], "s": ["a"]}  # as flagged


def test_values_whose_hashes_collide_are_told_apart_by_their_values(spark, sources, monkeypatch):
    # A hash of one bit: every value collides with half the others. The count must still be
    # the rows whose value repeats, as GE's window counts them.
    df = cached(spark.createDataFrame([(v,) for v in ["a", "bb", "c", "dd", "a", "eee", None, None]], "s string"))
    stock = validate(sources["spark"][0], df, [q.unique("s", action=Action.WARN)], q.RESULT_FORMAT)
    hashed = hashed_columns(monkeypatch)
    monkeypatch.setattr(gx_sources, "_key_hash", lambda column: f"CAST(length(`{column}`) % 2 AS BIGINT)")
    with gx_sources.recording_repeated_values(10) as found:
        ours = validate(sources["spark"][1], df, [q.unique("s", action=Action.WARN)], q.RESULT_FORMAT)
    assert hashed == {"s": 2}
    assert ours == stock and stock["s_unique"]["result"]["unexpected_count"] == 2
    assert found.by_column == {"s": ["a"]}


@pytest.mark.parametrize("why", ["above_the_driver_bound", "without_pyarrow", "too_many_repeated_hashes"])
def test_repeated_values_are_found_by_ge_window_when_not_by_hash(spark, sources, monkeypatch, why):
    df = frame(spark, "spark")
    rules = [q.unique(c, action=Action.WARN) for c in ("s", "day")]
    with gx_sources.recording_repeated_values(4) as by_hash:
        expected = validate(sources["spark"][1], df, rules, q.RESULT_FORMAT)
    hashed = hashed_columns(monkeypatch)
    if why == "without_pyarrow":
        monkeypatch.setattr(gx_sources, "arrow_installed", lambda: False)
    elif why == "above_the_driver_bound":
        monkeypatch.setattr(gx_sources, "MAX_ROWS_HASHED_IN_DRIVER", len(ALIKE_ROWS) - 1)
    else:  # "s" repeats one value, "day" two
        monkeypatch.setattr(gx_sources, "MAX_REPEATED_HASHES_FILTERED", 1)
    with gx_sources.recording_repeated_values(4) as by_window:
        ours = validate(sources["spark"][1], df, rules, q.RESULT_FORMAT)
    assert hashed == ({"s": 2, "day": None} if why == "too_many_repeated_hashes" else {})
    assert ours == expected
    assert {c: sorted(v) for c, v in by_window.by_column.items()} == {
        c: sorted(v) for c, v in by_hash.by_column.items()
    }
    assert sorted(by_window.by_column["day"]) == ["2024-01-01", "2024-01-02"]


def test_outside_a_recording_ge_counts_unique_rules_itself(spark, sources, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("only a recording collects the flagged rows")

    monkeypatch.setattr(gx_sources.QualityGateSparkEngine, "_repeated_rows", refuse)
    results = validate(sources["spark"][1], frame(spark, "spark"), [q.unique("s", action=Action.WARN)], q.RESULT_FORMAT)
    assert results["s_unique"]["result"]["unexpected_count"] == 2


# --------------------------------------------------------------------------------------------
# One pass: the row count in the job that counts the rules


def bundles_run(monkeypatch) -> list[list[str]]:
    """The metric names of each non-empty bundle the Spark engine runs (one aggregate job per
    domain), from now on."""
    bundles: list[list[str]] = []
    resolve = gx_sources.QualityGateSparkEngine.resolve_metric_bundle

    def recording(self, metric_fn_bundle):
        metric_fn_bundle = list(metric_fn_bundle)
        if metric_fn_bundle:
            bundles.append(sorted(c.metric_configuration.metric_name for c in metric_fn_bundle))
        return resolve(self, metric_fn_bundle)

    monkeypatch.setattr(gx_sources.QualityGateSparkEngine, "resolve_metric_bundle", recording)
    return bundles


@pytest.mark.parametrize("partial", [0, 2], ids=["no_values", "two_values"])
@pytest.mark.parametrize("recording", [None, 100], ids=["not_recording", "recording"])
def test_in_one_pass_the_spark_source_gives_ge_stock_results(spark, sources, partial, recording):
    data = frame(spark, "spark")
    result_format = {"result_format": "BASIC", "partial_unexpected_count": partial}
    stock = validate(sources["spark"][0], data, RULES, result_format)
    with nullcontext() if recording is None else gx_sources.recording_repeated_values(recording):
        with gx_sources.counting_rows_with_the_rules() as one_pass:
            ours = validate(sources["spark"][1], data, RULES, result_format)
    assert ours == stock
    assert not one_pass.waiting
    assert len([name for name, r in stock.items() if not r["success"]]) >= 16


def test_one_pass_counts_the_rows_with_the_rules_in_one_job(spark, sources, monkeypatch):
    data = frame(spark, "spark")
    bundles = bundles_run(monkeypatch)
    validate(sources["spark"][1], data, RULES, q.RESULT_FORMAT)
    # GE's own order: the rows, the rules' counts, then the counts of rules whose condition
    # needs a map metric first (value lengths). Named by the metric each aggregate answers.
    row_count, rule_counts, *deeper = bundles
    assert row_count == ["table.row_count"] and len(rule_counts) >= 10 and deeper
    bundles.clear()
    with gx_sources.counting_rows_with_the_rules() as one_pass:
        validate(sources["spark"][1], data, RULES, q.RESULT_FORMAT)
    # Named by the partials the engine bundled itself, then as GE names them.
    first, *rest = bundles
    assert first == sorted(f"{name}.aggregate_fn" for name in [*row_count, *rule_counts])
    assert rest == deeper and not one_pass.waiting


def test_one_pass_without_rule_counts_still_counts_the_rows(spark, sources, monkeypatch):
    data = frame(spark, "spark")
    rules = [*q.columns_present(["s", "i"]), q.row_count_at_least(100)]
    stock = validate(sources["spark"][0], data, rules, q.RESULT_FORMAT)
    bundles = bundles_run(monkeypatch)
    with gx_sources.counting_rows_with_the_rules() as one_pass:
        ours = validate(sources["spark"][1], data, rules, q.RESULT_FORMAT)
    assert ours == stock and not one_pass.waiting
    assert bundles == [["table.row_count.aggregate_fn"]]  # at GE's last step
    assert ours["row_count_at_least_100"]["result"]["observed_value"] == len(ALIKE_ROWS)


def test_when_the_one_pass_bundle_fails_ge_computes_and_reports_its_own_way(spark, sources, monkeypatch):
    data = frame(spark, "spark")
    rules = [*RULES, q.matches_regex("s", "(", name="s_bad_regex", action=Action.WARN)]
    stock = validate(sources["spark"][0], data, rules, q.RESULT_FORMAT)
    bundles = bundles_run(monkeypatch)
    with gx_sources.counting_rows_with_the_rules() as one_pass:
        ours = validate(sources["spark"][1], data, rules, q.RESULT_FORMAT)
    assert not one_pass.waiting
    bad_ours, bad_stock = ours.pop("s_bad_regex"), stock.pop("s_bad_regex")
    assert ours == stock
    # The same failure, in the same place (its message names Spark's objects and stages).
    assert bad_ours["success"] is bad_stock["success"] is False
    assert [k.split(",")[0] for k in bad_ours["exception_info"]] == [
        k.split(",")[0] for k in bad_stock["exception_info"]
    ]
    assert all("PatternSyntaxException" in e["exception_message"] for e in bad_ours["exception_info"].values())
    # The one-pass bundle failed on the bad regex; GE then ran its own (and retried one by one).
    assert "table.row_count.aggregate_fn" in bundles[0] and len(bundles) > 3


def test_the_gate_validates_again_if_ge_ends_its_graph_with_a_row_count_held(spark, monkeypatch):
    monkeypatch.setattr(q, "SMALL_FRAME_ROWS", -1)
    df = cached(spark.createDataFrame(ALIKE_ROWS, ALIKE_SCHEMA))
    rules = [q.not_null("s", action=Action.WARN), q.row_count_at_least(1)]
    expected, _ = q._validate(df, rules, "held")
    counted = gx_sources.counting_rows_with_the_rules

    @contextmanager
    def left_waiting():
        with counted() as one_pass:
            yield one_pass
        one_pass.held["stopped early"] = None  # as if GE had aborted its graph

    validations = []
    original = V1Validator.validate_expectation_suite

    def counting(self, *args, **kwargs):
        validations.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(gx_sources, "counting_rows_with_the_rules", left_waiting)
    monkeypatch.setattr(V1Validator, "validate_expectation_suite", counting)
    validation, _ = q._validate(df, rules, "held")
    assert len(validations) == 2
    assert [r["result"] for r in validation["results"]] == [r["result"] for r in expected["results"]]


def test_a_unique_count_that_fails_after_the_one_pass_leaves_no_row_count_held(spark, sources, monkeypatch):
    """The error loses the results of the metric step it happens in, the row count computed
    with the rules' counts among them: it is counted again, never left a placeholder."""
    data = frame(spark, "spark")
    rules = [q.not_null("s", action=Action.WARN), q.unique("s", action=Action.WARN), q.row_count_at_least(1)]

    def boom(*args, **kwargs):
        raise RuntimeError("no repeated values today")

    monkeypatch.setattr(gx_sources.QualityGateSparkEngine, "_repeated_rows", boom)
    with gx_sources.recording_repeated_values(100), gx_sources.counting_rows_with_the_rules() as one_pass:
        ours = validate(sources["spark"][1], data, rules, q.RESULT_FORMAT)
    assert not one_pass.waiting
    assert ours["row_count_at_least_1"]["result"]["observed_value"] == len(ALIKE_ROWS)
    assert ours["s_not_null"]["result"]["element_count"] == len(ALIKE_ROWS)
    errors = ours["s_unique"]["exception_info"]
    assert not ours["s_unique"]["success"] and "no repeated values today" in str(errors)
