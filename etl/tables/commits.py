"""Committing to a dataset's table, step 4 of a write (see etl.tables): each write is ONE
Iceberg commit whose snapshot carries the run (`Commit`), taken under the catalog's write lock
(`etl.session.catalog_writes`) and announced by the `commit` stage line just before it is
made, then checked: the table's current snapshot must have moved on.

What to commit is decided by the caller (`IcebergTable`, with `etl.tables.merge`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pyspark.sql import Column, DataFrame, DataFrameWriterV2, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DataType, DateType

from etl.jvm import added_data_files, added_records, commit_with_properties, current_snapshot_id
from etl.session import catalog_writes
from etl.tables.spec import Commit, DatasetSpec
from etl.transforms import quoted, sql_string

log = logging.getLogger("etl")


class Committer:
    """The commits of one table, through the run's SparkSession."""

    def __init__(self, spark: SparkSession, spec: DatasetSpec) -> None:
        self.spark = spark
        self.spec = spec

    def current_snapshot_id(self) -> int | None:
        """A catalog lookup in the driver, no Spark job (etl.jvm)."""
        return current_snapshot_id(self.spark, self.spec.identifier)

    def append(self, rows: DataFrame, commit: Commit) -> None:
        writer = _with_snapshot_properties(rows.writeTo(self.spec.identifier), commit)
        self._announce(commit, "append")
        with catalog_writes(self.spark):
            writer.append()

    def overwrite(self, rows: DataFrame, partitions: Sequence[tuple[Any, ...]], commit: Commit) -> None:
        """Whole partitions replaced by `rows` (rows of other partitions are ignored)."""
        condition = partition_condition(self.spec.partition_columns, partitions)
        writer = rows.select(*self.spec.columns).filter(condition).writeTo(self.spec.identifier)
        writer = _with_snapshot_properties(writer, commit)
        self._announce(commit, "overwrite")
        with catalog_writes(self.spark):
            writer.overwrite(condition)

    def merge_into(self, winners: DataFrame, replaced: Sequence[tuple[Any, ...]], commit: Commit) -> None:
        """`MERGE INTO` of `winners` by business key; `replaced` are the partitions of the stored
        rows they replace."""
        view = f"_lake_changes_{abs(hash((commit.run_id, self.spec.identifier)))}"
        winners.createOrReplaceTempView(view)
        try:
            statement = merge_sql(self.spec, view, replaced)
            self._announce(commit, "merge")
            with catalog_writes(self.spark):
                commit_with_properties(self.spark, commit.properties(), lambda: self.spark.sql(statement))
        finally:
            self.spark.catalog.dropTempView(view)

    def committed(self, commit: Commit, base: int | None) -> int:
        """The snapshot this run just committed: the table's current one, which must have
        moved on from `base` (one writer per table; anything else is a bug worth stopping for)."""
        snapshot_id = self.current_snapshot_id()
        if snapshot_id is None or snapshot_id == base:
            raise RuntimeError(
                f"table {self.spec.identifier}: run {commit.run_id} committed, but the current snapshot is still {base}"
            )
        log.info(
            "committed job=%s run_id=%s table=%s snapshot=%s",
            commit.job,
            commit.run_id,
            self.spec.identifier,
            snapshot_id,
        )
        return snapshot_id

    def added_records(self, snapshot_id: int) -> int:
        """The rows a snapshot added, from its summary (etl.jvm: no Spark job)."""
        return added_records(self.spark, self.spec.identifier, snapshot_id)

    def added(self, snapshot_id: int) -> tuple[int, list[tuple[Any, ...]]]:
        """The rows a snapshot's new data files hold and their partitions, from its manifests:
        read by Iceberg in the driver (etl.jvm), or else through the `entries` metadata table."""
        parts = list(self.spec.partition_columns)
        files = added_data_files(self.spark, self.spec.identifier, snapshot_id, parts)
        if files is not None:
            return sum(rows for rows, _ in files), list({values for _, values in files} if parts else {()})
        partition = ", data_file.partition AS p" if parts else ""  # unpartitioned files have none
        entries = self.spark.sql(
            f"SELECT data_file.record_count AS n{partition} FROM {self.spec.identifier}.entries "
            f"WHERE snapshot_id = {snapshot_id} AND status = 1"  # 1: ADDED
        ).collect()
        partitions = {tuple(e["p"][c] for c in parts) for e in entries} if parts else {()}
        return sum(int(e["n"]) for e in entries), list(partitions)

    def _announce(self, commit: Commit, operation: str) -> None:
        # Data files are written first, then the commit swaps the table's metadata pointer.
        log.info(
            "stage job=%s run_id=%s name=commit table=%s operation=%s",
            commit.job,
            commit.run_id,
            self.spec.identifier,
            operation,
        )


