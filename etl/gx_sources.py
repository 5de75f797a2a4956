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

So these engines answer exactly those metrics with `[]`.

The Spark engine also keeps what it counts for a `column_values.unique` rule, while the gate
records (`recording_repeated_values`). GE's provider counts the rows its window condition
(`count(1) over (partition by the column) > 1`) flags: a shuffle and a sort of the input, the
gate's dearest rule (0.5-0.6 s of a 2,000,000-row run; bench/RESULTS.md, runs O). A gate whose
`unique` drop rule broke must then find the repeated values to split the rows, another
shuffle of the same input for an answer the count had in hand. So the repeated values are
found, counted as GE's condition counts their rows, and kept when those rows are at most
`RepeatedValues.limit`:
- up to `MAX_ROWS_HASHED_IN_DRIVER` rows of a key type whose equality is Spark's grouping
  equality, by their hashes in the driver (`_repeated_by_hash`): one Spark job reading one
  column, and a second one filtering the few rows with a repeated hash when there are any;
  no shuffle;
- otherwise (and when more rows share a repeated hash than the limit) by GE's own condition,
  the flagged rows' values collected instead of only counted (one Spark job, as GE's count;
  a `group by` was slower, bench/RESULTS.md, run I).
Past the limit, the rows are counted as GE counts them and nothing is recorded. Outside a
recording, GE's provider runs.

