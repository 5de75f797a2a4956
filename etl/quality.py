"""The data-quality gate that stands before every silver write.

A job declares its suite as a list of `Rule`s (built with the constructors below) and calls
`run_gate(df, rules, suite_name=...)` on the DataFrame it is about to write. Great
Expectations 1.x is the validator of record: the whole suite is validated in one GE call and
its JSON result is what gets stored with a failed run. Each rule carries an action:

- `warn`: the failure is recorded (`GateResult.warnings`); every row continues.
- `drop`: rows breaking the rule go to quarantine, tagged with the names of every drop rule
  they break (`_failed_rules`); the other rows continue.
- `fail`: nothing reaches silver; the caller quarantines the whole input with `validation`.

If the dropped share of rows is above `max_drop_ratio`, the run escalates to `fail`: a source
that suddenly breaks a drop rule on most rows is a broken feed, not a few bad records.

Cost model (the gate must stay cheap on millions of rows): the caller passes a cached frame;
GE computes all unexpected counts in a handful of bundled aggregate jobs and is asked for no
unexpected values (`partial_unexpected_count: 0`), so no rows are collected; the per-row
predicates run only when a drop rule actually failed, as one array column on the cached frame
(for `unique`, the few repeated keys are found as GE counts them rather than windowing whole
rows again: etl.gx_sources).

GE's engines run on the data sources of etl.gx_sources: GE's own, minus the zero-value
unexpected-value metrics that BASIC plans for every column-map expectation, and with the Spark
engine keeping the keys of the rows a `unique` rule flags as it counts them.

Small frames are validated by GE's pandas engine (`_pandas_engine_judges_alike`): its Spark
engine has a fixed cost per suite whatever the row count (its metric graph, a Spark job per
domain), a large share of a warm 10,000-row run. Collected through Arrow, the same suite on
the same rows validates in about half the time; the pandas engine's cost grows with rows
(Python objects per value) and passes the Spark engine's a little above SMALL_FRAME_ROWS
(bench/RESULTS.md has the crossover measured). It is used only where both engines judge
alike, value for value: column types whose pandas form keeps Spark's nulls and ordering (no
floating point: pandas counts NaN as null; no 64-bit integers: a null turns the column into
float64), no regex rule (Python's `re` is not Java's regex), bounds and sets of the column's
own kind. A test runs every rule kind through both engines and compares GE's whole result.
The predicates that split the rows stay Spark's, whichever engine counted them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from etl.jvm import is_in_values
from etl.transforms import quoted, sql_string

if TYPE_CHECKING:
    import great_expectations as gx

# GE is imported lazily (its import is slow) so `lake --help` and job modules that only declare
# suites stay fast. Analytics off before that first import: no network calls from a job.
# (Progress bars are switched off on the context, see `_gx_batch_definition`.)
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

FAILED_RULES_COLUMN = "_failed_rules"

# Ask GE for counts only. Its BASIC format otherwise collects up to 20 unexpected values per
# expectation: one extra Spark job each, and values we never show (quarantine holds the rows).
RESULT_FORMAT: dict[str, Any] = {"result_format": "BASIC", "partial_unexpected_count": 0}

TABLE_KINDS = frozenset({"column_exists", "row_count"})

# Frames up to this many rows are validated by GE's pandas engine when it judges as the Spark
# engine would (see the module docstring; set just under the crossover in bench/RESULTS.md).
SMALL_FRAME_ROWS = 30_000
ARROW_ENABLED = "spark.sql.execution.arrow.pyspark.enabled"

# Up to this many quarantined rows are encoded by Spark (its JSON, as the quarantine writes
# them) and collected to the driver: by the gate as it counts them when it must count them
# and GE's counts show they are this few (one Spark job instead of persist, count and a
# second pass to write), else by the quarantine (etl.quarantine). More go through a Spark
# file write (a whole failed input can be millions of rows).
MAX_QUARANTINE_ROWS_COLLECTED = 50_000

# Up to this many duplicated rows, a `unique` drop looks the repeated keys up once (at most
# half as many keys reach the driver) instead of re-running a window over whole rows.
MAX_DUPLICATED_ROWS_LOOKED_UP = 100_000
# Key types whose equality is Spark's grouping equality, in their string form (one-to-one) and
# in their hash (equal values hash alike; etl.gx_sources). Not so for floating point: Spark
# groups -0.0 with 0.0, their strings and hashes differ.
EXACT_KEY_TYPES = (
    T.StringType,
    T.IntegralType,
    T.DateType,
    T.TimestampType,
    T.DecimalType,
    T.BooleanType,
    T.TimestampNTZType,
)


class Action(StrEnum):
    WARN = "warn"
    DROP = "drop"
    FAIL = "fail"


# --------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One expectation with its action; `name` is stable (stored with quarantined rows)."""

    name: str
    action: Action
    kind: str
    columns: tuple[str, ...]
    # Kind-specific; read-only once built. Not hashed (a mapping is not hashable).
    params: Mapping = field(default_factory=lambda: MappingProxyType({}), hash=False)

    def __post_init__(self) -> None:
        if self.kind not in _BUILDERS:
            raise ValueError(
                f"rule {self.name!r}: unknown kind {self.kind!r}; expected one of {', '.join(sorted(_BUILDERS))}"
            )
        # Frozen means frozen: a caller mutating the dict it passed must not change the rule.
        object.__setattr__(self, "action", Action(self.action))
        object.__setattr__(self, "columns", tuple(self.columns))
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))
        if self.is_table_level and self.action == Action.DROP:
            raise ValueError(
                f"rule {self.name!r}: a {self.kind} rule judges the whole table, it cannot drop rows; use warn or fail"
            )

    @property
    def is_table_level(self) -> bool:
        return self.kind in TABLE_KINDS

    def to_expectation(self) -> gx.expectations.Expectation:
        """The GE 1.x expectation, tagged with the rule's name and action in `meta`."""
        expectation = _BUILDERS[self.kind].expectation(self)
        expectation.meta = {"rule": self.name, "action": self.action.value}
        return expectation

    def row_predicate(self) -> Column | None:
        """Spark Column, True where a row passes; None for table-level rules.

        Mirrors GE's Spark engine exactly (same operators), including its null handling:
        column-map expectations other than not_null skip nulls, so a null passes.
        """
        return _BUILDERS[self.kind].predicate(self)


