"""Atomic, idempotent Parquet writes to silver and gold.

Layout: every partition of a dataset is ONE Parquet file with a fixed name,
`<dataset>/<col>=<value>/part-00000.snappy.parquet` (unpartitioned datasets:
`<dataset>/part-00000.snappy.parquet`). A write:

1. removes staging left behind by a killed run of this dataset (`_staging/<dataset>/`);
2. merges the incoming rows with the existing rows of the affected partitions by the
   dataset's business key. The partitions that already hold an incoming key are found by
   reading only the key and partition columns of the existing files, so a restated key
   *moves* between partitions and is never duplicated. Precedence per key: the EXISTING row
   is kept when the incoming row has the same `_source_key` and identical business columns
   (reprocessing a bronze object is a no-op, `_ingested_at`/`_run_id` included); otherwise
   the dataset's `latest_order` decides (greatest wins), then a content hash, so ties are
   deterministic;
3. only partitions whose content changes are rewritten: Spark writes them to
   `<bucket>/_staging/<dataset>/<run_id>/` (outside the dataset prefix, so Athena and Spark
   readers never list it), one file per partition (repartitioned by the partition columns);
4. publishes each staged file over its fixed name with `Storage.replace_from` (os.replace
   locally; copy + delete on S3) and deletes the files of partitions that became empty;
5. deletes the staging folder. The caller writes the run manifest and ledger after this.

What readers see if a run is killed:
- before publishing: the old files; leftover staging is invisible and removed by the next
  write;
- while publishing: each file is replaced atomically, so a reader sees either the old or the
  new file, never a half-written one. Across partitions the publish is NOT atomic: a reader
  listing in the middle may see some partitions new and others old (a restated key may
  briefly appear in both its old and new partition, or in neither);
- after publishing but before the ledger/manifest: silver is complete; the input is still
  pending and is processed again, which the merge turns into a no-op.

Concurrency: one writer per dataset at a time. The stack config refuses a job with
`max_concurrent_runs` other than 1 and two jobs writing one dataset; Glue (and locally the
runner's slot table, across processes) holds further runs until the slot is free. Two
concurrent writers would each merge against the silver they found (the later publish drops
the other's rows) and step 1 would remove the other's staging.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from etl.storage import Storage

METADATA_COLUMNS = ("_source_key", "_ingested_at", "_run_id")
PART_FILE = "part-00000.snappy.parquet"
_ORIGIN = "_origin"  # 0 existing, 1 incoming
_WINNER = "_winner"
_FINGERPRINT = "_fingerprint"

# Characters Spark escapes in partition directory names (ExternalCatalogUtils.escapePathName).
_ESCAPED = set(chr(c) for c in range(0x01, 0x20)) | set("\"#%'*/:=?\\\x7f{[]^")
HIVE_DEFAULT_PARTITION = "__HIVE_DEFAULT_PARTITION__"


@dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset lives and how its rows are identified and ordered."""

    bucket: str
    dataset: str
    schema: StructType
    key_columns: tuple[str, ...]
    partition_columns: tuple[str, ...] = ()
    # Columns compared descending to pick the winner per key; `_origin` (1 incoming, 0
    # existing) lets "the run being processed wins" be expressed.
    latest_order: tuple[str, ...] = (_ORIGIN, "_source_key")

    @property
    def business_columns(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.schema.fields if f.name not in METADATA_COLUMNS)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.schema.fieldNames())


@dataclass
class WriteResult:
    partitions: list[dict[str, str | None]] = field(default_factory=list)  # rewritten or emptied
    rows_written: int = 0  # incoming rows that changed the dataset
    files: list[str] = field(default_factory=list)  # published object keys
    deleted: list[str] = field(default_factory=list)  # partition files removed (emptied)


def escape_partition_value(value: Any) -> str:
    if value is None:
        return HIVE_DEFAULT_PARTITION
    text = str(value)
    if text == "":
        return HIVE_DEFAULT_PARTITION
    return "".join(f"%{ord(c):02X}" if c in _ESCAPED else c for c in text)


