"""The load: the typed rows a run holds from its transform to its commit, what lets the write
skip its own key check, and the finish that records a committed run.

The write itself is one commit to the dataset's Iceberg table (`etl.tables`), made by the
job's `load` hook (`BaseGlueJob.load`: a merge by business key; sales_daily: whole partitions).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.types import StructType

from data_platform.contract.runs import RunState
from etl import ledger
from etl.base import JobContext, RunSummary, utc_timestamp
from etl.jvm import release
from etl.quality import Action, Rule
from etl.storage import ObjectInfo
from etl.tables.spec import DatasetSpec, WriteResult
from etl.transforms import not_folded, quoted

# Up to this many rows the typed frame is held as a local checkpoint: its rows as they are,
# and a DataFrame whose plan is a single leaf, so the ~20 queries that the gate, the quarantine
# and the writer run over it are each analysed and planned over one node instead of the whole
# read-and-type plan (bench/RESULTS.md has what that saves). Above it, the columnar cache: it
# takes less memory, and planning is a small share of a big run.
# Local Spark only: a checkpoint has no lineage, so on a cluster that removes executors (Glue
# auto scaling) a lost block could not be recomputed and the run would fail.
MAX_CHECKPOINTED_ROWS = 500_000


def hold(df: DataFrame, *, rows: int) -> DataFrame:
    """`df` kept in memory (spilling to disk if it must) for the several queries that follow;
    computed by the first of them. See MAX_CHECKPOINTED_ROWS; `etl.jvm.release` frees it."""
    if rows <= MAX_CHECKPOINTED_ROWS and (df.sparkSession.sparkContext.master or "").startswith("local"):
        return df.localCheckpoint(eager=False)
    return df.persist()


def add_lineage(df: DataFrame, run_id: str, ingested_at: datetime) -> DataFrame:
    """Add `_ingested_at` and `_run_id` (`_source_key` comes from the read). The stamp is new in
    every run, so it is `not_folded`: the quarantine and the write, the queries that read it,
    stay the same code from run to run."""
    stamp = not_folded(F.lit(ingested_at).cast("timestamp"))
    return df.withColumn("_ingested_at", stamp).withColumn("_run_id", F.lit(run_id))


def conform(df: DataFrame, schema: StructType) -> DataFrame:
    """Exactly the schema's columns, in order, with its types: one SQL projection (one gateway
    call, see etl.transforms) where every type has a SQL name, else through the Column API."""
    if all(isinstance(f.dataType, _SQL_NAMED_TYPES) for f in schema.fields):
        return df.selectExpr(
            *[f"CAST({quoted(f.name)} AS {_sql_type(f.dataType)}) AS {quoted(f.name)}" for f in schema.fields]
        )
    return df.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])


# Types whose `simpleString()` Spark SQL's CAST reads back as the same type, whatever the
# session's settings; a timestamp is named as the session-zoned kind it is (TIMESTAMP alone
# follows `spark.sql.timestampType`).
_SQL_NAMED_TYPES = (
    T.StringType, T.BooleanType, T.ByteType, T.ShortType, T.IntegerType, T.LongType, T.FloatType,
    T.DoubleType, T.DecimalType, T.DateType, T.TimestampType, T.TimestampNTZType, T.BinaryType,
)  # fmt: skip


def _sql_type(data_type: T.DataType) -> str:
    if isinstance(data_type, T.TimestampType):
        return "TIMESTAMP_LTZ"
    if isinstance(data_type, T.TimestampNTZType):
        return "TIMESTAMP_NTZ"
    return data_type.simpleString()


@contextmanager
def typed_rows(
    transformed: DataFrame,
    *,
    schema: StructType,
    run_id: str,
    ingested_at: datetime,
    constant_source_key: str | None,
    rows: int,
) -> Iterator[DataFrame]:
    """The transformed rows in the dataset's schema with their lineage, held (see `hold`) for
    the quality gate, the quarantine and the write, and freed when the block ends."""
    # Held without the columns that are one constant for the whole run (the lineage stamps,
    # and the source key of a single-object read): they would take a large share of the held
    # rows' memory, and each query adds them back.
    held = hold(transformed if constant_source_key is None else transformed.drop("_source_key"), rows=rows)
    typed = held if constant_source_key is None else held.withColumn("_source_key", F.lit(constant_source_key))
    typed = conform(add_lineage(typed, run_id, ingested_at), schema)
    try:
        yield typed
    finally:
        release(held)


def gate_makes_keys_unique(rules: Sequence[Rule], key_columns: Sequence[str]) -> bool:
    """True when the rows a gate passes hold every business key once: a dropping (or failing)
    `unique` rule on exactly the key, and a not-null rule on each key column (GE lets repeated
    null keys through `unique`). The writer then skips its own check (a shuffle of all keys)."""
    enforced = [r for r in rules if r.action is not Action.WARN]
    unique = any(r.kind == "unique" and tuple(r.columns) == tuple(key_columns) for r in enforced)
    not_null = {r.columns[0] for r in enforced if r.kind == "not_null"}
    return unique and set(key_columns) <= not_null


def finish(
    ctx: JobContext,
    summary: RunSummary,
    result: WriteResult,
    *,
    job: str,
    bucket: str,
    spec: DatasetSpec,
    processed: Sequence[ObjectInfo],
) -> None:
    """A committed run succeeded: its summary, then its manifest and ledger entry in `bucket`."""
    summary.rows_written = result.rows_written
    if result.snapshot_id is not None:
        summary.outputs = [f"{spec.database}.{spec.dataset}@{result.snapshot_id}"]
    summary.state = RunState.SUCCEEDED
    # Manifest and ledger LAST, after the commit: a crash before here only means the input
    # is processed again, which changes nothing in the table (no new snapshot).
    ledger.write_manifest(
        ctx.storage,
        bucket,
        job,
        ctx.run_id,
        {
            "job": job,
            "run_id": ctx.run_id,
            "dataset": spec.dataset,
            "bucket": bucket,
            "source_keys": summary.source_keys,
            "table": spec.identifier,
            "snapshot_id": result.snapshot_id,
            "base_snapshot_id": result.base_snapshot_id,
            "operation": result.operation,
            "partition_columns": list(spec.partition_columns),
            "partitions": result.partitions,
            "rows_read": summary.rows_read,
            "rows_written": summary.rows_written,
            "rows_quarantined": summary.rows_quarantined,
            "finished_at": utc_timestamp(datetime.now(UTC)),
        },
    )
    ledger.record_processed(ctx.storage, bucket, job, ctx.run_id, processed)