def column_exists(column: str, *, action: Action = Action.FAIL, name: str | None = None) -> Rule:
    return Rule(name or f"{column}_exists", action, "column_exists", (column,), {})


def columns_present(columns: Sequence[str], *, action: Action = Action.FAIL) -> list[Rule]:
    return [column_exists(column, action=action) for column in columns]


def row_count_at_least(n: int = 1, *, action: Action = Action.FAIL, name: str | None = None) -> Rule:
    return Rule(name or f"row_count_at_least_{n}", action, "row_count", (), {"min_value": n})


def not_null(column: str, *, action: Action = Action.DROP, name: str | None = None) -> Rule:
    return Rule(name or f"{column}_not_null", action, "not_null", (column,), {})


def unique(columns: str | Sequence[str], *, action: Action = Action.DROP, name: str | None = None) -> Rule:
    """Unique key; several columns make a compound key (rows with a null key part are skipped)."""
    key = (columns,) if isinstance(columns, str) else tuple(columns)
    if not key:
        raise ValueError("unique() needs at least one column")
    return Rule(name or f"{'_'.join(key)}_unique", action, "unique", key, {})


def between(
    column: str,
    min_value: Any = None,
    max_value: Any = None,
    *,
    strict_min: bool = False,
    strict_max: bool = False,
    action: Action = Action.DROP,
    name: str | None = None,
) -> Rule:
    if min_value is None and max_value is None:
        raise ValueError(f"between({column!r}): give min_value, max_value or both")
    if min_value is not None and max_value is not None and min_value > max_value:
        raise ValueError(f"between({column!r}): min_value {min_value} > max_value {max_value}")
    params = {
        "min_value": min_value,
        "max_value": max_value,
        "strict_min": strict_min,
        "strict_max": strict_max,
    }
    return Rule(name or f"{column}_between", action, "between", (column,), params)


def in_set(column: str, values: Iterable, *, action: Action = Action.DROP, name: str | None = None) -> Rule:
    # A tuple: the rule stays immutable and the set's order stable in the stored validation.
    return Rule(name or f"{column}_in_set", action, "in_set", (column,), {"values": tuple(values)})


def matches_regex(column: str, regex: str, *, action: Action = Action.DROP, name: str | None = None) -> Rule:
    """Java regex, *search* semantics (Spark `rlike`, as GE's Spark engine): anchor with ^...$."""
    return Rule(name or f"{column}_matches_regex", action, "regex", (column,), {"regex": regex})


def max_length(column: str, n: int, *, action: Action = Action.DROP, name: str | None = None) -> Rule:
    return Rule(name or f"{column}_max_length_{n}", action, "max_length", (column,), {"max": n})


def latest_plausible(now: datetime, ahead: timedelta = timedelta(days=1)) -> datetime:
    """The latest timestamp a "not in the future" rule lets through: `now` + `ahead`, rounded up
    to the next whole hour, naive in UTC (the sessions' time zone; an aware `now` is converted).

    Rounded so the bound changes once an hour rather than every run: Spark writes a timestamp
    literal into the code it generates, so a bound new in every run made every query testing it
    a new class to compile and to warm up in the JIT (four of the seven classes a warm
    10,000-row sales_etl run compiled; bench/RESULTS.md). The rule tolerates `ahead` to `ahead`
    plus one hour.
    """
    utc = now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo is not None else now
    hour = utc.replace(minute=0, second=0, microsecond=0)
    return (hour if hour == utc else hour + timedelta(hours=1)) + ahead


