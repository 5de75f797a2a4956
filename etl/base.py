"""BaseGlueJob: extract -> gate(raw) -> transform -> gate(quality) -> load, for every job.

A job subclass declares where its input lives, its output schema, key and partitioning, and
fills in `extract`, `transform` and its two rule lists. Everything else is here, once:
choosing the input from the trigger (one object for `s3_event`, every pending object for
`schedule`), quarantining, the one-commit write to the dataset's Iceberg table
(`etl.tables`), the ledger and the run manifest, and turning every failure into a
`RunSummary` with a one-line reason instead of a traceback.
"""

from __future__ import annotations

import json
import logging
import posixpath
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from data_platform.contract.runs import SUCCESSFUL_RUN_STATES, RunState
from etl import ledger
from etl.args import JobArguments, TriggerSource
from etl.jvm import release
from etl.quality import FAILED_RULES_COLUMN, Action, GateResult, Rule, not_null, run_gate
from etl.session import table_session
from etl.storage import ObjectInfo, Storage, storage_for
from etl.tables import Commit, DatasetSpec, IcebergTable, WriteResult

log = logging.getLogger("etl")

ROW_SEQ = "_row_seq"  # position of a row in its source object (helper column, never stored)
# Up to this many quarantined rows are encoded by Spark and written by the driver in one go;
# more go through a Spark file write (a whole failed input can be millions of rows).
MAX_QUARANTINE_ROWS_COLLECTED = 50_000
# Up to this many rows the typed frame is held as a local checkpoint: its rows as they are,
# and a DataFrame whose plan is a single leaf, so the ~20 queries that the gate, the quarantine
# and the writer run over it are each analysed and planned over one node instead of the whole
# read-and-type plan (a warm 10,000-row run: about a sixth less time). Above it, the columnar
# cache: about half the memory, and planning is a small share of the run.
# Local Spark only: a checkpoint has no lineage, so on a cluster that removes executors (Glue
# auto scaling) a lost block could not be recomputed and the run would fail.
MAX_CHECKPOINTED_ROWS = 500_000


class InputError(Exception):
    """The input cannot be read as this job's format; the message is one actionable line."""

    def __init__(self, message: str, source_key: str | None = None) -> None:
        super().__init__(message)
        self.source_key = source_key


@dataclass
class RunSummary:
    run_id: str
    job: str
    env: str
    trigger_source: str
    source_keys: list[str] = field(default_factory=list)
    state: RunState = RunState.FAILED
    rows_read: int = 0
    rows_written: int = 0
    rows_quarantined: int = 0
    quarantine_path: str | None = None
    # What the run committed: `<database>.<dataset>@<snapshot id>` (empty when nothing changed).
    outputs: list[str] = field(default_factory=list)
    rules_failed: dict[str, int] = field(default_factory=dict)
    warnings: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    error_kind: str | None = None  # data_quality | input | internal
    started_at: str = ""
    ended_at: str = ""

    @property
    def succeeded(self) -> bool:
        return self.state in SUCCESSFUL_RUN_STATES

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class JobContext:
    args: JobArguments
    spark: SparkSession
    storage: Storage
    run_id: str
    now: datetime
    source_prefix: str
    source_suffix: str
    inputs: list[ObjectInfo] = field(default_factory=list)
    rows_passed: int | None = None  # rows the quality gate let through (known before load)
    # Set by a reader whose rows all come from one object: their `_source_key`, a constant the
    # held typed frame need not store (see BaseGlueJob._gate_transform_load).
    constant_source_key: str | None = None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def one_line(text: object, limit: int = 500) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def gate_makes_keys_unique(rules: Sequence[Rule], key_columns: Sequence[str]) -> bool:
    """True when the rows a gate passes hold every business key once: a dropping (or failing)
    `unique` rule on exactly the key, and a not-null rule on each key column (GE lets repeated
    null keys through `unique`). The writer then skips its own check (a shuffle of all keys)."""
    enforced = [r for r in rules if r.action is not Action.WARN]
    unique = any(r.kind == "unique" and tuple(r.columns) == tuple(key_columns) for r in enforced)
    not_null = {r.columns[0] for r in enforced if r.kind == "not_null"}
    return unique and set(key_columns) <= not_null