def _with_snapshot_properties(writer: DataFrameWriterV2, commit: Commit) -> DataFrameWriterV2:
    """A DataFrame write passes the snapshot's properties as write options (SQL cannot, see
    etl.jvm.commit_with_properties)."""
    for key, value in commit.properties().items():
        writer = writer.option(f"snapshot-property.{key}", value)
    return writer


def merge_sql(spec: DatasetSpec, view: str, replaced: Sequence[tuple[Any, ...]]) -> str:
    """MERGE of the winning rows by business key. The target is limited to the partitions
    of the stored rows it replaces (only they can match), so Iceberg plans no other file."""
    on = " AND ".join(f"t.{quoted(k)} <=> s.{quoted(k)}" for k in spec.key_columns)
    if spec.partition_columns and replaced:
        on += f" AND ({partition_sql(spec, replaced, alias='t')})"
    return (
        f"MERGE INTO {spec.identifier} t USING {view} s ON {on} "
        "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
    )


# ---- partitions ------------------------------------------------------------------------------


def partition_condition(partition_columns: Sequence[str], partitions: Sequence[tuple[Any, ...]]) -> Column:
    parts = list(partition_columns)
    if not parts:
        return F.lit(True)
    condition = F.lit(False)
    for values in partitions:
        match = F.lit(True)
        for column, value in zip(parts, values, strict=True):
            match = match & (F.col(column).isNull() if value is None else (F.col(column) == F.lit(value)))
        condition = condition | match
    return condition


def partition_sql(spec: DatasetSpec, partitions: Sequence[tuple[Any, ...]], *, alias: str) -> str:
    terms = []
    for values in partitions:
        conjuncts = []
        for column, value in zip(spec.partition_columns, values, strict=True):
            ref = f"{alias}.{quoted(column)}"
            conjuncts.append(
                f"{ref} IS NULL" if value is None else f"{ref} = {sql_literal(value, spec.schema[column].dataType)}"
            )
        terms.append("(" + " AND ".join(conjuncts) + ")")
    return " OR ".join(terms)


def partition_dicts(
    partition_columns: Sequence[str], partitions: Sequence[tuple[Any, ...]]
) -> list[dict[str, str | None]]:
    parts = list(partition_columns)
    unique = sorted(set(partitions), key=lambda values: tuple((v is None, str(v)) for v in values))
    return [{c: (None if v is None else str(v)) for c, v in zip(parts, values, strict=True)} for values in unique]


def sql_literal(value: Any, data_type: DataType) -> str:
    """A partition value as a Spark SQL literal (for the MERGE's partition filter)."""
    if value is None:
        raise ValueError("null has no literal; compare with IS NULL")
    if isinstance(data_type, DateType) or isinstance(value, date) and not isinstance(value, datetime):
        return f"DATE'{value.isoformat()}'"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return f"CAST({value} AS {data_type.simpleString()})"
    if isinstance(value, str):
        return sql_string(value)
    raise ValueError(f"no SQL literal for partition value {value!r} ({data_type.simpleString()})")
