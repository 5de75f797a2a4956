"""Great Expectations' Spark and pandas data sources for the quality gate, minus metrics whose
answer is known before they are computed.

GE's BASIC result format asks every column-map expectation for its unexpected values, even
when the caller asks for none (`partial_unexpected_count: 0`, etl.quality.RESULT_FORMAT): GE
1.x adds the `<map metric>.unexpected_values` metric for any format but BOOLEAN_ONLY
(`ColumnMapExpectation.get_validation_dependencies`). Its Spark provider builds a filtered
frame and runs `.limit(0).collect()` on it: a query built through py4j, analysed and planned,
one per rule, a fifth of GE's validation of the sales suite whatever the row count. Its pandas
provider filters the frame and slices nothing from it, with GE's metric bookkeeping around it:
about 50 ms of a 10,000-row validation (bench/RESULTS.md has the figures). The answer is
always `[]`. BOOLEAN_ONLY would skip them, but it drops the counts the gate acts on and Data
Docs show.

So these engines answer exactly those metrics with `[]` and hand every other metric to GE's
own engine unchanged; GE still decides every result and formats it. Nothing else in GE's
behaviour is replaced. Tests validate the same frame (every rule kind broken) through these
sources and through GE's stock ones and compare the whole results; others fail if a
zero-value metric reaches an engine.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from typing import Any, Literal

from great_expectations.datasource.fluent import PandasDatasource, SparkDatasource
from great_expectations.execution_engine import PandasExecutionEngine, SparkDFExecutionEngine
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


class _AnswersZeroValueMetrics:
    """Before a GE execution engine in the bases: zero-value `unexpected_values` metrics are
    answered here, every other metric by the engine."""

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
        resolved = dict(super().resolve_metrics(pending, metrics, runtime_configuration))  # type: ignore[misc]
        resolved.update(known)
        return resolved


class QualityGateSparkEngine(_AnswersZeroValueMetrics, SparkDFExecutionEngine):
    """GE's Spark engine; zero-value `unexpected_values` metrics are answered without Spark."""


class QualityGatePandasEngine(_AnswersZeroValueMetrics, PandasExecutionEngine):
    """GE's pandas engine; zero-value `unexpected_values` metrics are answered without pandas."""


# GE registers a source class by its `type` literal; a subclass of a concrete source must
# narrow its parent's literal, which mypy reads as an incompatible override.


class QualityGateSparkDatasource(SparkDatasource):
    """GE's Spark data source (same assets and options) running on `QualityGateSparkEngine`."""

    type: Literal["quality_gate_spark"] = "quality_gate_spark"  # type: ignore[assignment]

    @property
    def execution_engine_type(self) -> builtins.type[SparkDFExecutionEngine]:  # `type` is the field above
        return QualityGateSparkEngine


class QualityGatePandasDatasource(PandasDatasource):
    """GE's pandas data source (same assets and options) running on `QualityGatePandasEngine`."""

    type: Literal["quality_gate_pandas"] = "quality_gate_pandas"  # type: ignore[assignment]

    @property
    def execution_engine_type(self) -> builtins.type[PandasExecutionEngine]:
        return QualityGatePandasEngine


# The types this module registers with GE (`context.data_sources.add_<type>`), by engine.
SOURCE_TYPES: dict[str, str] = {
    "spark": QualityGateSparkDatasource.__fields__["type"].default,
    "pandas": QualityGatePandasDatasource.__fields__["type"].default,
}
