"""`IcebergTable`: one dataset's table, created from its spec and written in ONE commit per run
(the steps are in the etl.tables docstring)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession

from etl.jvm import data_files_may_hold
from etl.session import catalog_writes
from etl.tables.commits import Committer, partition_dicts
from etl.tables.merge import (
    IncomingStats,
    incoming_stats,
    mark_merge_winners,
    one_row_per_key,
    plan_changes,
    stored_rows_holding,
)
from etl.tables.spec import Commit, DatasetSpec, WriteResult
from etl.transforms import quoted

# Table properties of every silver/gold table (here and in the Pulumi catalog component).
TABLE_PROPERTIES: dict[str, str] = {
    "format-version": "2",
    # Row-level changes rewrite the affected data files (copy-on-write) rather than adding
    # delete files: every engine reads the result as plain Parquet, and loads are batch.
    "write.delete.mode": "copy-on-write",
    "write.update.mode": "copy-on-write",
    "write.merge.mode": "copy-on-write",
    # Parquet: Iceberg's default codec (zstd) and dictionaries only for columns with few values
    # (dates, countries, run constants). parquet-mr keeps a column chunk dictionary-encoded until
    # its dictionary passes this size; at Iceberg's default (2 MB) every file of a daily
    # partition dictionary-encodes its ids and timestamps, all distinct, which took a third of
    # the append. 16 KB: the same file sizes with zstd, the append about 30% faster
    # (bench/RESULTS.md). https://iceberg.apache.org/docs/1.7.1/configuration/#write-properties
    "write.parquet.compression-codec": "zstd",
    "write.parquet.dict-size-bytes": "16384",
    # Old metadata.json files are deleted as new ones are written (snapshots stay until the
    # maintenance job expires them).
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "100",
}


def create_table_sql(spec: DatasetSpec) -> str:
    columns = ", ".join(f"{quoted(f.name)} {f.dataType.simpleString()}" for f in spec.schema.fields)
    partitioned = (
        f" PARTITIONED BY ({', '.join(map(quoted, spec.partition_columns))})" if spec.partition_columns else ""
    )
    properties = ", ".join(f"'{k}'='{v}'" for k, v in TABLE_PROPERTIES.items())
    location = spec.location.replace("'", "\\'")
    return (
        f"CREATE TABLE IF NOT EXISTS {spec.identifier} ({columns}) USING iceberg{partitioned} "
        f"LOCATION '{location}' TBLPROPERTIES ({properties})"
    )


class IcebergTable:
    """One dataset's table, through the run's SparkSession (`etl.session.table_session`):
    it decides what a write commits (with etl.tables.merge), `Committer` commits it."""

    def __init__(self, spark: SparkSession, spec: DatasetSpec) -> None:
        self.spark = spark
        self.spec = spec
        self._commits = Committer(spark, spec)

    # ---- the table ---------------------------------------------------------------------------

    def ensure(self) -> None:
        """Create the namespace and the table unless they exist; refuse a table whose columns
        differ from the spec (a schema change needs a migration, not a silent rewrite)."""
        try:
            stored = self.spark.table(self.spec.identifier).schema  # one catalog lookup when it exists
        except AnalysisException:
            namespace = self.spec.identifier.rsplit(".", 1)[0]
            with catalog_writes(self.spark):  # another process may be creating it right now
                self.spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {namespace}")
                self.spark.sql(create_table_sql(self.spec))
            stored = self.spark.table(self.spec.identifier).schema
        wanted = [(f.name, f.dataType.simpleString()) for f in self.spec.schema.fields]
        actual = [(f.name, f.dataType.simpleString()) for f in stored.fields]
        if actual != wanted:
            missing = sorted(set(wanted) - set(actual))
            extra = sorted(set(actual) - set(wanted))
            raise RuntimeError(
                f"table {self.spec.identifier} does not have the columns its job declares "
                f"(declared, not stored: {missing or 'none'}; stored, not declared: {extra or 'none'}); "
                "migrate the table (ALTER TABLE) before running the new job version"
            )

    def current_snapshot_id(self) -> int | None:
        return self._commits.current_snapshot_id()

    def read(self) -> DataFrame:
        return self.spark.table(self.spec.identifier)

    # ---- writes ------------------------------------------------------------------------------

    def merge(
        self,
        incoming: DataFrame,
        commit: Commit,
        *,
        keys_unique: bool = False,
        incoming_rows: int | None = None,
        first_key_range: tuple[Any, Any] | None = None,
    ) -> WriteResult:
        """Upsert `incoming` (rows in the dataset schema) by the business key, in one commit.

        `keys_unique`: the caller guarantees no key occurs twice in `incoming` (its quality
        gate dropped repeated keys). `incoming_rows`: the row count of `incoming` when known.
        `first_key_range`: (low, high) bounds every non-null value of the first key column in
        `incoming` lies within, when known ((None, None): all null)."""
        spec = self.spec
        self.ensure()
        base = self.current_snapshot_id()
        incoming = incoming.select(*spec.columns)
        if incoming_rows == 0:
            return WriteResult(base_snapshot_id=base)
        if not keys_unique:
            incoming = one_row_per_key(self.spark, incoming, spec)
        if base is None and incoming_rows is not None:
            # An empty table holds no key: a first write appends rows known to exist, and the
            # snapshot's own metadata says what it added, instead of a Spark job over the rows
            # first (1.2 s for 2,000,000 rows, 0.1 s more than reading the metadata at 10,000:
            # bench/RESULTS.md).
            return self._append(incoming, commit, None, base)
        if keys_unique and incoming_rows is not None and first_key_range is not None:
            # The caller knows the row count and bounds of the keys (its gate read the rows):
            # no stats job (a warm 5,000-row daily file spent 58-140 ms in it: bench/RESULTS.md,
            # runs Q), and an append reads its partitions from its snapshot, as a first write
            # does. Bounds wider than the keys only widen the lookup of stored rows below.
            stats = IncomingStats(incoming_rows, None, *first_key_range)
        else:
            stats = incoming_stats(incoming, spec)
        if not stats.rows:
            return WriteResult(base_snapshot_id=base)
        hits = None if base is None else self._stored_rows_holding(incoming, stats)
        if hits is None:  # no stored row holds an incoming key (new keys only): append
            result = self._append(incoming, commit, stats, base)
        else:
            result = self._merge_changes(incoming, hits, commit, base)
        result.base_snapshot_id = base
        return result

    def replace_partitions(self, rows: DataFrame, partitions: Sequence[tuple[Any, ...]], commit: Commit) -> WriteResult:
        """Replace whole partitions with `rows` in one commit (gold recomputation): rows of
        other partitions are ignored; a listed partition without rows becomes empty."""
        self.ensure()
        base = self.current_snapshot_id()
        if not partitions:
            return WriteResult(base_snapshot_id=base)
        self._commits.overwrite(rows, partitions, commit)
        snapshot_id = self._commits.committed(commit, base)
        return WriteResult(
            rows_written=self._commits.added_records(snapshot_id),
            snapshot_id=snapshot_id,
            partitions=partition_dicts(self.spec.partition_columns, partitions),
            operation="overwrite",
            base_snapshot_id=base,
        )

    def _stored_rows_holding(self, incoming: DataFrame, stats: IncomingStats) -> DataFrame | None:
        first = self.spec.key_columns[0]
        if _plannable(stats.low) and _plannable(stats.high):
            # Iceberg's scan planning, in the driver: no data file's statistics meet the range.
            if not data_files_may_hold(self.spark, self.spec.identifier, first, stats.low, stats.high):
                return None
        return stored_rows_holding(self.read(), incoming, stats, self.spec)

    def _append(self, rows: DataFrame, commit: Commit, stats: IncomingStats | None, base: int | None) -> WriteResult:
        """`stats` None, or without partitions: what the append added is read from its snapshot."""
        self._commits.append(rows, commit)
        snapshot_id = self._commits.committed(commit, base)
        if stats is None or stats.partitions is None:
            rows_written, partitions = self._commits.added(snapshot_id)
        else:
            rows_written, partitions = stats.rows, stats.partitions
        return WriteResult(
            rows_written=rows_written,
            snapshot_id=snapshot_id,
            partitions=partition_dicts(self.spec.partition_columns, partitions),
            operation="append",
        )

    def _merge_changes(self, incoming: DataFrame, hits: DataFrame, commit: Commit, base: int | None) -> WriteResult:
        spec = self.spec
        marked = mark_merge_winners(hits, incoming, spec.key_columns, spec.business_columns, spec.latest_order)
        marked = marked.persist()
        try:
            changes = plan_changes(marked, spec)
            if not changes.rows_written:
                return WriteResult()
            self._commits.merge_into(changes.winners, changes.replaced, commit)
        finally:
            marked.unpersist()
        snapshot_id = self._commits.committed(commit, base)
        return WriteResult(
            rows_written=changes.rows_written,
            snapshot_id=snapshot_id,
            partitions=partition_dicts(spec.partition_columns, changes.touched),
            operation="merge",
        )


def _plannable(value: Any) -> bool:
    """A key bound Iceberg's planning compares exactly as Spark's filter does: an ASCII string
    (code point, UTF-16 and UTF-8 byte orders agree) or an integer."""
    return (isinstance(value, str) and value.isascii()) or (isinstance(value, int) and not isinstance(value, bool))