# --------------------------------------------------------------------------------------------
# Per kind: the GE expectation and the equivalent Spark predicate, side by side so a change to
# one is made to the other (tests assert they count the same rows).
# --------------------------------------------------------------------------------------------


def _skip_nulls(rule: Rule, condition: Column) -> Column:
    # GE's column-map expectations evaluate non-null values only: a null is never "unexpected".
    return F.col(rule.columns[0]).isNull() | condition


def _gxe():
    import great_expectations.expectations as gxe

    return gxe


def _exists_expectation(rule: Rule):
    return _gxe().ExpectColumnToExist(column=rule.columns[0])


def _row_count_expectation(rule: Rule):
    return _gxe().ExpectTableRowCountToBeBetween(min_value=rule.params["min_value"])


def _not_null_expectation(rule: Rule):
    return _gxe().ExpectColumnValuesToNotBeNull(column=rule.columns[0])


def _not_null_predicate(rule: Rule) -> Column:
    return F.col(rule.columns[0]).isNotNull()


def _unique_expectation(rule: Rule):
    if len(rule.columns) == 1:
        return _gxe().ExpectColumnValuesToBeUnique(column=rule.columns[0])
    # GE's default for compound keys ignores a row only when *all* parts are null; skipping it
    # when *any* part is null matches the single-column rule (a null key is not a duplicate).
    return _gxe().ExpectCompoundColumnsToBeUnique(column_list=list(rule.columns), ignore_row_if="any_value_is_missing")


def _unique_predicate(rule: Rule) -> Column:
    # Like GE, every row whose key occurs more than once fails, not just the later copies.
    # Null keys form their own window partitions and are let through by the null check below,
    # so the counts of non-null keys equal GE's counts over its null-filtered domain.
    occurrences = F.count(F.lit(1)).over(Window.partitionBy(*rule.columns))
    return _any_null(rule.columns) | (occurrences <= 1)


def _between_expectation(rule: Rule):
    return _gxe().ExpectColumnValuesToBeBetween(column=rule.columns[0], **rule.params)


def _between_predicate(rule: Rule) -> Column:
    column, p = F.col(rule.columns[0]), rule.params
    condition = F.lit(True)
    if p["min_value"] is not None:
        low = F.lit(p["min_value"])
        condition = condition & (column > low if p["strict_min"] else column >= low)
    if p["max_value"] is not None:
        high = F.lit(p["max_value"])
        condition = condition & (column < high if p["strict_max"] else column <= high)
    return _skip_nulls(rule, condition)


def _in_set_expectation(rule: Rule):
    return _gxe().ExpectColumnValuesToBeInSet(column=rule.columns[0], value_set=list(rule.params["values"]))


def _in_set_predicate(rule: Rule) -> Column:
    column, values = F.col(rule.columns[0]), list(rule.params["values"])
    spark = SparkSession.getActiveSession()
    if spark is not None and values and all(isinstance(v, str) for v in values):
        # The same IN as `isin`, built in one gateway call instead of one per value (etl.jvm).
        return _skip_nulls(rule, is_in_values(column, values, spark))
    return _skip_nulls(rule, column.isin(values))


def _regex_expectation(rule: Rule):
    return _gxe().ExpectColumnValuesToMatchRegex(column=rule.columns[0], regex=rule.params["regex"])


def _regex_predicate(rule: Rule) -> Column:
    return _skip_nulls(rule, F.col(rule.columns[0]).rlike(rule.params["regex"]))


def _max_length_expectation(rule: Rule):
    return _gxe().ExpectColumnValueLengthsToBeBetween(column=rule.columns[0], max_value=rule.params["max"])


def _max_length_predicate(rule: Rule) -> Column:
    return _skip_nulls(rule, F.length(F.col(rule.columns[0])) <= rule.params["max"])


@dataclass(frozen=True)
class _Kind:
    expectation: Callable[[Rule], Any]  # -> gx.expectations.Expectation
    predicate: Callable[[Rule], Column | None]


def _table_level(rule: Rule) -> None:
    return None


_BUILDERS: dict[str, _Kind] = {
    "column_exists": _Kind(_exists_expectation, _table_level),
    "row_count": _Kind(_row_count_expectation, _table_level),
    "not_null": _Kind(_not_null_expectation, _not_null_predicate),
    "unique": _Kind(_unique_expectation, _unique_predicate),
    "between": _Kind(_between_expectation, _between_predicate),
    "in_set": _Kind(_in_set_expectation, _in_set_predicate),
    "regex": _Kind(_regex_expectation, _regex_predicate),
    "max_length": _Kind(_max_length_expectation, _max_length_predicate),
}


