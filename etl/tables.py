"""Silver and gold datasets as Apache Iceberg tables (format version 2): creating a table from
the job's dataset spec, and writing one run's rows in ONE commit.

A run's write (`IcebergTable.merge`):

1. Creates the table if it does not exist yet (schema, partitioning and properties from the
   spec; in the cloud the Pulumi catalog component declares the same table).
2. Looks up the stored rows that hold an incoming business key, reading only data files
   whose column statistics (min/max of the first key column) meet the incoming keys' range:
   with growing keys (order numbers) that is no file at all.
3. Applies the dataset's precedence per key (`mark_merge_winners`): the STORED row is kept
   when the incoming row has the same `_source_key` and identical business columns
   (reprocessing a bronze object changes nothing, `_ingested_at`/`_run_id` included);
   otherwise the dataset's `latest_order` decides (greatest wins), then a content hash.
4. Commits: nothing when no incoming row wins (no snapshot); an APPEND when no stored row
   holds an incoming key (the usual daily load: nothing stored is read or rewritten); else a
   `MERGE INTO` on the business key of just the winning rows (a restated key moves to its new
   partition instead of being duplicated; copy-on-write, so every reader sees plain data
   files).

Every commit's snapshot summary carries the run (`lake.run-id`), the job (`lake.job`) and
the source objects with their etags (`lake.sources`), so the table itself answers which
run wrote what; `lake history` and `lake rollback` read them.

What readers see if a run is killed: Iceberg publishes a commit by swapping the table's
metadata pointer in the catalog (a compare-and-swap in the Glue Data Catalog, a SQLite
transaction locally), so a reader sees the table at the previous snapshot or at the new one,
never between. Data files a killed run wrote are not referenced by any snapshot; the
maintenance job's `remove_orphan_files` deletes them.

Concurrency: one writer per table (the stack config refuses `max_concurrent_runs` other
than 1 and two jobs writing one dataset). Iceberg would detect a conflicting concurrent
commit and fail it (serializable isolation), but step 2 and the commit are not one
transaction, so the config keeps writers apart instead of retrying.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import DataType, DateType, StructType

from etl.catalog import table_identifier
from etl.jvm import commit_with_properties
from etl.session import catalog_writes
from etl.storage import ObjectInfo

log = logging.getLogger("etl")

METADATA_COLUMNS = ("_source_key", "_ingested_at", "_run_id")
_ORIGIN = "_origin"  # 0 stored, 1 incoming
_WINNER = "_winner"
_FINGERPRINT = "_fingerprint"
# Up to this many incoming rows, their keys are broadcast to the scan of the stored keys.
MAX_BROADCAST_KEYS = 500_000

# Snapshot summary keys (Iceberg keeps every summary property; ours carry the `lake.` prefix).
SUMMARY_RUN_ID = "lake.run-id"
SUMMARY_JOB = "lake.job"
SUMMARY_SOURCES = "lake.sources"

# Table properties of every silver/gold table (here and in the Pulumi catalog component).
TABLE_PROPERTIES: dict[str, str] = {
    "format-version": "2",
    # Row-level changes rewrite the affected data files (copy-on-write) rather than adding
    # delete files: every engine reads the result as plain Parquet, and loads are batch.
    "write.delete.mode": "copy-on-write",
    "write.update.mode": "copy-on-write",
    "write.merge.mode": "copy-on-write",
    "write.parquet.compression-codec": "snappy",
    # Old metadata.json files are deleted as new ones are written (snapshots stay until the
    # maintenance job expires them).
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "100",
}


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset's table: where it lives, its schema, and how its rows are identified and ordered."""

    database: str
    dataset: str
    location: str  # the table's root: `s3://<bucket>/<dataset>` or `<home>/<bucket>/<dataset>`
    schema: StructType
    key_columns: tuple[str, ...]
    partition_columns: tuple[str, ...] = ()
    # Columns compared descending to pick the winner per key; `_origin` (1 incoming, 0
    # stored) lets "the run being processed wins" be expressed.
    latest_order: tuple[str, ...] = (_ORIGIN, "_source_key")

    @property
    def identifier(self) -> str:
        return table_identifier(self.database, self.dataset)

    @property
    def business_columns(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.schema.fields if f.name not in METADATA_COLUMNS)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.schema.fieldNames())


@dataclass(frozen=True)
class Commit:
    """What a run records in the snapshot it commits."""

    run_id: str
    job: str
    sources: tuple[ObjectInfo, ...] = ()

    def properties(self) -> dict[str, str]:
        sources = [o.to_dict() for o in sorted(self.sources)]
        return {SUMMARY_RUN_ID: self.run_id, SUMMARY_JOB: self.job,
                SUMMARY_SOURCES: json.dumps(sources, separators=(",", ":"))}


