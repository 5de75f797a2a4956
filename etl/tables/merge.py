"""Merge planning, steps 2 and 3 of a write (see etl.tables): which stored rows hold an
incoming business key, which row wins per key, and what the winners change.

Nothing here commits; `etl.tables.commits` does, with what this module decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from etl.tables.spec import ORIGIN_COLUMN, DatasetSpec

WINNER_COLUMN = "_winner"
_FINGERPRINT = "_fingerprint"
# Up to this many incoming rows, their keys are broadcast to the scan of the stored keys.
MAX_BROADCAST_KEYS = 500_000


@dataclass(frozen=True)
class IncomingStats:
    rows: int
    partitions: list[tuple[Any, ...]] | None  # None: not known before the write
    low: Any  # range of the first key column (None: every value null)
    high: Any


@dataclass(frozen=True)
class ChangeSet:
    """What merging the winners changes: only rows that win or lose are counted."""

    rows_written: int  # incoming rows that win
    touched: list[tuple[Any, ...]]  # partitions where a row wins or loses
    replaced: list[tuple[Any, ...]]  # partitions of the stored rows that lose (the MERGE's targets)
    winners: DataFrame  # the winning incoming rows, in the table's columns


def fingerprint(columns: Sequence[str]) -> Column:
    """A hash of the business columns (micro-second timestamps, nulls included)."""
    as_json = F.to_json(
        F.struct(*[F.col(c) for c in columns]),
        {"timestampFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX", "ignoreNullFields": "false"},
    )
    return F.sha2(as_json, 256)


def mark_merge_winners(
    existing: DataFrame,
    incoming: DataFrame,
    key_columns: Sequence[str],
    business_columns: Sequence[str],
    latest_order: Sequence[str],
) -> DataFrame:
    """All rows of both frames with `_origin` and `_winner` (exactly one winner per key).

    Pure: the precedence rules of the etl.tables docstring, nothing else.
    """
    columns = existing.columns
    both = existing.select(*columns, F.lit(0).alias(ORIGIN_COLUMN)).unionByName(
        incoming.select(*columns, F.lit(1).alias(ORIGIN_COLUMN))
    )
    both = both.withColumn(_FINGERPRINT, fingerprint(business_columns))
    by_key = Window.partitionBy(*key_columns)
    signature = F.concat_ws("|", F.coalesce(F.col("_source_key"), F.lit("")), F.col(_FINGERPRINT))
    existing_sig = F.max(F.when(F.col(ORIGIN_COLUMN) == 0, signature)).over(by_key)
    incoming_sigs = F.collect_set(F.when(F.col(ORIGIN_COLUMN) == 1, signature)).over(by_key)
    unchanged_existing = (F.col(ORIGIN_COLUMN) == 0) & F.array_contains(incoming_sigs, existing_sig)
    ordering = [unchanged_existing.desc()]
    ordering += [F.col(c).desc_nulls_last() for c in latest_order]
    ordering += [F.col(_FINGERPRINT).desc()]
    ranked = both.withColumn("_rank", F.row_number().over(by_key.orderBy(*ordering)))
    return ranked.withColumn(WINNER_COLUMN, F.col("_rank") == 1).drop("_rank", _FINGERPRINT)


def one_row_per_key(spark: SparkSession, incoming: DataFrame, spec: DatasetSpec) -> DataFrame:
    """The incoming rows with each key once: the winner by the dataset's precedence."""
    empty = spark.createDataFrame([], spec.schema)
    marked = mark_merge_winners(empty, incoming, spec.key_columns, spec.business_columns, spec.latest_order)
    return marked.filter(F.col(WINNER_COLUMN)).select(*spec.columns)


def incoming_stats(incoming: DataFrame, spec: DatasetSpec) -> IncomingStats:
    """One Spark job: rows per partition and the range of the first key column."""
    parts, first = list(spec.partition_columns), spec.key_columns[0]
    grouped = incoming.groupBy(*parts) if parts else incoming.groupBy()
    rows = grouped.agg(F.count(F.lit(1)).alias("_n"), F.min(first).alias("_lo"), F.max(first).alias("_hi")).collect()
    rows = [r for r in rows if r["_n"]]
    lows = [r["_lo"] for r in rows if r["_lo"] is not None]
    highs = [r["_hi"] for r in rows if r["_hi"] is not None]
    return IncomingStats(
        rows=sum(int(r["_n"]) for r in rows),
        partitions=[tuple(r[c] for c in parts) for r in rows],
        low=min(lows) if lows else None,
        high=max(highs) if highs else None,
    )


def stored_rows_holding(
    stored: DataFrame, incoming: DataFrame, stats: IncomingStats, spec: DatasetSpec
) -> DataFrame | None:
    """The rows of `stored` (the table) whose key is among the incoming keys, or None when
    there is none. The range filter on the first key column lets Iceberg skip every data file
    whose min/max statistics lie outside the incoming keys' range."""
    if stats.low is None:
        return None  # every incoming key has a null first part: no stored row can equal it
    keys = incoming.select(*spec.key_columns)
    first = spec.key_columns[0]
    in_range = stored.where(F.col(first).between(F.lit(stats.low), F.lit(stats.high)))
    broadcast = stats.rows <= MAX_BROADCAST_KEYS
    hits = in_range.join(F.broadcast(keys) if broadcast else keys, list(spec.key_columns), "left_semi")
    return hits if hits.take(1) else None


def plan_changes(marked: DataFrame, spec: DatasetSpec) -> ChangeSet:
    """What the winners of `marked` (from `mark_merge_winners`, held by the caller) change.

    A partition changes when an incoming row wins in it, or a stored row loses in it (its key
    moved away or was restated)."""
    parts = list(spec.partition_columns)
    incoming_wins = F.col(WINNER_COLUMN) & (F.col(ORIGIN_COLUMN) == 1)
    stored_loses = ~F.col(WINNER_COLUMN) & (F.col(ORIGIN_COLUMN) == 0)
    changed = marked.filter(incoming_wins | stored_loses)
    grouped = changed.groupBy(*parts) if parts else changed.groupBy()
    summary = grouped.agg(
        F.sum(incoming_wins.cast("long")).alias("wins"), F.sum(stored_loses.cast("long")).alias("losses")
    ).collect()
    return ChangeSet(
        rows_written=int(sum(r["wins"] or 0 for r in summary)),
        touched=[tuple(r[c] for c in parts) for r in summary],
        replaced=[tuple(r[c] for c in parts) for r in summary if r["losses"]],
        winners=marked.filter(incoming_wins).select(*spec.columns),
    )