# --------------------------------------------------------------------------------------------
# The GE runtime: one ephemeral context and Spark data source per process
# --------------------------------------------------------------------------------------------

_runtime_lock = threading.Lock()
# GE's Spark data source shares one execution engine whose "active batch" is global state, so
# two concurrent validations could read each other's frame: validations are serialized.
_validate_lock = threading.Lock()
_batch_definitions: dict[str, Any] = {}


def _gx_batch_definition(engine: str):
    """The whole-DataFrame batch definition of `engine` ("spark" or "pandas"), built on first
    use (context setup is slow); both data sources live in one ephemeral context."""
    with _runtime_lock:
        if not _batch_definitions:
            import great_expectations as gx
            from great_expectations.data_context.types.base import ProgressBarsConfig

            from etl.gx_sources import SOURCE_TYPES

            context = gx.get_context(mode="ephemeral")
            context.variables.progress_bars = ProgressBarsConfig(globally=False)
            # GE's sources, minus the zero-value unexpected-value metrics (etl.gx_sources).
            # persist=False: the caller has cached the frame; a second persist wastes memory.
            spark_source = getattr(context.data_sources, f"add_{SOURCE_TYPES['spark']}")(  # GE's factory
                name="quality_gate", persist=False
            )
            pandas_source = getattr(context.data_sources, f"add_{SOURCE_TYPES['pandas']}")(
                name="quality_gate_small_frames"
            )
            for name, source in (("spark", spark_source), ("pandas", pandas_source)):
                asset = source.add_dataframe_asset(name="gate_input")
                _batch_definitions[name] = asset.add_batch_definition_whole_dataframe("whole_dataframe")
        return _batch_definitions[engine]


@dataclass(frozen=True)
class _Seen:
    """What GE's validation saw besides its verdicts, for the split: the pandas frame its
    pandas engine validated (None when its Spark engine did), and the values its Spark engine
    found repeated while counting `unique` rules (etl.gx_sources.RepeatedValues)."""

    collected: Any
    repeated: Mapping[str, list[str]]


def _validate(
    df: DataFrame, rules: Sequence[Rule], suite_name: str, expected_rows: int | None = None
) -> tuple[dict, _Seen]:
    """Validate all rules in one GE call: the JSON-able result dict, and what the validation
    saw (`_Seen`). `expected_rows`: see run_gate."""
    import great_expectations as gx
    from great_expectations.validator.v1_validator import Validator as V1Validator

    from etl.gx_sources import configurations_built_once, counting_rows_with_the_rules, recording_repeated_values

    suite = gx.ExpectationSuite(name=suite_name, expectations=[rule.to_expectation() for rule in rules])
    frame: Any = df
    engine, collected = "spark", None
    if (
        _pandas_engine_judges_alike(df, rules)
        and (df.count() if expected_rows is None else expected_rows) <= SMALL_FRAME_ROWS
    ):
        # One Spark job: the rows, one more than a small frame holds at most; a frame that
        # proves bigger than expected is validated by the Spark engine after all.
        head = _nanosecond_timestamps(df.select(*_rule_columns(df, rules)).limit(SMALL_FRAME_ROWS + 1).toPandas())
        # Not an empty frame: there the engines' results differ in form (one counts 0
        # unexpected values where the other reports none), so it stays with the Spark engine.
        if 0 < len(head) <= SMALL_FRAME_ROWS:
            frame = collected = head
            engine = "pandas"
    batch_definition = _gx_batch_definition(engine)
    # Whenever the split may look a `unique` rule's keys up, GE's Spark engine records them.
    with (
        _validate_lock,
        recording_repeated_values(MAX_DUPLICATED_ROWS_LOOKED_UP) as repeated,
        configurations_built_once(),
    ):
        # GE's own validator, as `Batch.validate` builds it, on the batch definition itself:
        # `get_batch` then `validate` would load the batch twice (the pandas engine hashes every
        # value of it each time, for a fingerprint in the result's meta).
        validator = V1Validator(batch_definition, RESULT_FORMAT, {"dataframe": frame})
        with counting_rows_with_the_rules() as one_pass:
            result = validator.validate_expectation_suite(suite)
        if one_pass.waiting:  # GE stopped its metric graph early: validated again, its own way
            result = validator.validate_expectation_suite(suite)
    return result.to_json_dict(), _Seen(collected, MappingProxyType(dict(repeated.by_column)))


def _nanosecond_timestamps(frame: Any) -> Any:
    """`frame` (collected by Spark) with its timestamp columns in nanoseconds where their values
    fit (years 1678-2261). Spark 3.5 collects timestamps as datetime64[us]; GE's pandas
    `between` compares a datetime64[ns] column at once and any other one value by value, in
    Python (about 20 ms of a warm 10,000-row gate: bench/RESULTS.md, runs Q). The comparisons
    are the same: microseconds convert to nanoseconds exactly. A column with a value outside
    that range stays as it is, compared value by value."""
    from pandas.errors import OutOfBoundsDatetime

    for column, dtype in frame.dtypes.items():
        if str(dtype) == "datetime64[us]":
            try:
                frame[column] = frame[column].astype("datetime64[ns]")
            except OutOfBoundsDatetime:
                pass  # kept in microseconds: GE's value-by-value comparison
    return frame


