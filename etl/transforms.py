"""Pure DataFrame helpers shared by the jobs' transforms (no I/O, plain-value parameters)."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, TimestampType

# Every stored row says where it came from and which run wrote it.
LINEAGE_FIELDS = [
    StructField("_source_key", StringType(), True),
    StructField("_ingested_at", TimestampType(), True),
    StructField("_run_id", StringType(), True),
]


# Expressions are written as Spark SQL where that is one gateway call instead of several per
# column (building a plan through the Column API crosses to the JVM for every function and
# literal, a measurable share of a small run: bench/RESULTS.md).


def quoted(column: str) -> str:
    """A column name as a Spark SQL identifier."""
    return "`" + column.replace("`", "``") + "`"


def sql_string(value: str) -> str:
    """A string as a Spark SQL literal (the parser's default escapes: backslash)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def not_folded(value: Column) -> Column:
    """`value` (a literal), in an expression Spark does not fold back into a literal.

    For a value that is one constant per run and new in every run (the run's timestamp):
    Spark writes a timestamp, date or number literal into the Java code it generates for a
    query (a string or decimal one it passes by reference), so every query over it is a class
    of its own, compiled anew in each run and run interpreted until the JIT compiles it again.
    `element_at(transform(array(v), x -> x), 1)` is `v` in a lambda, which the optimizer never
    treats as a constant: the code is the same in every run, and the value is data. It is
    evaluated per row, which costs less than a class per run at every size measured
    (bench/RESULTS.md, runs M)."""
    return F.element_at(F.transform(F.array(value), lambda x: x), 1)


def try_cast(column: str, sql_type: str) -> Column:
    """Cast that yields null instead of failing (and never truncates "1.5" to an int 1)."""
    return F.expr(f"try_cast({quoted(column)} AS {sql_type})")


def blank_to_null(column: str) -> Column:
    """The value trimmed, null when that leaves nothing."""
    return F.expr(f"nullif(trim({quoted(column)}), '')")


def latest_per_key(df: DataFrame, key_columns: Sequence[str], order: Sequence[str]) -> DataFrame:
    """One row per key: the greatest by `order` (all descending, nulls last).

    Rows with a null key part are all kept, so the not-null rules quarantine each of them.
    """
    window = Window.partitionBy(*key_columns).orderBy(*[F.col(c).desc_nulls_last() for c in order])
    any_null = F.lit(False)
    for column in key_columns:
        any_null = any_null | F.col(column).isNull()
    ranked = df.withColumn("_rank", F.row_number().over(window))
    return ranked.filter(any_null | (F.col("_rank") == 1)).drop("_rank")
