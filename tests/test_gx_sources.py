"""The quality gate's data sources (etl.gx_sources): GE's own results, without the zero-value
unexpected-value metrics, on its Spark engine and on its pandas engine."""

from __future__ import annotations

import great_expectations as gx
import pytest
from great_expectations.execution_engine import PandasExecutionEngine, SparkDFExecutionEngine

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
def test_the_gate_sources_give_ge_stock_results_for_every_rule_kind(spark, sources, engine, partial):
    data, rules = frame(spark, engine), rules_of(engine)
    result_format = {"result_format": "BASIC", "partial_unexpected_count": partial}
    stock, ours = (validate(source, data, rules, result_format) for source in sources[engine])
    assert ours == stock
    broken = [name for name, r in stock.items() if not r["success"]]
    assert len(broken) >= 16, broken  # not a comparison of passing verdicts
    if partial:  # the values are still fetched when they are asked for
        assert ours["s_in_set"]["result"]["partial_unexpected_list"]


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
