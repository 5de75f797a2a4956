"""The quality gate's Spark data source (etl.gx_spark): GE's own results, without the
zero-row unexpected-value queries."""

from __future__ import annotations

import great_expectations as gx
import pytest
from great_expectations.execution_engine import SparkDFExecutionEngine

from etl import gx_spark
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


@pytest.fixture(scope="module")
def sources():
    """(GE's stock Spark source, the gate's), in one ephemeral context of their own."""
    context = gx.get_context(mode="ephemeral")
    stock = context.data_sources.add_spark(name="stock", persist=False)
    ours = getattr(context.data_sources, f"add_{gx_spark.SOURCE_TYPE}")(name="gate", persist=False)
    return stock, ours


def validate(source, df, result_format: dict) -> dict:
    suite = gx.ExpectationSuite(name="s", expectations=[rule.to_expectation() for rule in RULES])
    definition = source.add_dataframe_asset(name=f"a{len(source.assets)}").add_batch_definition_whole_dataframe("w")
    result = definition.get_batch(batch_parameters={"dataframe": df}).validate(suite, result_format=result_format)
    results = result.to_json_dict()["results"]
    for r in results:  # names the source and asset, which differ by construction
        r["expectation_config"]["kwargs"].pop("batch_id")
    return {r["expectation_config"]["meta"]["rule"]: r for r in results}


@pytest.fixture
def metrics_sent_to_spark(monkeypatch) -> list[str]:
    """The names of the metrics GE's Spark engine is asked to compute."""
    names: list[str] = []
    resolve = SparkDFExecutionEngine.resolve_metrics

    def recording(self, metrics_to_resolve, metrics=None, runtime_configuration=None):
        metrics_to_resolve = list(metrics_to_resolve)
        names.extend(m.metric_name for m in metrics_to_resolve)
        return resolve(self, metrics_to_resolve, metrics, runtime_configuration)

    monkeypatch.setattr(SparkDFExecutionEngine, "resolve_metrics", recording)
    return names


@pytest.mark.parametrize("partial", [0, 2], ids=["no_values", "two_values"])
def test_the_gate_source_gives_ge_stock_results_for_every_rule_kind(spark, sources, partial):
    df = cached(spark.createDataFrame(ALIKE_ROWS, ALIKE_SCHEMA))
    result_format = {"result_format": "BASIC", "partial_unexpected_count": partial}
    stock, ours = (validate(source, df, result_format) for source in sources)
    assert ours == stock
    broken = [name for name, r in stock.items() if not r["success"]]
    assert len(broken) >= 17, broken  # not a comparison of passing verdicts
    if partial:  # the values are still fetched when they are asked for
        assert ours["s_in_set"]["result"]["partial_unexpected_list"]


def test_zero_row_unexpected_value_queries_never_reach_spark(spark, sources, metrics_sent_to_spark):
    df = cached(spark.createDataFrame(ALIKE_ROWS, ALIKE_SCHEMA))
    stock, ours = sources
    validate(stock, df, q.RESULT_FORMAT)
    asked_by_stock = [name for name in metrics_sent_to_spark if name.endswith(".unexpected_values")]
    metrics_sent_to_spark.clear()
    validate(ours, df, q.RESULT_FORMAT)
    assert len(asked_by_stock) >= 15  # one per column-map rule
    assert [name for name in metrics_sent_to_spark if name.endswith(".unexpected_values")] == []
    assert "table.row_count" in metrics_sent_to_spark  # everything else still goes to Spark


def test_the_gate_validates_through_the_gate_source(spark, monkeypatch):
    monkeypatch.setattr(q, "SMALL_FRAME_ROWS", -1)  # not GE's pandas engine
    df = cached(spark.createDataFrame(ALIKE_ROWS, ALIKE_SCHEMA))
    validation, _ = q._validate(df, [q.not_null("s", action=Action.WARN)], "through")
    source = validation["meta"]["active_batch_definition"]["datasource_name"]
    assert source == "quality_gate"
    assert q._batch_definitions["spark"].data_asset.datasource.type == gx_spark.SOURCE_TYPE