def hold(df: DataFrame, *, rows: int) -> DataFrame:
    """`df` kept in memory (spilling to disk if it must) for the several queries that follow;
    computed by the first of them. See MAX_CHECKPOINTED_ROWS; `release` frees it."""
    if rows <= MAX_CHECKPOINTED_ROWS and df.sparkSession.sparkContext.master.startswith("local"):
        return df.localCheckpoint(eager=False)
    return df.persist()


def add_lineage(df: DataFrame, run_id: str, ingested_at: datetime) -> DataFrame:
    """Add `_ingested_at` and `_run_id` (`_source_key` comes from the read)."""
    return df.withColumn("_ingested_at", F.lit(ingested_at).cast("timestamp")).withColumn(
        "_run_id", F.lit(run_id)
    )


def conform(df: DataFrame, schema: StructType) -> DataFrame:
    """Exactly the schema's columns, in order, with its types."""
    return df.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])


def source_key_column(spark_root: str) -> Any:
    """The bronze key of each row, from `input_file_name()` (URL-encoded by Spark).

    `spark_root` is `Storage.spark_path(bucket)`; the scheme is dropped on both sides so that
    `file:///lake/b/k` and `/lake/b/k` (or `s3://b/k`) compare equal.
    """
    base = re.sub(r"^[A-Za-z0-9]+:/*", "/", spark_root.rstrip("/") + "/")
    if not base.startswith("/"):
        base = "/" + base
    decoded = F.expr("url_decode(replace(input_file_name(), '+', '%2B'))")
    normalized = F.regexp_replace(decoded, r"^[A-Za-z0-9]+:/*", "/")
    return F.when(normalized.startswith(base), normalized.substr(len(base) + 1, 1 << 30))


