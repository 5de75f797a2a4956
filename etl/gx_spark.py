"""Great Expectations' Spark data source for the quality gate, minus queries whose answer is
known before they run.

GE's BASIC result format asks every column-map expectation for its unexpected values, even
when the caller asks for none (`partial_unexpected_count: 0`, etl.quality.RESULT_FORMAT): GE
1.x adds the `<map metric>.unexpected_values` metric for any format but BOOLEAN_ONLY
(`ColumnMapExpectation.get_validation_dependencies`), and its Spark provider builds a
filtered frame and runs `.limit(0).collect()` on it. The answer is always `[]`, but each query
is built through py4j, analysed and planned, one per rule: a fifth of GE's validation of the
sales suite, whatever the row count (bench/RESULTS.md has the figures). BOOLEAN_ONLY would
skip them, but it drops the counts the gate acts on and Data Docs show.

So this engine answers exactly those metrics with `[]` and hands every other metric to GE's
own Spark engine unchanged; GE still decides every result and formats it. Nothing else in
GE's behaviour is replaced. A test validates the same frame (every rule kind broken) through
this source and through GE's stock Spark source and compares the whole results; another fails
if a zero-limit query reaches Spark.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from typing import Any, Literal

from great_expectations.datasource.fluent import SparkDatasource
from great_expectations.execution_engine import SparkDFExecutionEngine
from great_expectations.validator.metric_configuration import MetricConfiguration

_UNEXPECTED_VALUES = ".unexpected_values"


def asks_for_no_values(metric: MetricConfiguration) -> bool:
    """True for an `unexpected_values` metric limited to zero values: its answer is `[]`."""
    if not metric.metric_name.endswith(_UNEXPECTED_VALUES):
        return False
    kwargs: dict[str, Any] = dict(metric.metric_value_kwargs or {})
    result_format = kwargs.get("result_format")
    # COMPLETE ignores the partial count (GE then collects up to its own maximum).
    return (
        isinstance(result_format, dict)
        and result_format.get("result_format") != "COMPLETE"
        and result_format.get("partial_unexpected_count") == 0
    )


class QualityGateSparkEngine(SparkDFExecutionEngine):
    """GE's Spark engine; zero-value `unexpected_values` metrics are answered without Spark."""

    def resolve_metrics(
        self,
        metrics_to_resolve: Iterable[MetricConfiguration],
        metrics: dict | None = None,
        runtime_configuration: dict | None = None,
    ) -> dict:
        pending: list[MetricConfiguration] = []
        known: dict[Any, Any] = {}
        for metric in metrics_to_resolve:
            if asks_for_no_values(metric):
                known[metric.id] = []
            else:
                pending.append(metric)
        if not pending:
            return known
        resolved = dict(super().resolve_metrics(pending, metrics, runtime_configuration))
        resolved.update(known)
        return resolved


class QualityGateSparkDatasource(SparkDatasource):
    """GE's Spark data source (same assets and options) running on `QualityGateSparkEngine`."""

    # GE registers a source class by this literal; a subclass of a concrete source must narrow
    # its parent's literal, which mypy reads as an incompatible override.
    type: Literal["quality_gate_spark"] = "quality_gate_spark"  # type: ignore[assignment]

    @property
    def execution_engine_type(self) -> builtins.type[SparkDFExecutionEngine]:  # `type` is the field above
        return QualityGateSparkEngine


# The type this module registers with GE (`context.data_sources.add_<type>`).
SOURCE_TYPE: str = QualityGateSparkDatasource.__fields__["type"].default