@dataclass
class WriteResult:
    rows_written: int = 0  # incoming rows that changed the table
    partitions: list[dict[str, str | None]] = field(default_factory=list)  # partitions changed
    snapshot_id: int | None = None  # None when the run committed nothing
    operation: str = "none"  # append | merge | overwrite | none
    # The table's current snapshot when the run read it (None: empty table). A rollback to a
    # snapshot this is not an ancestor of un-records the run in the ledger (etl.ledger).
    base_snapshot_id: int | None = None


@dataclass(frozen=True)
class _IncomingStats:
    rows: int
    partitions: list[tuple[Any, ...]]
    low: Any  # range of the first key column (None: every value null)
    high: Any


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

    Pure: the precedence rules of the module docstring, nothing else.
    """
    columns = existing.columns
    both = existing.select(*columns, F.lit(0).alias(_ORIGIN)).unionByName(
        incoming.select(*columns, F.lit(1).alias(_ORIGIN))
    )
    both = both.withColumn(_FINGERPRINT, fingerprint(business_columns))
    by_key = Window.partitionBy(*key_columns)
    signature = F.concat_ws("|", F.coalesce(F.col("_source_key"), F.lit("")), F.col(_FINGERPRINT))
    existing_sig = F.max(F.when(F.col(_ORIGIN) == 0, signature)).over(by_key)
    incoming_sigs = F.collect_set(F.when(F.col(_ORIGIN) == 1, signature)).over(by_key)
    unchanged_existing = (F.col(_ORIGIN) == 0) & F.array_contains(incoming_sigs, existing_sig)
    ordering = [unchanged_existing.desc()]
    ordering += [F.col(c).desc_nulls_last() for c in latest_order]
    ordering += [F.col(_FINGERPRINT).desc()]
    ranked = both.withColumn("_rank", F.row_number().over(by_key.orderBy(*ordering)))
    return ranked.withColumn(_WINNER, F.col("_rank") == 1).drop("_rank", _FINGERPRINT)


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
        escaped = value.replace("\\", "\\\\").replace("'", "\\'")
        return f"'{escaped}'"
    raise ValueError(f"no SQL literal for partition value {value!r} ({data_type.simpleString()})")


def _quoted(column: str) -> str:
    return "`" + column.replace("`", "``") + "`"


def create_table_sql(spec: DatasetSpec) -> str:
    columns = ", ".join(f"{_quoted(f.name)} {f.dataType.simpleString()}" for f in spec.schema.fields)
    partitioned = f" PARTITIONED BY ({', '.join(map(_quoted, spec.partition_columns))})" if spec.partition_columns else ""
    properties = ", ".join(f"'{k}'='{v}'" for k, v in TABLE_PROPERTIES.items())
    location = spec.location.replace("'", "\\'")
    return (f"CREATE TABLE IF NOT EXISTS {spec.identifier} ({columns}) USING iceberg{partitioned} "
            f"LOCATION '{location}' TBLPROPERTIES ({properties})")


class IcebergTable:
    """One dataset's table, through the run's SparkSession (`etl.session.table_session`)."""

    def __init__(self, spark: SparkSession, spec: DatasetSpec) -> None:
        self.spark = spark
        self.spec = spec

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
                "migrate the table (ALTER TABLE) before running the new job version")

    def current_snapshot_id(self) -> int | None:
        """From the table's properties (a catalog lookup in the driver, no Spark job)."""
        row = self.spark.sql(f"SHOW TBLPROPERTIES {self.spec.identifier} ('current-snapshot-id')").first()
        value = row["value"] if row is not None else "none"
        return None if value in (None, "none", "") or not value.lstrip("-").isdigit() else int(value)

    def read(self) -> DataFrame:
        return self.spark.table(self.spec.identifier)

    # ---- writes ------------------------------------------------------------------------------

    def merge(self, incoming: DataFrame, commit: Commit, *, keys_unique: bool = False,
              incoming_rows: int | None = None) -> WriteResult:
        """Upsert `incoming` (rows in the dataset schema) by the business key, in one commit.

        `keys_unique`: the caller guarantees no key occurs twice in `incoming` (its quality
        gate dropped repeated keys). `incoming_rows`: the row count of `incoming` when known."""
        spec = self.spec
        self.ensure()
        base = self.current_snapshot_id()
        incoming = incoming.select(*spec.columns)
        if incoming_rows == 0:
            return WriteResult(base_snapshot_id=base)
        if not keys_unique:
            incoming = self._latest_per_key(incoming)
        stats = self._incoming_stats(incoming)
        if not stats.rows:
            return WriteResult(base_snapshot_id=base)
        hits = None if base is None else self._stored_rows_holding(incoming, stats, broadcast=stats.rows <= MAX_BROADCAST_KEYS)
        if hits is None:  # no stored row holds an incoming key (new keys only): append
            result = self._append(incoming, commit, stats, base)
        else:
            result = self._merge_changes(incoming, hits, commit, base)
        result.base_snapshot_id = base
        return result

    def replace_partitions(self, rows: DataFrame, partitions: Sequence[tuple[Any, ...]], commit: Commit) -> WriteResult:
        """Replace whole partitions with `rows` in one commit (gold recomputation): rows of
        other partitions are ignored; a listed partition without rows becomes empty."""
        spec = self.spec
        self.ensure()
        base = self.current_snapshot_id()
        if not partitions:
            return WriteResult(base_snapshot_id=base)
        condition = self._partition_condition(partitions)
        writer = rows.select(*spec.columns).filter(condition).writeTo(spec.identifier)
        for key, value in commit.properties().items():
            writer = writer.option(f"snapshot-property.{key}", value)
        self._commit_log(commit, "overwrite")
        with catalog_writes(self.spark):
            writer.overwrite(condition)
        snapshot_id = self._committed(commit, base)
        added = self.spark.sql(f"SELECT summary['added-records'] FROM {spec.identifier}.snapshots "
                               f"WHERE snapshot_id = {snapshot_id}").first()
        return WriteResult(rows_written=int(added[0] or 0) if added else 0, snapshot_id=snapshot_id,
                           partitions=self._partition_dicts(partitions), operation="overwrite", base_snapshot_id=base)

    def _latest_per_key(self, incoming: DataFrame) -> DataFrame:
        spec = self.spec
        empty = self.spark.createDataFrame([], spec.schema)
        marked = mark_merge_winners(empty, incoming, spec.key_columns, spec.business_columns, spec.latest_order)
        return marked.filter(F.col(_WINNER)).select(*spec.columns)

    def _incoming_stats(self, incoming: DataFrame) -> _IncomingStats:
        """One Spark job: rows per partition and the range of the first key column."""
        spec = self.spec
        parts, first = list(spec.partition_columns), spec.key_columns[0]
        grouped = incoming.groupBy(*parts) if parts else incoming.groupBy()
        rows = grouped.agg(F.count(F.lit(1)).alias("_n"), F.min(first).alias("_lo"), F.max(first).alias("_hi")).collect()
        rows = [r for r in rows if r["_n"]]
        lows = [r["_lo"] for r in rows if r["_lo"] is not None]
        highs = [r["_hi"] for r in rows if r["_hi"] is not None]
        return _IncomingStats(rows=sum(int(r["_n"]) for r in rows), partitions=[tuple(r[c] for c in parts) for r in rows],
                              low=min(lows) if lows else None, high=max(highs) if highs else None)

    def _append(self, rows: DataFrame, commit: Commit, stats: _IncomingStats, base: int | None) -> WriteResult:
        writer = rows.writeTo(self.spec.identifier)
        for key, value in commit.properties().items():
            writer = writer.option(f"snapshot-property.{key}", value)
        self._commit_log(commit, "append")
        with catalog_writes(self.spark):
            writer.append()
        snapshot_id = self._committed(commit, base)
        return WriteResult(rows_written=stats.rows, snapshot_id=snapshot_id,
                           partitions=self._partition_dicts(stats.partitions), operation="append")

    def _commit_log(self, commit: Commit, operation: str) -> None:
        # Data files are written first, then the commit swaps the table's metadata pointer.
        log.info("stage job=%s run_id=%s name=commit table=%s operation=%s", commit.job, commit.run_id,
                 self.spec.identifier, operation)

    def _committed(self, commit: Commit, base: int | None) -> int:
        """The snapshot this run just committed: the table's current one, which must have
        moved on from `base` (one writer per table; anything else is a bug worth stopping for)."""
        snapshot_id = self.current_snapshot_id()
        if snapshot_id is None or snapshot_id == base:
            raise RuntimeError(f"table {self.spec.identifier}: run {commit.run_id} committed, but the current "
                               f"snapshot is still {base}")
        log.info("committed job=%s run_id=%s table=%s snapshot=%s", commit.job, commit.run_id,
                 self.spec.identifier, snapshot_id)
        return snapshot_id

    def _stored_rows_holding(self, incoming: DataFrame, stats: _IncomingStats, *, broadcast: bool) -> DataFrame | None:
        """The stored rows whose key is among the incoming keys, or None when there is none.
        The range filter on the first key column lets Iceberg skip every data file whose
        min/max statistics lie outside the incoming keys' range."""
        spec = self.spec
        if stats.low is None:
            return None  # every incoming key has a null first part: no stored row can equal it
        keys = incoming.select(*spec.key_columns)
        first = spec.key_columns[0]
        stored = self.read().where(F.col(first).between(F.lit(stats.low), F.lit(stats.high)))
        hits = stored.join(F.broadcast(keys) if broadcast else keys, list(spec.key_columns), "left_semi")
        return hits if hits.take(1) else None

    def _merge_changes(self, incoming: DataFrame, hits: DataFrame, commit: Commit, base: int | None) -> WriteResult:
        spec = self.spec
        parts = list(spec.partition_columns)
        marked = mark_merge_winners(hits, incoming, spec.key_columns, spec.business_columns, spec.latest_order)
        marked = marked.persist()
        try:
            # A partition changes when an incoming row wins in it, or a stored row loses in it
            # (its key moved away or was restated).
            incoming_wins = F.col(_WINNER) & (F.col(_ORIGIN) == 1)
            stored_loses = ~F.col(_WINNER) & (F.col(_ORIGIN) == 0)
            changed = marked.filter(incoming_wins | stored_loses)
            grouped = changed.groupBy(*parts) if parts else changed.groupBy()
            summary = grouped.agg(F.sum(incoming_wins.cast("long")).alias("wins"),
                                  F.sum(stored_loses.cast("long")).alias("losses")).collect()
            rows_written = int(sum(r["wins"] or 0 for r in summary))
            if not rows_written:
                return WriteResult()
            touched = [tuple(r[c] for c in parts) for r in summary]
            stored_partitions = [tuple(r[c] for c in parts) for r in summary if r["losses"]]
            winners = marked.filter(incoming_wins).select(*spec.columns)
            view = f"_lake_changes_{abs(hash((commit.run_id, spec.identifier)))}"
            winners.createOrReplaceTempView(view)
            try:
                statement = self._merge_sql(view, stored_partitions)
                self._commit_log(commit, "merge")
                with catalog_writes(self.spark):
                    commit_with_properties(self.spark, commit.properties(), lambda: self.spark.sql(statement))
            finally:
                self.spark.catalog.dropTempView(view)
        finally:
            marked.unpersist()
        snapshot_id = self._committed(commit, base)
        return WriteResult(rows_written=rows_written, partitions=self._partition_dicts(touched),
                           snapshot_id=snapshot_id, operation="merge")

    def _merge_sql(self, view: str, stored_partitions: Sequence[tuple[Any, ...]]) -> str:
        """MERGE of the winning rows by business key. The target is limited to the partitions
        of the stored rows it replaces (only they can match), so Iceberg plans no other file."""
        spec = self.spec
        on = " AND ".join(f"t.{_quoted(k)} <=> s.{_quoted(k)}" for k in spec.key_columns)
        if spec.partition_columns and stored_partitions:
            on += f" AND ({self._partition_sql(stored_partitions, alias='t')})"
        return (f"MERGE INTO {spec.identifier} t USING {view} s ON {on} "
                "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *")

    # ---- partitions --------------------------------------------------------------------------

    def _partition_condition(self, partitions: Sequence[tuple[Any, ...]]) -> Column:
        parts = list(self.spec.partition_columns)
        if not parts:
            return F.lit(True)
        condition = F.lit(False)
        for values in partitions:
            match = F.lit(True)
            for column, value in zip(parts, values, strict=True):
                match = match & (F.col(column).isNull() if value is None else (F.col(column) == F.lit(value)))
            condition = condition | match
        return condition

    def _partition_sql(self, partitions: Sequence[tuple[Any, ...]], *, alias: str) -> str:
        parts = list(self.spec.partition_columns)
        terms = []
        for values in partitions:
            conjuncts = []
            for column, value in zip(parts, values, strict=True):
                ref = f"{alias}.{_quoted(column)}"
                conjuncts.append(f"{ref} IS NULL" if value is None
                                 else f"{ref} = {sql_literal(value, self.spec.schema[column].dataType)}")
            terms.append("(" + " AND ".join(conjuncts) + ")")
        return " OR ".join(terms)

    def _partition_dicts(self, partitions: Sequence[tuple[Any, ...]]) -> list[dict[str, str | None]]:
        parts = list(self.spec.partition_columns)
        unique = sorted(set(partitions), key=lambda values: tuple((v is None, str(v)) for v in values))
        return [{c: (None if v is None else str(v)) for c, v in zip(parts, values, strict=True)} for values in unique]