def partition_dir(columns: Sequence[str], values: Sequence[Any]) -> str:
    """`order_date=2024-01-05` as Spark names it (nested for several columns)."""
    return "/".join(f"{c}={escape_partition_value(v)}" for c, v in zip(columns, values, strict=True))


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


def _changes(marked: DataFrame) -> Column:
    """A row that changes its partition: an incoming winner or a displaced existing row."""
    return (F.col(_WINNER) & (F.col(_ORIGIN) == 1)) | (~F.col(_WINNER) & (F.col(_ORIGIN) == 0))


def _partition_filter(columns: Sequence[str], partitions: Sequence[tuple[Any, ...]]) -> Column:
    if len(columns) == 1:
        return F.col(columns[0]).isin([p[0] for p in partitions])
    condition = F.lit(False)
    for values in partitions:
        match = F.lit(True)
        for column, value in zip(columns, values, strict=True):
            match = match & (F.col(column).isNull() if value is None else (F.col(column) == F.lit(value)))
        condition = condition | match
    return condition


class AtomicParquetWriter:
    """Writes one dataset with the protocol of the module docstring."""

    def __init__(self, spark: SparkSession, storage: Storage, spec: DatasetSpec, run_id: str) -> None:
        self.spark = spark
        self.storage = storage
        self.spec = spec
        self.run_id = run_id

    @property
    def staging_prefix(self) -> str:
        return f"_staging/{self.spec.dataset}/{self.run_id}/"

    def read_existing(self) -> DataFrame | None:
        """The dataset as stored, or None when it has no files yet."""
        spec = self.spec
        files = [o for o in self.storage.list_objects(spec.bucket, f"{spec.dataset}/") if o.key.endswith(".parquet")]
        if not files:
            return None
        path = self.storage.spark_path(spec.bucket, spec.dataset)
        return self.spark.read.schema(spec.schema).option("basePath", path).parquet(path)

    def merge(self, incoming: DataFrame, *, keys_unique: bool = False) -> WriteResult:
        """Upsert `incoming` (rows in the dataset schema) by the business key.

        `keys_unique`: the caller guarantees no key occurs twice in `incoming` (its quality
        gate dropped repeated keys), so that check is skipped."""
        spec = self.spec
        self._remove_leftover_staging()
        incoming = incoming.select(*spec.columns)
        existing = self.read_existing()
        parts = list(spec.partition_columns)
        if existing is not None and parts:
            affected = self._affected_partitions(existing, incoming)
            existing = existing.filter(_partition_filter(parts, affected)) if affected else None
        if existing is not None and not existing.take(1):
            existing = None  # nothing stored where the incoming rows go (partition pruning)
        if existing is None:
            inserted = self._insert_only(incoming, keys_unique=keys_unique)
            if inserted is not None:
                return inserted
            existing = self.spark.createDataFrame([], spec.schema)
        marked = mark_merge_winners(existing, incoming, spec.key_columns, spec.business_columns, spec.latest_order)
        marked = marked.persist()
        try:
            changed, rows_written = self._changed_partitions(marked)
            if not changed:
                return WriteResult()
            winners = marked.filter(F.col(_WINNER)).select(*spec.columns)
            if parts:
                winners = winners.filter(_partition_filter(parts, changed))
            result = self._stage_and_publish(winners, changed)
            result.rows_written = rows_written
            return result
        finally:
            marked.unpersist()

    def _insert_only(self, incoming: DataFrame, *, keys_unique: bool = False) -> WriteResult | None:
        """The merge when no stored row can compete: every incoming row wins if its key is
        unique, so the per-key window (a shuffle and a hash of every row) is skipped. None
        when some key repeats: the general merge then picks one winner per key."""
        spec = self.spec
        parts = list(spec.partition_columns)
        if not keys_unique:
            repeated = incoming.groupBy(*spec.key_columns).count().filter(F.col("count") > 1)
            if repeated.take(1):
                return None
        rows = (incoming.groupBy(*parts) if parts else incoming.groupBy()).count().collect()
        changed = sorted((tuple(r[c] for c in parts) for r in rows if r["count"]), key=_sort_key)
        if not changed:
            return WriteResult()
        result = self._stage_and_publish(incoming, changed)
        result.rows_written = int(sum(r["count"] for r in rows))
        return result

    def replace_partitions(self, rows: DataFrame, partitions: Sequence[tuple[Any, ...]]) -> WriteResult:
        """Replace whole partitions with `rows` (gold recomputation); emptied ones are deleted."""
        self._remove_leftover_staging()
        rows = rows.select(*self.spec.columns)
        if self.spec.partition_columns:
            rows = rows.filter(_partition_filter(self.spec.partition_columns, partitions)) if partitions else rows.limit(0)
        changed = sorted(set(partitions), key=_sort_key)
        if not changed:
            return WriteResult()
        result = self._stage_and_publish(rows, changed)
        result.rows_written = rows.count()
        return result

    def _remove_leftover_staging(self) -> None:
        self.storage.delete_prefix(self.spec.bucket, f"_staging/{self.spec.dataset}/")

    def _affected_partitions(self, existing: DataFrame, incoming: DataFrame) -> list[tuple[Any, ...]]:
        keys, parts = list(self.spec.key_columns), list(self.spec.partition_columns)
        holding = (
            existing.select(*keys, *parts)  # column pruning: keys and partition values only
            .join(incoming.select(*keys).distinct(), keys, "left_semi")
            .select(*parts)
        )
        rows = holding.union(incoming.select(*parts)).distinct().collect()
        return sorted({tuple(r) for r in rows}, key=_sort_key)

    def _changed_partitions(self, marked: DataFrame) -> tuple[list[tuple[Any, ...]], int]:
        parts = list(self.spec.partition_columns)
        incoming_wins = F.sum((F.col(_WINNER) & (F.col(_ORIGIN) == 1)).cast("long"))
        grouped = marked.filter(_changes(marked))
        rows = (grouped.groupBy(*parts) if parts else grouped.groupBy()).agg(incoming_wins.alias("n")).collect()
        rows = [r for r in rows if r["n"] is not None]
        changed = sorted((tuple(r[c] for c in parts) for r in rows), key=_sort_key)
        return changed, int(sum(r["n"] for r in rows))

    def _stage_and_publish(self, rows: DataFrame, changed: Sequence[tuple[Any, ...]]) -> WriteResult:
        spec, storage = self.spec, self.storage
        parts = list(spec.partition_columns)
        staging_path = storage.spark_path(spec.bucket, self.staging_prefix)
        ordered = (rows.repartition(*parts) if parts else rows.coalesce(1)).sortWithinPartitions(
            *parts, *spec.key_columns
        )
        writer = ordered.write.mode("overwrite").option("compression", "snappy")
        (writer.partitionBy(*parts) if parts else writer).parquet(staging_path)

        staged = [o.key for o in storage.list_objects(spec.bucket, self.staging_prefix) if o.key.endswith(".parquet")]
        by_dir: dict[str, str] = {}
        for key in staged:
            rel_dir = posixpath.dirname(key[len(self.staging_prefix) :])
            if rel_dir in by_dir:
                raise RuntimeError(f"staging for {spec.dataset} holds two files in partition {rel_dir!r}")
            by_dir[rel_dir] = key
        result = WriteResult()
        for rel_dir, key in sorted(by_dir.items()):
            target = posixpath.join(spec.dataset, rel_dir, PART_FILE)
            storage.replace_from(spec.bucket, key, spec.bucket, target)
            result.files.append(target)
        for values in changed:
            rel_dir = partition_dir(parts, values) if parts else ""
            if rel_dir not in by_dir:
                prefix = posixpath.join(spec.dataset, rel_dir) + "/"
                if storage.list_objects(spec.bucket, prefix):
                    storage.delete_prefix(spec.bucket, prefix)
                    result.deleted.append(prefix)
        result.partitions = [
            {c: (None if v is None else str(v)) for c, v in zip(parts, values, strict=True)} for values in changed
        ]
        storage.delete_prefix(spec.bucket, self.staging_prefix)
        return result


def _sort_key(values: tuple[Any, ...]) -> tuple[tuple[bool, str], ...]:
    return tuple((v is None, str(v)) for v in values)