# Column types whose values keep, once collected through Arrow, Spark's nulls, equality and
# order: no float/double (NaN), no bigint (int64 with a null becomes float64), no nested types.
_PANDAS_ALIKE_TYPES = (
    T.StringType,
    T.IntegerType,
    T.ShortType,
    T.ByteType,
    T.DecimalType,
    T.DateType,
    T.TimestampType,
    T.BooleanType,
)


def _pandas_engine_judges_alike(df: DataFrame, rules: Sequence[Rule]) -> bool:
    """True when GE's pandas engine, on `df` collected, gives the Spark engine's result."""
    if str(df.sparkSession.conf.get(ARROW_ENABLED, "false")).lower() != "true":
        return False  # without Arrow, collecting costs more than the Spark engine
    row_rules = [r for r in rules if not r.is_table_level]
    if not row_rules:
        return False  # table-level checks only (the raw checks): nothing to collect for
    types = {f.name: f.dataType for f in df.schema.fields}
    return all(_alike(rule, [types[c] for c in rule.columns]) for rule in row_rules)


def _alike(rule: Rule, types: Sequence[T.DataType]) -> bool:
    if not all(isinstance(t, _PANDAS_ALIKE_TYPES) for t in types):
        return False
    [first, *_] = types
    if rule.kind in ("not_null", "unique"):
        return True
    if rule.kind in ("in_set", "max_length"):
        values = rule.params.get("values", ())
        return isinstance(first, T.StringType) and all(isinstance(v, str) for v in values)
    if rule.kind == "between":
        bounds = [b for b in (rule.params["min_value"], rule.params["max_value"]) if b is not None]
        return all(_bound_of_kind(b, first) for b in bounds)
    return False  # regex: Python's `re` and Java's regex differ


def _bound_of_kind(bound: Any, column_type: T.DataType) -> bool:
    """A bound Python compares with the collected values exactly as Spark compares it."""
    if isinstance(column_type, T.TimestampType):
        return isinstance(bound, datetime) and bound.tzinfo is None
    if isinstance(column_type, T.DateType):
        return isinstance(bound, date) and not isinstance(bound, datetime)
    if isinstance(column_type, (T.IntegerType, T.ShortType, T.ByteType, T.DecimalType)):
        # Not float: Spark compares a decimal with a double in double precision.
        return isinstance(bound, (int, Decimal)) and not isinstance(bound, bool)
    return False


def _rule_columns(df: DataFrame, rules: Sequence[Rule]) -> list[str]:
    """The frame's columns some rule names, in frame order (the rest need not be collected)."""
    named = {c for rule in rules for c in rule.columns}
    return [c for c in df.columns if c in named]


# --------------------------------------------------------------------------------------------
# The gate
# --------------------------------------------------------------------------------------------


@dataclass
class GateResult:
    """What the gate decided.

    `failed`: `passed` and `quarantined` are None and the caller quarantines the whole input
    with `validation`, so `rows_quarantined == rows_in` and `rows_passed == 0`;
    `failed_rules` still holds the per-rule counts that led there. `quarantined` may be
    cached: the caller unpersists it once written. `quarantined_lines`: the quarantined rows
    in Spark's JSON encoding, when the gate collected them as it counted them.
    """

    status: str  # "passed" | "failed"
    reason: str | None
    passed: DataFrame | None
    quarantined: DataFrame | None
    rows_in: int
    rows_passed: int
    rows_quarantined: int
    failed_rules: dict[str, int]
    warnings: dict[str, int]
    escalated: bool
    validation: dict
    quarantined_lines: list[str] | None = None
    # The string columns of the rows read, as GE's pandas engine validated them (None when
    # its Spark engine did): see `string_range`.
    collected_strings: Any = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == "passed"

    def string_range(self, column: str) -> tuple[str | None, str | None] | None:
        """(lowest, highest) non-null value of string `column` among the rows the gate read,
        so bounds of those it passed; (None, None) when every value is null; None when the gate
        did not collect the column. Python orders str by code point, as Spark orders strings
        (by their UTF-8 bytes, the same order). Lets a write skip a Spark job that would find
        the bounds again (etl.tables)."""
        if self.collected_strings is None or column not in self.collected_strings.columns:
            return None
        values = self.collected_strings[column].dropna()
        return (None, None) if values.empty else (min(values), max(values))


@dataclass(frozen=True)
class _Outcome:
    """GE's verdict on one rule."""

    rule: Rule
    success: bool
    unexpected: int  # failing rows; a failed table-level rule counts the whole input
    error: str | None = None