def snapshot_properties(summary: Mapping[str, str]) -> dict[str, Any]:
    """The run facts a snapshot summary carries (`run_id`, `job`, `sources`), where present."""
    sources_text = summary.get(SUMMARY_SOURCES)
    try:
        sources = json.loads(sources_text) if sources_text else []
    except ValueError:
        sources = []
    return {"run_id": summary.get(SUMMARY_RUN_ID), "job": summary.get(SUMMARY_JOB), "sources": sources}


# ---- the table as an Iceberg schema (for the Glue Data Catalog) ------------------------------

# Spark type name -> Iceberg primitive type. Spark's `timestamp` is a timestamp with time zone
# (an instant), which Iceberg calls `timestamptz` and Spark reads back as `timestamp`.
# https://iceberg.apache.org/spec/#primitive-types, https://iceberg.apache.org/docs/1.7.1/spark-getting-started/#spark-type-to-iceberg-type
_ICEBERG_PRIMITIVES = {
    "string": "string", "integer": "int", "long": "long", "float": "float", "double": "double",
    "boolean": "boolean", "date": "date", "timestamp": "timestamptz", "timestamp_ntz": "timestamp",
    "binary": "binary",
}
# Iceberg's own numbering when a table is created: the first partition field gets this id.
PARTITION_FIELD_ID_START = 1000