class BaseGlueJob:
    name: ClassVar[str]
    dataset: ClassVar[str]
    layer: ClassVar[str] = "silver"
    default_source_prefix: ClassVar[str] = ""
    default_source_suffix: ClassVar[str] = ""
    schema: ClassVar[StructType]
    key_columns: ClassVar[tuple[str, ...]]
    partition_columns: ClassVar[tuple[str, ...]] = ()
    # Greatest wins per key when merging with what is stored (see etl.tables).
    latest_order: ClassVar[tuple[str, ...]] = ("_origin", "_source_key")

    def __init__(self, args: JobArguments, spark: SparkSession, storage: Storage | None = None) -> None:
        self.args = args
        self.spark = table_session(spark, args.storage_root)
        self.storage = storage or storage_for(args.storage_root, read_only_buckets={args.bronze_bucket})
        self.run_id = args.job_run_id
        self.now = datetime.now(UTC)

    # ---- what a job fills in ----------------------------------------------------------------

    def extract(self, ctx: JobContext) -> DataFrame:
        raise NotImplementedError

    def transform(self, df: DataFrame) -> DataFrame:
        raise NotImplementedError

    def raw_rules(self) -> list[Rule]:
        raise NotImplementedError

    def quality_rules(self) -> list[Rule]:
        raise NotImplementedError

    def check_source(self, ctx: JobContext, obj: ObjectInfo) -> None:
        """Cheap pre-read checks of one object; raise InputError. Default: not empty."""
        if obj.size == 0:
            raise InputError(f"{obj.key}: the file is empty (0 bytes)", obj.key)

    # ---- locations ---------------------------------------------------------------------------

    @property
    def output_bucket(self) -> str:
        return self.args.gold_bucket if self.layer == "gold" else self.args.silver_bucket

    @property
    def spec(self) -> DatasetSpec:
        return DatasetSpec(
            database=self.args.database,
            dataset=self.dataset,
            location=self.storage.spark_path(self.output_bucket, self.dataset),
            schema=self.schema,
            key_columns=tuple(self.key_columns),
            partition_columns=tuple(self.partition_columns),
            latest_order=tuple(self.latest_order),
        )

    @property
    def table(self) -> IcebergTable:
        return IcebergTable(self.spark, self.spec)

    def commit_info(self, ctx: JobContext) -> Commit:
        """What this run's snapshot records: the run, the job and the objects it read."""
        return Commit(run_id=self.run_id, job=self.name, sources=tuple(self.ledger_entries(ctx)))

    def quarantine_prefix(self) -> str:
        return f"_quarantine/{self.dataset}/{self.run_id}/"

    # ---- input selection ---------------------------------------------------------------------

    def context(self) -> JobContext:
        return JobContext(
            args=self.args,
            spark=self.spark,
            storage=self.storage,
            run_id=self.run_id,
            now=self.now,
            source_prefix=self.args.source_prefix or self.default_source_prefix,
            source_suffix=self.args.source_suffix or self.default_source_suffix,
        )

    def plan_inputs(self, ctx: JobContext) -> list[ObjectInfo]:
        """The bronze objects this run processes, from its trigger."""
        args = self.args
        if args.trigger_source is TriggerSource.S3_EVENT or (
            args.trigger_source is TriggerSource.MANUAL and args.source_key
        ):
            return [self._the_named_object(ctx)]
        if args.trigger_source is TriggerSource.JOB_SUCCEEDED:
            raise InputError(f"job {self.name} is not started by another job (trigger job_succeeded)")
        candidates = [
            o
            for o in self.storage.list_objects(args.bronze_bucket, ctx.source_prefix)
            if o.key.endswith(ctx.source_suffix)
        ]
        done = ledger.processed_objects(self.storage, self.output_bucket, self.name)
        return ledger.pending_objects(candidates, done)

    def _the_named_object(self, ctx: JobContext) -> ObjectInfo:
        args = self.args
        key = args.source_key or ""
        bucket = args.source_bucket or args.bronze_bucket
        if bucket != args.bronze_bucket:
            raise InputError(f"{key}: bucket {bucket} is not the bronze bucket {args.bronze_bucket}", key)
        if not (key.startswith(ctx.source_prefix) and key.endswith(ctx.source_suffix)):
            raise InputError(
                f"{key}: not an input of {self.name} (expected {ctx.source_prefix}*{ctx.source_suffix})", key
            )
        try:
            info = self.storage.head(bucket, key)
        except ValueError as error:
            raise InputError(f"{key!r}: {error}", key) from None
        if info is None:
            raise InputError(f"{key}: no such object in bucket {bucket}", key)
        return info

    # ---- the run -----------------------------------------------------------------------------

    def run(self) -> RunSummary:
        args = self.args
        summary = RunSummary(
            run_id=self.run_id,
            job=self.name,
            env=args.env,
            trigger_source=args.trigger_source.value,
            started_at=_iso(self.now),
        )
        log.info(
            "run start job=%s run_id=%s trigger=%s source=%s env=%s",
            self.name, self.run_id, args.trigger_source.value,
            f"{args.source_bucket or args.bronze_bucket}/{args.source_key}" if args.source_key else "(pending)",
            args.env,
        )  # fmt: skip
        try:
            self._run(summary)
        except InputError as error:
            summary.state, summary.error_kind, summary.error = "FAILED", "input", one_line(error)
            self._reject(summary, error)
        except Exception as error:  # noqa: BLE001 - the runner reports, it never raises
            log.exception("run %s of %s failed unexpectedly", self.run_id, self.name)
            summary.state, summary.error_kind = "FAILED", "internal"
            summary.error = one_line(f"internal error: {type(error).__name__}: {error}")
        summary.ended_at = _iso(datetime.now(UTC))
        log.info("run end job=%s run_id=%s state=%s error=%s", self.name, self.run_id, summary.state, summary.error)
        return summary

    def _run(self, summary: RunSummary) -> None:
        ctx = self.context()
        ctx.inputs = self.plan_inputs(ctx)
        summary.source_keys = [o.key for o in ctx.inputs]
        if ctx.inputs:
            log.info("run %s processes %d object(s): %s", self.run_id, len(ctx.inputs), ", ".join(summary.source_keys[:20]))
        if not ctx.inputs and not self.runs_without_inputs():
            summary.state = "NO_INPUT"
            log.info("nothing pending under %s%s*%s", self.args.bronze_bucket + "/", ctx.source_prefix, ctx.source_suffix)
            return
        self._check_sources(ctx, summary)

        # Not cached: the raw rules need the header, a row count and the source keys, which a
        # read prunes to almost nothing (2,000,000 rows: 0.4 s, against 5 s to cache the
        # strings); the typed frame is read from the file again and held.
        self.stage("extract")
        self._gate_transform_load(ctx, self.extract(ctx), summary)

    def _check_sources(self, ctx: JobContext, summary: RunSummary) -> None:
        """Pre-read checks of every input. A refused object is recorded in the ledger as
        rejected (with its etag), so a later run does not pick it up again and again; a fixed
        re-upload (new etag) is pending again. In a batch (a scheduled run over pending
        objects) the others go on; a run for one named object fails with the refusal."""
        refused: list[tuple[ObjectInfo, str]] = []
        first: InputError | None = None
        for obj in ctx.inputs:
            try:
                self.check_source(ctx, obj)
            except InputError as error:
                refused.append((obj, one_line(error)))
                first = first or error
        if first is None:
            return
        ledger.record_rejected(self.storage, self.output_bucket, self.name, self.run_id, refused)
        if len(refused) == len(ctx.inputs):
            if len(refused) > 1:
                raise InputError(f"all {len(refused)} inputs were refused; first: {first}", first.source_key)
            raise first
        for obj, reason in refused:
            log.warning("run %s refuses %s: %s", self.run_id, obj.key, reason)
        bad = {obj.key for obj, _ in refused}
        ctx.inputs = [o for o in ctx.inputs if o.key not in bad]
        summary.source_keys = [o.key for o in ctx.inputs]
        summary.warnings["inputs_rejected"] = len(refused)
        self._write_rejected(summary, [(obj.key, reason) for obj, reason in refused])

    def stage(self, name: str) -> None:
        """Mark the start of a stage of the run in the job log (`stage job=... run_id=... name=...`)."""
        log.info("stage job=%s run_id=%s name=%s", self.name, self.run_id, name)

    def runs_without_inputs(self) -> bool:
        return False

    def _gate_transform_load(self, ctx: JobContext, raw: DataFrame, summary: RunSummary) -> None:
        # Every row must map back to its bronze object, or lineage (and the merge) breaks. A
        # read of one object sets the key as a constant, so there is nothing to check.
        raw_rules = [*self.raw_rules()]
        if ctx.constant_source_key is None:
            raw_rules.append(not_null("_source_key", action=Action.FAIL, name="source_key_resolved"))
        self.stage("raw checks")
        raw_gate = run_gate(raw, raw_rules, suite_name=f"{self.name}.raw", max_drop_ratio=self.args.max_drop_ratio)
        summary.rows_read = raw_gate.rows_in
        self._note_gate(summary, raw_gate)
        if not raw_gate.ok:
            self._fail_gate(summary, raw.drop(ROW_SEQ), raw_gate, raw_rules)
            return

        # Held without the columns that are one constant for the whole run (the lineage
        # stamps, and the source key of a single-object read): storing them costs a third of
        # the cache (2,000,000 sales rows: 3.9 s -> 2.7 s); each query adds them back.
        constant_key = ctx.constant_source_key
        transformed = self.transform(raw)
        held = hold(transformed if constant_key is None else transformed.drop("_source_key"), rows=raw_gate.rows_in)
        typed = held if constant_key is None else held.withColumn("_source_key", F.lit(constant_key))
        typed = conform(add_lineage(typed, self.run_id, self.now), self.schema)
        try:
            rules = self.quality_rules()
            self.stage("quality gate")
            gate = run_gate(typed, rules, suite_name=f"{self.name}.quality", max_drop_ratio=self.args.max_drop_ratio)
            self._note_gate(summary, gate)
            if not gate.ok:
                self._fail_gate(summary, typed, gate, rules)
                return
            if gate.quarantined is not None:
                try:  # the gate may have cached the quarantined rows as it counted them
                    if gate.rows_quarantined:
                        summary.rows_quarantined = gate.rows_quarantined
                        summary.quarantine_path = self._quarantine(gate.quarantined, gate, reason=None,
                                                                   source_keys=summary.source_keys)
                finally:
                    gate.quarantined.unpersist()
            ctx.rows_passed = gate.rows_passed
            self.stage("write")
            result = self.load(ctx, gate.passed if gate.passed is not None else typed)
        finally:
            release(held)
        self._finish(ctx, summary, result)

    def load(self, ctx: JobContext, df: DataFrame) -> WriteResult:
        """Merge the gated rows into the dataset's table in one commit (see etl.tables). `df`
        is the held typed frame, or a cheap filter of it: caching it again would hold the rows
        twice."""
        return self.table.merge(df, self.commit_info(ctx),
                                keys_unique=gate_makes_keys_unique(self.quality_rules(), self.key_columns),
                                incoming_rows=ctx.rows_passed)

    def ledger_entries(self, ctx: JobContext) -> list[ObjectInfo]:
        return list(ctx.inputs)

    def _finish(self, ctx: JobContext, summary: RunSummary, result: WriteResult) -> None:
        bucket = self.output_bucket
        summary.rows_written = result.rows_written
        if result.snapshot_id is not None:
            summary.outputs = [f"{self.args.database}.{self.dataset}@{result.snapshot_id}"]
        summary.state = "SUCCEEDED"
        # Manifest and ledger LAST, after the commit: a crash before here only means the input
        # is processed again, which changes nothing in the table (no new snapshot).
        ledger.write_manifest(
            self.storage,
            bucket,
            self.name,
            self.run_id,
            {
                "job": self.name,
                "run_id": self.run_id,
                "dataset": self.dataset,
                "bucket": bucket,
                "source_keys": summary.source_keys,
                "table": self.spec.identifier,
                "snapshot_id": result.snapshot_id,
                "base_snapshot_id": result.base_snapshot_id,
                "operation": result.operation,
                "partition_columns": list(self.partition_columns),
                "partitions": result.partitions,
                "rows_read": summary.rows_read,
                "rows_written": summary.rows_written,
                "rows_quarantined": summary.rows_quarantined,
                "finished_at": _iso(datetime.now(UTC)),
            },
        )
        ledger.record_processed(self.storage, bucket, self.name, self.run_id, self.ledger_entries(ctx))

    # ---- failures and quarantine -------------------------------------------------------------

    @staticmethod
    def _note_gate(summary: RunSummary, gate: GateResult) -> None:
        summary.rules_failed.update({k: v for k, v in gate.failed_rules.items() if k not in gate.warnings})
        summary.warnings.update(gate.warnings)

    def _fail_gate(self, summary: RunSummary, whole_input: DataFrame, gate: GateResult, rules: Sequence[Rule]) -> None:
        """The whole input goes to quarantine; each row is tagged with the row rules it breaks
        (a row breaking none was stopped by the table-level verdict in validation.json)."""
        summary.state, summary.error_kind = "FAILED", "data_quality"
        summary.error = one_line(gate.reason or "quality gate failed")
        summary.rows_quarantined = gate.rows_in
        broken = [
            r for r in rules
            if r.name in gate.failed_rules and r.action is not Action.WARN and r.row_predicate() is not None
        ]  # fmt: skip
        flags = [F.when(~r.row_predicate(), F.lit(r.name)) for r in broken]
        tags = F.array_compact(F.array(*flags)) if flags else F.array().cast("array<string>")
        tagged = whole_input.withColumn(FAILED_RULES_COLUMN, tags)
        summary.quarantine_path = self._quarantine(tagged, gate, reason=summary.error, source_keys=summary.source_keys)

    def _quarantine(self, rows: DataFrame, gate: GateResult, *, reason: str | None, source_keys: Sequence[str]) -> str:
        """`rows.jsonl` (with `_failed_rules`, `_source_key`) and `validation.json`."""
        bucket, prefix = self.output_bucket, self.quarantine_prefix()
        if gate.rows_quarantined <= MAX_QUARANTINE_ROWS_COLLECTED:
            # Spark's JSON encoding (the file writer's, same options), collected: one small
            # job instead of a write with its output commit, staging and listing.
            lines = rows.toJSON().collect()
            self.storage.write_bytes(bucket, prefix + "rows.jsonl", "".join(f"{line}\n" for line in lines).encode())
        else:
            staging = f"_staging/_quarantine/{self.dataset}/{self.run_id}/"
            self.storage.delete_prefix(bucket, staging)
            rows.coalesce(1).write.mode("overwrite").json(self.storage.spark_path(bucket, staging))
            parts = [o.key for o in self.storage.list_objects(bucket, staging) if o.key.endswith(".json")]
            if parts:
                self.storage.replace_from(bucket, parts[0], bucket, prefix + "rows.jsonl")
            else:
                self.storage.write_bytes(bucket, prefix + "rows.jsonl", b"")
            self.storage.delete_prefix(bucket, staging)
        record = {
            "job": self.name,
            "run_id": self.run_id,
            "dataset": self.dataset,
            "reason": reason,
            "source_keys": list(source_keys),
            "rows_in": gate.rows_in,
            "rows_quarantined": gate.rows_quarantined,
            "failed_rules": gate.failed_rules,
            "warnings": gate.warnings,
            "escalated": gate.escalated,
            "validation": gate.validation,
        }
        self.storage.write_bytes(bucket, prefix + "validation.json", json.dumps(record, indent=1, default=str).encode())
        return self.storage.spark_path(bucket, prefix)

    def _reject(self, summary: RunSummary, error: InputError) -> None:
        """Record an unreadable input (`rejected.json`); never raises over the real error."""
        self._write_rejected(summary, [(error.source_key, summary.error or "")])

    def _write_rejected(self, summary: RunSummary, refused: Sequence[tuple[str | None, str]]) -> None:
        """`rejected.json` in the run's quarantine folder: each refused key and why (bronze
        keeps the bytes); never raises over the real error."""
        try:
            bucket, prefix = self.output_bucket, self.quarantine_prefix()
            record = {
                "job": self.name,
                "run_id": self.run_id,
                "dataset": self.dataset,
                "reason": refused[0][1] if len(refused) == 1 else f"{len(refused)} inputs refused",
                "source_key": refused[0][0],
                "refused": [{"source_key": key, "reason": reason} for key, reason in refused],
                "source_keys": [key for key, _ in refused if key],
                "bronze_bucket": self.args.bronze_bucket,
            }
            self.storage.write_bytes(bucket, prefix + "rejected.json", json.dumps(record, indent=1).encode())
            if summary.quarantine_path is None:
                summary.quarantine_path = self.storage.spark_path(bucket, posixpath.join(prefix, ""))
        except Exception:  # noqa: BLE001
            log.exception("could not write rejected.json for run %s", self.run_id)