@dataclass(frozen=True)
class _Findings:
    """What is known once GE has run, whatever the gate then decides."""

    rows_in: int
    outcomes: list[_Outcome]
    validation: dict
    collected_strings: Any = None  # GateResult.collected_strings

    def broken(self, action: Action | None = None) -> list[_Outcome]:
        return [o for o in self.outcomes if not o.success and action in (None, o.rule.action)]

    def result(
        self,
        passed: DataFrame | None,
        quarantined: DataFrame | None,
        rows_quarantined: int,
        reason: str | None = None,
        escalated: bool = False,
        lines: list[str] | None = None,
    ) -> GateResult:
        failed = reason is not None
        return GateResult(
            status="failed" if failed else "passed",
            reason=f"quality gate failed: {reason}" if failed else None,
            passed=None if failed else passed,
            quarantined=None if failed else quarantined,
            rows_in=self.rows_in,
            rows_passed=0 if failed else self.rows_in - rows_quarantined,
            rows_quarantined=self.rows_in if failed else rows_quarantined,
            failed_rules={o.rule.name: o.unexpected for o in self.broken()},
            warnings={o.rule.name: o.unexpected for o in self.broken(Action.WARN)},
            escalated=escalated,
            validation=self.validation,
            quarantined_lines=None if failed else lines,
            collected_strings=self.collected_strings,
        )


def run_gate(
    df: DataFrame,
    rules: Sequence[Rule],
    *,
    suite_name: str,
    max_drop_ratio: float = 0.05,
    expected_rows: int | None = None,
) -> GateResult:
    """Validate `df` (cache it first) against `rules` and split it by the rules' actions.

    `expected_rows`: how many rows the caller expects `df` to hold, when it knows (a job: the
    rows it read). It only chooses GE's engine without counting the rows first; a wrong one
    costs time, never a different result."""
    _check_rule_names(rules)
    missing = _missing_columns(df, rules)
    # A row rule on a missing column would only raise inside GE: it is left out, and the
    # column_exists rule (or the missing-column check) reports the cause instead.
    runnable = [r for r in rules if r.is_table_level or not set(r.columns) & missing]
    validation, seen = _validate(df, runnable, suite_name, expected_rows)
    rows_in = _rows_in(df, validation)
    findings = _Findings(rows_in, _outcomes(runnable, validation, rows_in), validation, _strings(df, seen))

    if problems := _fail_reasons(rules, findings, missing):
        return findings.result(None, None, 0, reason="; ".join(problems))

    broken_drop = findings.broken(Action.DROP)
    if not broken_drop:
        return findings.result(df, None, 0)

    split = _Split.of(df, broken_drop, seen)
    quarantined = split.quarantined()
    lines: list[str] | None = None
    if len(broken_drop) == 1:  # GE has counted its rows already, no Spark job needed
        rows_quarantined = broken_drop[0].unexpected
    elif min(rows_in, sum(o.unexpected for o in broken_drop)) <= MAX_QUARANTINE_ROWS_COLLECTED:
        # A row may break more than one rule, so the union is counted: here as the rows are
        # encoded and collected for the quarantine, in one Spark job. GE's counts bound the
        # union (at most their sum), so however big the input, few quarantined rows come here.
        lines = json_lines(quarantined)
        rows_quarantined = len(lines)
    else:
        # Counted, and kept as they are counted: the quarantine write then reads them from
        # memory instead of judging the whole input again (one pass over the input fewer).
        quarantined = quarantined.persist()
        rows_quarantined = quarantined.count()
    if rows_in and rows_quarantined / rows_in > max_drop_ratio:
        quarantined.unpersist()
        reason = _escalation_reason(rows_quarantined, rows_in, max_drop_ratio, broken_drop)
        return findings.result(None, None, rows_quarantined, reason=reason, escalated=True)
    return findings.result(split.passed(), quarantined, rows_quarantined, lines=lines)


def _check_rule_names(rules: Sequence[Rule]) -> None:
    seen: set[str] = set()
    for rule in rules:
        if rule.name in seen:
            raise ValueError(f"duplicate rule name {rule.name!r}: names identify quarantined rows")
        seen.add(rule.name)


def _missing_columns(df: DataFrame, rules: Sequence[Rule]) -> set[str]:
    """Columns some rule needs that the frame lacks (checked before any row rule runs)."""
    present = set(df.columns)
    return {c for rule in rules for c in rule.columns if c not in present}


def _rows_in(df: DataFrame, validation: dict) -> int:
    """Row count, taken from GE's statistics when it computed one (saves a Spark job)."""
    for result in validation.get("results", []):
        stats = result.get("result") or {}
        if "element_count" in stats:
            return int(stats["element_count"])
        if result["expectation_config"]["type"] == "expect_table_row_count_to_be_between":
            if stats.get("observed_value") is not None:
                return int(stats["observed_value"])
    return df.count()