And while the gate counts in one pass (`counting_rows_with_the_rules`), the Spark engine
counts the rows in the job that counts the rules. GE asks for `table.row_count` alone, before
anything else: its column conditions depend on it in the metric graph, though none reads its
value (only the expectations' verdicts do, at the end). So GE runs an aggregate job for the
row count, then another for every rule's unexpected rows; on the frame the gate holds, the
first job also fills it and the second reads it again. The engine holds the row count back (a
placeholder nothing reads) until the rules' counting partials exist, then runs GE's own bundle
with both, one aggregate per domain, as GE would have run its second: one Spark job fewer
(30-60 ms of a warm 200,000-row gate; bench/RESULTS.md, runs L). The `unique` counts then run
on the filled frame. If that bundle fails, GE computes everything its own way and reports the
error as it would; if its graph has no counting partial (table-level rules only), the row
count is computed at its last step; if GE stops its graph early, the pass is still `waiting`
and the gate validates again without it.

The Spark engine also gives each bundle to GE in one order, by metric id. GE lists a bundle's
metrics in the order its graph yields them, which changes from run to run; the aggregate it
builds follows it, and Spark generates Java code per query: the same aggregates in another
order are another class, compiled anew in each run and run interpreted until the JIT catches
up (two classes; with the two of a metadata query, since gone, 0.13 s of a warm 200,000-row
run: bench/RESULTS.md, runs M). A test runs sales_etl three times in one session and fails on
any class its later runs compile.

Every other metric goes to GE's own engine unchanged; GE still decides every result and
formats it. Tests validate the same frame (every rule kind broken) through these sources (in
one pass and not) and through GE's stock ones and compare the whole results; others fail if a
zero-value metric reaches an engine, if a recorded value is not one that repeats, or if one
pass runs more aggregate jobs than GE's own order less one.
"""

from __future__ import annotations

import builtins
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache
from importlib.util import find_spec
from typing import Any, Literal

import numpy as np
from great_expectations.datasource.fluent import PandasDatasource, SparkDatasource
from great_expectations.exceptions import MetricResolutionError
from great_expectations.execution_engine import PandasExecutionEngine, SparkDFExecutionEngine
from great_expectations.execution_engine.execution_engine import MetricComputationConfiguration
from great_expectations.expectations.expectation import Expectation
from great_expectations.validator.metric_configuration import MetricConfiguration
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from etl.jvm import is_in_values
from etl.quality import EXACT_KEY_TYPES
from etl.transforms import quoted

_UNEXPECTED_VALUES = ".unexpected_values"
_UNIQUE_COUNT = "column_values.unique.unexpected_count"
_ROW_COUNT = "table.row_count"
_COUNT_PARTIAL = ".unexpected_count.aggregate_fn"

# Up to this many rows, the values a `unique` rule finds repeated are looked for by their
# hashes in the driver (`_repeated_by_hash`): 8 bytes a row, twice at the peak (Arrow's
# buffers, then one array), 160 MB here. Above it, GE's window, which Spark spills as needed.
MAX_ROWS_HASHED_IN_DRIVER = 10_000_000
# Up to this many repeated hashes, the rows sharing one are fetched with one IN filter. Spark
# takes its time over a long IN list, however it is handed over (SQL text or one collection):
# 5,000 hashes about 0.2 s to plan, 100,000 2-3 s (bench/RESULTS.md, runs P). More go to GE's
# window.
MAX_REPEATED_HASHES_FILTERED = 10_000


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


# What `_answer` returns for a metric it leaves to GE's engine.
_UNANSWERED = object()


class _AnswersKnownMetrics:
    """Before a GE execution engine in the bases: the metrics `_answer` knows are answered
    here, every other metric by the engine."""

    def resolve_metrics(
        self,
        metrics_to_resolve: Iterable[MetricConfiguration],
        metrics: dict | None = None,
        runtime_configuration: dict | None = None,
    ) -> dict:
        pending: list[MetricConfiguration] = []
        known: dict[Any, Any] = {}
        for metric in metrics_to_resolve:
            value = self._answer(metric, metrics or {})
            if value is _UNANSWERED:
                pending.append(metric)
            else:
                known[metric.id] = value
        if not pending:
            return known
        resolved = dict(super().resolve_metrics(pending, metrics, runtime_configuration))  # type: ignore[misc]
        resolved.update(known)
        return resolved

    def _answer(self, metric: MetricConfiguration, metrics: dict) -> Any:
        """Zero-value `unexpected_values` metrics: `[]`."""
        return [] if asks_for_no_values(metric) else _UNANSWERED


@dataclass(frozen=True)
class RepeatedValues:
    """Values the Spark engine found repeated while counting `column_values.unique` rules:
    column -> every non-null value (as a string) occurring more than once in the rule's
    domain, for rules broken by at most `limit` rows."""

    limit: int
    by_column: dict[str, list[str]] = field(default_factory=dict)


_recording: ContextVar[RepeatedValues | None] = ContextVar("repeated_values", default=None)


@contextmanager
def recording_repeated_values(limit: int) -> Iterator[RepeatedValues]:
    """Record the repeated values of the `unique` rules validated inside the block, for those
    broken by at most `limit` rows (0: count as GE does, record nothing)."""
    found = RepeatedValues(limit)
    token = _recording.set(found)
    try:
        yield found
    finally:
        _recording.reset(token)


# What a held-back `table.row_count` reads until its count arrives (nothing GE computes on the
# way reads it; `OnePass.waiting` says whether one is still out).
_HELD = object()


@dataclass
class OnePass:
    """The row counts GE asks for before its conditions exist, held back so that the pass that
    counts each rule's unexpected rows counts the rows too (see the module docstring)."""

    # `table.row_count` metric id -> (the metric, the aggregate partial it is made of)
    held: dict[Any, tuple[MetricConfiguration, MetricConfiguration]] = field(default_factory=dict)
    counted: dict[Any, Any] = field(default_factory=dict)  # aggregate partial's id -> its value

    @property
    def waiting(self) -> bool:
        return bool(self.held)


_one_pass: ContextVar[OnePass | None] = ContextVar("one_pass", default=None)


@contextmanager
def counting_rows_with_the_rules() -> Iterator[OnePass]:
    """Inside the block, the Spark engine counts the rows in the pass that counts the rules'
    unexpected rows. After the block, `waiting` is False unless GE stopped its metric graph
    early (an exception it caught): its result must then not be used."""
    one_pass = OnePass()
    token = _one_pass.set(one_pass)
    try:
        yield one_pass
    finally:
        _one_pass.reset(token)


# Expectation object id -> (the object, its configuration), while `configurations_built_once`.
_configurations: ContextVar[dict[int, tuple[Any, Any]] | None] = ContextVar("configurations", default=None)


@contextmanager
def configurations_built_once() -> Iterator[None]:
    """Inside the block (in this thread or task), each GE expectation object builds its
    `configuration` once. GE 1.x builds it anew on every read (a pydantic `dict()` of the
    expectation, then a new ExpectationConfiguration) and reads it about 60 times per
    expectation as it plans the metrics and judges them: some 30 ms of a warm 10,000-row run's
    two validations (bench/RESULTS.md, runs Q). The objects GE reads it from are the ones it
    makes from the suite's configurations for the validation (`to_domain_obj`), and nothing
    changes them in between. Outside the block, GE's own property answers (the one below
    defers to it); a test compares whole validation results with and without the block."""
    token = _configurations.set({})
    try:
        yield
    finally:
        _configurations.reset(token)


_ge_configuration: property = vars(Expectation)["configuration"]  # GE's own property object


def _configuration_built_once(expectation: Any) -> Any:
    assert _ge_configuration.fget is not None
    built = _configurations.get()
    if built is None:
        return _ge_configuration.fget(expectation)
    # Keyed by id, with the object kept alive: an id is not reused while the block lasts.
    hit = built.get(id(expectation))
    if hit is None or hit[0] is not expectation:
        hit = built[id(expectation)] = (expectation, _ge_configuration.fget(expectation))
    return hit[1]


# Installed once, as this module is imported (etl.quality imports it as it validates).
Expectation.configuration = property(_configuration_built_once)  # type: ignore[method-assign,assignment]


def _partial_of(metric: MetricConfiguration) -> MetricConfiguration | None:
    """The aggregate partial a bundled metric (`<name>` of `<name>.aggregate_fn`) is made of."""
    return metric.metric_dependencies.get("metric_partial_fn")


class QualityGateSparkEngine(_AnswersKnownMetrics, SparkDFExecutionEngine):
    """GE's Spark engine; zero-value `unexpected_values` metrics are answered without Spark;
    while the gate records, the rows a `column_values.unique` rule flags are collected when
    few, their values kept; and in one pass, the rows are counted with the rules' counts (see
    the module docstring)."""

    def resolve_metrics(
        self,
        metrics_to_resolve: Iterable[MetricConfiguration],
        metrics: dict | None = None,
        runtime_configuration: dict | None = None,
    ) -> dict:
        one_pass = _one_pass.get()
        if one_pass is None:
            return super().resolve_metrics(metrics_to_resolve, metrics, runtime_configuration)
        metrics = metrics if metrics is not None else {}
        asked = list(metrics_to_resolve)
        held = {m.id: (m, p) for m in asked if m.metric_name == _ROW_COUNT and (p := _partial_of(m)) is not None}
        # `unique` counts read the held rows after the pass that fills them (below).
        later = [m for m in asked if m.metric_name == _UNIQUE_COUNT]
        now = [m for m in asked if m.id not in held and m.metric_name != _UNIQUE_COUNT]
        resolved = dict(super().resolve_metrics(now, metrics, runtime_configuration)) if now else {}
        one_pass.held.update(held)
        resolved.update(dict.fromkeys(held, _HELD))
        partials = {
            m.id: (m, resolved[m.id])
            for m in now
            if m.metric_name.endswith(_COUNT_PARTIAL) and isinstance(resolved.get(m.id), tuple)
        }
        counted_now = {}
        if one_pass.waiting and (partials or not asked):
            # The rules' counts are ready to be computed (or GE's graph is done without them):
            # the held row counts are computed now, with them when there are any.
            counted_now = dict(one_pass.held)
            resolved.update(self._count_in_one_pass(one_pass, partials, {**metrics, **resolved}, runtime_configuration))
        if later:
            try:
                resolved.update(super().resolve_metrics(later, {**metrics, **resolved}, runtime_configuration))
            except Exception:
                # This call's results are lost with the error, its row counts among them: they
                # are held again (counted at GE's last step, or validated again: `waiting`).
                one_pass.held.update(counted_now)
                raise
        return resolved

    def _count_in_one_pass(
        self,
        one_pass: OnePass,
        partials: dict[Any, tuple[MetricConfiguration, Any]],
        metrics: dict,
        runtime: dict | None,
    ) -> dict:
        """The held row counts, computed in GE's own bundle with the rules' counting partials:
        one aggregate per domain, as GE would run in its next step. If that bundle fails, GE
        is left to compute everything its own way, errors included."""
        held = dict(one_pass.held)
        bundle = [
            MetricComputationConfiguration(
                metric_configuration=metric, metric_fn=fn, metric_provider_kwargs={},
                compute_domain_kwargs=compute_kwargs, accessor_domain_kwargs=accessor_kwargs,
            )
            for metric, (fn, compute_kwargs, accessor_kwargs) in [
                *partials.values(),
                *((partial, metrics[partial.id]) for _, partial in held.values()),
            ]
        ]  # fmt: skip
        try:
            values = self.resolve_metric_bundle(bundle)
        except Exception:  # noqa: BLE001 - GE's own next step computes these and reports the error its way
            # (If the row counts fail too, they stay held: the gate then validates again.)
            counts = dict(super().resolve_metrics([metric for metric, _ in held.values()], metrics, runtime))
            one_pass.held.clear()
            return counts
        one_pass.held.clear()
        one_pass.counted.update({partial_id: values[partial_id] for partial_id in partials})
        return {metric_id: values[partial.id] for metric_id, (_, partial) in held.items()}

    def resolve_metric_bundle(self, metric_fn_bundle: Iterable[MetricComputationConfiguration]) -> dict:
        """GE's bundle, its aggregates in one order whatever order GE's graph lists them in
        (see the module docstring)."""
        return super().resolve_metric_bundle(sorted(metric_fn_bundle, key=lambda c: str(c.metric_configuration.id)))

    def _answer(self, metric: MetricConfiguration, metrics: dict) -> Any:
        one_pass = _one_pass.get()
        if one_pass is not None and (partial := _partial_of(metric)) is not None and partial.id in one_pass.counted:
            return one_pass.counted[partial.id]
        found = _recording.get()
        if metric.metric_name != _UNIQUE_COUNT or found is None or found.limit <= 0:
            return super()._answer(metric, metrics)
        # What GE's own provider is given: the condition's domain, already resolved.
        dependencies = self._get_computed_metric_evaluation_dependencies_by_metric_name(metric, metrics)
        try:
            condition, compute_domain_kwargs, accessor_domain_kwargs = dependencies["unexpected_condition"]
            return self._repeated_rows(
                found, condition, compute_domain_kwargs, accessor_domain_kwargs, rows_at_most=_rows_bound(metrics)
            )
        except Exception as error:  # reported against the rule, as GE reports its own
            raise MetricResolutionError(message=str(error), failed_metrics=(metric,)) from error

    def _repeated_rows(
        self,
        found: RepeatedValues,
        condition: Any,
        compute_domain_kwargs: dict,
        accessor_domain_kwargs: dict,
        rows_at_most: int | None = None,
    ) -> int:
        """GE's count: the domain's rows its condition flags, as GE's provider selects them.
        `rows_at_most`: a bound on the domain's rows, when known (chooses how they are found)."""
        domain = self.get_domain_records(domain_kwargs={**compute_domain_kwargs, **accessor_domain_kwargs})
        column = accessor_domain_kwargs["column"]
        if (
            rows_at_most is not None
            and rows_at_most <= MAX_ROWS_HASHED_IN_DRIVER
            and isinstance(domain.schema[column].dataType, EXACT_KEY_TYPES)
            and arrow_installed()
        ):
            counted = _repeated_by_hash(domain, column, found)
            if counted is not None:
                return counted
        # A window condition cannot be a filter itself: it becomes a column first, as in GE.
        flagged = domain.withColumn("__unexpected", condition).filter(F.col("__unexpected"))
        rows = flagged.select(F.col(column).cast("string").alias("value")).limit(found.limit + 1).collect()
        if len(rows) > found.limit:
            return flagged.count()
        found.by_column[column] = list(dict.fromkeys(row.value for row in rows if row.value is not None))
        return len(rows)


@cache
def arrow_installed() -> bool:
    """pyarrow, which `_repeated_by_hash` collects with, is a dependency of this project, not
    of PySpark or GE: a Glue job without it is still judged, by GE's window."""
    return find_spec("pyarrow") is not None


def _rows_bound(metrics: dict) -> int | None:
    """The largest table row count GE has resolved (a `unique` domain is the table, or fewer
    rows), if any."""
    counts = [v for k, v in metrics.items() if isinstance(k, tuple) and k[:1] == (_ROW_COUNT,) and type(v) is int]
    return max(counts, default=None)


def _key_hash(column: str) -> str:
    """The SQL expression `_repeated_by_hash` hashes a value with (a null hashes to the seed,
    so nulls share a hash, as they share a window partition)."""
    return f"xxhash64({quoted(column)})"


def _repeated_by_hash(domain: DataFrame, column: str, found: RepeatedValues) -> int | None:
    """GE's `unique` count on `domain` (the rows whose value of `column` occurs more than
    once), found without a window; None when more than `found.limit` rows share a repeated
    hash, or more than `MAX_REPEATED_HASHES_FILTERED` hashes repeat (the caller then runs GE's
    condition). For the key types of `EXACT_KEY_TYPES` only.

    Every row's hash of the value is collected (8 bytes a row, through Arrow) and sorted in the
    driver. Equal values have equal hashes, so a value can repeat only where a hash does. The
    rows with a repeated hash, usually none and at most `found.limit`, are then collected by
    value and counted here: two values whose hashes collide count nothing. The values are
    compared in their string form, one-to-one with Spark's grouping equality for those types
    (not for floating point: Spark groups -0.0 with 0.0, their strings and hashes differ). On a
    file without repeated keys this is one Spark job reading one column, where the window
    shuffles and sorts it (bench/RESULTS.md, runs P)."""
    # `_collect_as_arrow` is PySpark's own collect for `toPandas`, without pandas (3.5 has no
    # public `toArrow`); it needs no session setting.
    batches = domain.select(F.expr(_key_hash(column)).alias("h"))._collect_as_arrow()
    hashes = np.concatenate([batch.column(0).to_numpy() for batch in batches]) if batches else np.empty(0, np.int64)
    del batches
    hashes.sort()
    again = hashes[1:] == hashes[:-1]
    repeated = np.unique(hashes[1:][again])
    del hashes
    if not len(repeated):
        found.by_column[column] = []
        return 0
    rows_sharing_a_repeated_hash = int(again.sum()) + len(repeated)
    if len(repeated) > MAX_REPEATED_HASHES_FILTERED or rows_sharing_a_repeated_hash > found.limit:
        return None
    sharing = domain.where(is_in_values(F.expr(_key_hash(column)), repeated.tolist(), domain.sparkSession))
    values = Counter(row.value for row in sharing.select(F.col(column).cast("string").alias("value")).collect())
    counted = sum(n for n in values.values() if n > 1)
    found.by_column[column] = [value for value, n in values.items() if n > 1 and value is not None]
    return counted


class QualityGatePandasEngine(_AnswersKnownMetrics, PandasExecutionEngine):
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