def iceberg_schema(schema: StructType) -> dict[str, Any]:
    """A dataset's Spark schema as an Iceberg schema (the JSON of the table spec), with field
    ids assigned as Iceberg does: each struct's fields first, then the types nested in them.

    Every field is optional, as `create_table_sql` creates them (its DDL has no NOT NULL), so a
    table made by the catalog reads back in Spark as exactly the spec's types. Types Iceberg
    has no equal for (Spark's byte, short, char, interval) are refused."""
    from itertools import count

    return {"type": "struct", "schema-id": 0, "fields": _iceberg_fields(schema, count(1).__next__)}


def _iceberg_fields(struct: StructType, next_id: Any) -> list[dict[str, Any]]:
    ids = [next_id() for _ in struct.fields]
    return [{"id": field_id, "name": f.name, "required": False, "type": _iceberg_type(f.dataType, next_id)}
            for field_id, f in zip(ids, struct.fields, strict=True)]


def _iceberg_type(data_type: DataType, next_id: Any) -> Any:
    name = data_type.typeName()
    if name in _ICEBERG_PRIMITIVES:
        return _ICEBERG_PRIMITIVES[name]
    if name == "decimal":
        return f"decimal({data_type.precision},{data_type.scale})"  # type: ignore[attr-defined]
    if name == "struct":
        return {"type": "struct", "fields": _iceberg_fields(data_type, next_id)}  # type: ignore[arg-type]
    if name == "map":
        key_id, value_id = next_id(), next_id()
        return {"type": "map", "key-id": key_id, "key": _iceberg_type(data_type.keyType, next_id),  # type: ignore[attr-defined]
                "value-id": value_id, "value": _iceberg_type(data_type.valueType, next_id),  # type: ignore[attr-defined]
                "value-required": False}
    if name == "array":
        element_id = next_id()
        return {"type": "list", "element-id": element_id,
                "element": _iceberg_type(data_type.elementType, next_id),  # type: ignore[attr-defined]
                "element-required": False}
    raise ValueError(f"Spark type {data_type.simpleString()} has no Iceberg equal; use a supported type in the "
                     "job's schema")


def iceberg_partition_spec(schema: Mapping[str, Any], partition_columns: Sequence[str]) -> dict[str, Any]:
    """The identity partition spec on `partition_columns` (as `PARTITIONED BY (col)` makes it),
    for an Iceberg schema from `iceberg_schema`."""
    ids = {f["name"]: f["id"] for f in schema["fields"]}
    missing = [c for c in partition_columns if c not in ids]
    if missing:
        raise ValueError(f"partition column(s) {', '.join(missing)} are not in the schema")
    return {"spec-id": 0, "fields": [
        {"source-id": ids[column], "field-id": PARTITION_FIELD_ID_START + index, "name": column, "transform": "identity"}
        for index, column in enumerate(partition_columns)]}