def _outcomes(rules: Sequence[Rule], validation: dict, rows_in: int) -> list[_Outcome]:
    by_name = {r["expectation_config"]["meta"]["rule"]: r for r in validation["results"]}
    return [_outcome(rule, by_name[rule.name], rows_in) for rule in rules]


def _outcome(rule: Rule, result: dict, rows_in: int) -> _Outcome:
    exception = result.get("exception_info") or {}
    if exception.get("raised_exception"):
        return _Outcome(rule, False, rows_in, exception.get("exception_message") or "error")
    # A result with several metric errors nests them one level down, keyed by metric id.
    for value in exception.values():
        if isinstance(value, dict) and value.get("raised_exception"):
            return _Outcome(rule, False, rows_in, value.get("exception_message") or "error")
    if result["success"]:
        return _Outcome(rule, True, 0)
    stats = result.get("result") or {}
    unexpected = stats.get("unexpected_count")
    return _Outcome(rule, False, rows_in if unexpected is None else int(unexpected))


def _fail_reasons(rules: Sequence[Rule], findings: _Findings, missing: set[str]) -> list[str]:
    """One phrase per reason the whole input must be stopped, in suite order."""
    reasons = [
        _fail_phrase(o, findings.rows_in)
        for o in findings.outcomes
        if o.error is not None or (not o.success and o.rule.action == Action.FAIL)
    ]
    # A row rule on a column no column_exists rule declares: it cannot run, and letting the
    # rows through unchecked would defeat the rule, whatever its action.
    declared = {r.columns[0] for r in rules if r.kind == "column_exists"}
    for column in sorted(missing - declared):
        users = ", ".join(repr(r.name) for r in rules if column in r.columns)
        reasons.append(f"column {column!r} is missing, needed by rule {users}")
    return reasons


def _fail_phrase(o: _Outcome, rows_in: int) -> str:
    name = o.rule.name
    if o.error is not None:
        return f"rule {name!r} could not be evaluated: {o.error}"
    if o.rule.kind == "column_exists":
        return f"required column {o.rule.columns[0]!r} is missing (rule {name!r})"
    if o.rule.kind == "row_count":
        wanted = o.rule.params["min_value"]
        return f"rule {name!r} (fail) expects at least {wanted} rows, got {rows_in}"
    return f"rule {name!r} (fail) broken by {o.unexpected} of {rows_in} rows"


@dataclass(frozen=True)
class _Split:
    """The input with one boolean column per broken drop rule, True where a row breaks it
    (null where GE skips the row: read through `_broken`).

    Rows are split on plain booleans; the `_failed_rules` array is built for quarantined rows
    only: every silver write filters all rows, and allocating an array per row would cost
    more than the predicates themselves. The split is evaluated twice (the quarantined rows,
    counted and kept; the silver write), so each verdict must be cheap to recompute.
    """

    judged: DataFrame
    flags: dict[str, str]  # flag column -> rule name

    @classmethod
    def of(cls, df: DataFrame, broken: Sequence[_Outcome], seen: _Seen) -> _Split:
        """`seen`: what GE's validation of `df` saw (`_validate`)."""
        flags = {f"_gate_broken_{i}": o.rule.name for i, o in enumerate(broken)}
        judged, verdicts = df, {}
        for column, outcome in zip(flags, broken, strict=True):
            if _repeated_keys_can_be_looked_up(df, outcome):
                repeated = _repeated_keys_seen(seen, outcome.rule, df)
                if repeated is None:
                    repeated = _repeated_keys(df, outcome.rule)
                judged = _flag_repeated_keys(judged, outcome.rule, column, repeated)
            else:
                predicate = outcome.rule.row_predicate()
                assert predicate is not None, "a drop rule is a row rule (Rule refuses a table-level one)"
                # A null verdict is not a failure, as in GE (its unexpected count skips it): the
                # SQL reading the flags takes null for False (`_broken`). So a flag costs one
                # gateway call, not the ~20 a `coalesce` with its literal takes through py4j.
                verdicts[column] = ~predicate
        # Flags are columns, computed before any filter: a window predicate (unique) must see
        # every row, not the rows left after filtering.
        return cls(judged.withColumns(verdicts), flags)

    # As SQL: one gateway call each, however many rules broke (see etl.transforms).
    @property
    def broken_any_sql(self) -> str:
        return " OR ".join(map(_broken, self.flags))

    def passed(self) -> DataFrame:
        return self.judged.filter(f"NOT ({self.broken_any_sql})").drop(*self.flags)

    def quarantined(self) -> DataFrame:
        names = ", ".join(f"CASE WHEN {_broken(c)} THEN {sql_string(name)} END" for c, name in self.flags.items())
        return (
            self.judged.filter(self.broken_any_sql)
            .withColumn(FAILED_RULES_COLUMN, F.expr(f"array_compact(array({names}))"))
            .drop(*self.flags)
        )


def json_lines(df: DataFrame) -> list[str]:
    """The rows of `df` as Spark's JSON encoding writes them, collected: `DataFrame.toJSON`'s
    lines (both encode through Spark's JacksonGenerator with the session's default options),
    with one gateway call to build the query instead of an RDD of strings handed to Python:
    20-25 ms less for the quarantine of a warm 10,000- or 200,000-row run (bench/RESULTS.md,
    runs Q). A test compares the file with the one Spark's JSON file writer writes."""
    return [row[0] for row in df.selectExpr("to_json(struct(*))").collect()]


def _broken(flag: str) -> str:
    """SQL: the row breaks the rule of `flag` (a null verdict does not: GE skips it)."""
    return f"coalesce({quoted(flag)}, false)"


# `unique` drops. Its row predicate is a window over whole rows: every evaluation of the split
# would shuffle the full input. When GE counted few duplicated rows, their keys are found once
# (recorded by the gate's Spark engine as it counted them, read from the frame its pandas
# engine validated, or else a window over the key alone) and tested with a hash set held in the plan
# (Spark's InSet): no join, and no Spark job to broadcast a lookup table on each of the split's
# evaluations (a table made from driver-side rows is an RDD, collected again per query).


def _repeated_keys_can_be_looked_up(df: DataFrame, outcome: _Outcome) -> bool:
    rule = outcome.rule
    return (
        rule.kind == "unique"
        and outcome.unexpected <= MAX_DUPLICATED_ROWS_LOOKED_UP
        and all(isinstance(df.schema[c].dataType, EXACT_KEY_TYPES) for c in rule.columns)
    )


def _flag_repeated_keys(df: DataFrame, rule: Rule, flag: str, repeated: list[str]) -> DataFrame:
    """`df` plus boolean `flag`: True where the row's key (`_lookup_key`) is in `repeated`."""
    key, any_null = _lookup_key(rule), _any_null(rule.columns)
    # Null key parts never repeat (GE skips them): null-keyed rows pass.
    return df.withColumn(flag, F.coalesce(is_in_values(key, repeated, df.sparkSession), F.lit(False)) & ~any_null)


def _repeated_keys(df: DataFrame, rule: Rule) -> list[str]:
    """The keys (`_lookup_key`) occurring more than once in the gate's input `df`."""
    key, any_null = _lookup_key(rule), _any_null(rule.columns)
    occurrences = F.count(F.lit(1)).over(Window.partitionBy("key"))
    rows = (
        df.where(~any_null)
        .select(key.alias("key"))
        .withColumn("occurrences", occurrences)
        .where(F.col("occurrences") > 1)
        .select("key")
        .distinct()
        .collect()
    )
    return [row.key for row in rows]


def _strings(df: DataFrame, seen: _Seen) -> Any:
    """The string columns of the frame GE's pandas engine validated (None if it did not)."""
    if seen.collected is None:
        return None
    strings = [f.name for f in df.schema.fields if isinstance(f.dataType, T.StringType)]
    return seen.collected[[c for c in seen.collected.columns if c in strings]]


def _repeated_keys_seen(seen: _Seen, rule: Rule, df: DataFrame) -> list[str] | None:
    """`_repeated_keys` without a Spark job of its own, for a one-column key: the values GE's
    Spark engine recorded as it counted the rule (cast to string, as `_lookup_key` does), or,
    for a string key, the frame GE's pandas engine validated; None otherwise."""
    [column, *more] = rule.columns
    if more:
        return None
    if column in seen.repeated:
        return seen.repeated[column]
    collected = seen.collected
    if collected is None or not isinstance(df.schema[column].dataType, T.StringType):
        return None
    values = collected[column]
    repeated = values[values.notna() & values.duplicated(keep=False)]
    return [str(value) for value in repeated.unique()]


def _lookup_key(rule: Rule) -> Column:
    # A string: it round-trips through the driver exactly (a timestamp collected into Python
    # could shift with the driver's time zone); a compound key as one JSON string.
    parts = [F.col(c) for c in rule.columns]
    return parts[0].cast("string") if len(parts) == 1 else F.to_json(F.struct(*parts))


def _any_null(columns: Sequence[str]) -> Column:
    any_null = F.col(columns[0]).isNull()
    for column in columns[1:]:
        any_null = any_null | F.col(column).isNull()
    return any_null


def _escalation_reason(rows_quarantined: int, rows_in: int, max_drop_ratio: float, broken: Sequence[_Outcome]) -> str:
    per_rule = ", ".join(f"{o.rule.name}={o.unexpected}" for o in broken)
    return (
        f"{rows_quarantined} of {rows_in} rows ({rows_quarantined / rows_in:.1%}) dropped, "
        f"above the {max_drop_ratio:.1%} threshold; rules: {per_rule}"
    )
