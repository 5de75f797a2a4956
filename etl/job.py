"""BaseGlueJob: extract -> gate(raw) -> transform -> gate(quality) -> load, for every job.

A job subclass declares where its input lives, its output schema, key and partitioning, and
fills in `extract`, `transform` and its two rule lists. This class runs the steps in order,
marks each with a stage line in the log (`stage job=... run_id=... name=...`: where a killed
run was), and turns every failure into a `RunSummary` with a one-line reason instead of a
traceback. Each step has its own module:

- etl.inputs      the bronze objects the run processes (from the trigger, or every object the
                  ledger has not recorded) and their pre-read checks
- etl.gate        the raw checks and the quality gate; etl.quarantine, what they refuse
- etl.load        the typed rows held from the transform to the write, and the finish (run
                  manifest, ledger); the write itself is one commit through etl.tables
- etl.data_docs   the quarantined validation rendered as Data Docs, once the run is decided
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import ClassVar

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from data_platform.contract.data_docs import DATA_DOCS_NOT_WRITTEN
from data_platform.contract.runs import RunState
from etl.args import JobArguments
from etl.base import InputError, JobContext, RunSummary, one_line, utc_timestamp
from etl.data_docs import DataDocs
from etl.gate import Gate
from etl.inputs import planned_objects, screen
from etl.load import finish, gate_makes_keys_unique, typed_rows
from etl.progress import DATA_DOCS_STAGE, StageClock
from etl.quality import Action, Rule, not_null
from etl.quarantine import Quarantine
from etl.session import table_session
from etl.storage import ObjectInfo, Storage, storage_for
from etl.tables.spec import Commit, DatasetSpec, WriteResult
from etl.tables.table import IcebergTable

log = logging.getLogger("etl")


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
        self.stages = StageClock(self.name, self.run_id)
        self._gate: Gate | None = None

    # ---- what a job fills in (or may replace) -----------------------------------------------

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

    def plan_inputs(self, ctx: JobContext) -> list[ObjectInfo]:
        """The bronze objects this run processes, from its trigger (see etl.inputs)."""
        return planned_objects(ctx, job=self.name, ledger_bucket=self.output_bucket)

    def runs_without_inputs(self) -> bool:
        return False

    def load(self, ctx: JobContext, df: DataFrame) -> WriteResult:
        """Merge the gated rows into the dataset's table in one commit (see etl.tables). `df`
        is the held typed frame, or a cheap filter of it: caching it again would hold the rows
        twice."""
        return self.table.merge(
            df,
            self.commit_info(ctx),
            keys_unique=gate_makes_keys_unique(self.quality_rules(), self.key_columns),
            incoming_rows=ctx.rows_passed,
            first_key_range=ctx.first_key_range,
        )

    def ledger_entries(self, ctx: JobContext) -> list[ObjectInfo]:
        return list(ctx.inputs)

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

    @property
    def quarantine(self) -> Quarantine:
        return Quarantine(
            self.storage,
            self.output_bucket,
            job=self.name,
            dataset=self.dataset,
            run_id=self.run_id,
            bronze_bucket=self.args.bronze_bucket,
        )

    def commit_info(self, ctx: JobContext) -> Commit:
        """What this run's snapshot records: the run, the job and the objects it read."""
        return Commit(run_id=self.run_id, job=self.name, sources=tuple(self.ledger_entries(ctx)))

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

    # ---- the run -----------------------------------------------------------------------------

    def run(self) -> RunSummary:
        args = self.args
        summary = RunSummary(
            run_id=self.run_id,
            job=self.name,
            env=args.env,
            trigger_source=args.trigger_source.value,
            started_at=utc_timestamp(self.now),
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
            summary.state, summary.error_kind, summary.error = RunState.FAILED, "input", one_line(error)
            self.quarantine.record_rejected(summary, [(error.source_key, summary.error or "")])
        except Exception as error:
            log.exception("run %s of %s failed unexpectedly", self.run_id, self.name)
            summary.state, summary.error_kind = RunState.FAILED, "internal"
            summary.error = one_line(f"internal error: {type(error).__name__}: {error}")
        self._publish_data_docs(summary)
        summary.stages = self.stages.close()
        summary.ended_at = utc_timestamp(datetime.now(UTC))
        log.info("run end job=%s run_id=%s state=%s error=%s", self.name, self.run_id, summary.state, summary.error)
        return summary

    def stage(self, name: str) -> None:
        """Mark the start of a stage of the run: logged (`stage job=... run_id=... name=...`),
        timed and heard by this process's listeners (etl.progress)."""
        self.stages.start(name)

    def _run(self, summary: RunSummary) -> None:
        ctx = self.context()
        ctx.inputs = self.plan_inputs(ctx)
        summary.source_keys = [o.key for o in ctx.inputs]
        if ctx.inputs:
            log.info(
                "run %s processes %d object(s): %s", self.run_id, len(ctx.inputs), ", ".join(summary.source_keys[:20])
            )
        if not ctx.inputs and not self.runs_without_inputs():
            summary.state = RunState.NO_INPUT
            log.info(
                "nothing pending under %s%s*%s", self.args.bronze_bucket + "/", ctx.source_prefix, ctx.source_suffix
            )
            return
        self._check_sources(ctx, summary)

        # Not cached: the raw rules need the header, a row count and the source keys, which a
        # read prunes to almost nothing, far cheaper than caching every string; the typed frame
        # is read from the file again and held.
        self.stage("extract")
        self._gate_transform_load(ctx, self.extract(ctx), summary)

    def _check_sources(self, ctx: JobContext, summary: RunSummary) -> None:
        """Pre-read checks of every input (see etl.inputs); the refused ones are named in
        `rejected.json` and counted as a warning while the others go on."""
        refused = screen(ctx, self.check_source, job=self.name, ledger_bucket=self.output_bucket)
        if refused:
            summary.source_keys = [o.key for o in ctx.inputs]
            summary.warnings["inputs_rejected"] = len(refused)
            self.quarantine.record_rejected(summary, [(obj.key, reason) for obj, reason in refused])

    def _publish_data_docs(self, summary: RunSummary) -> None:
        """The validation this run quarantined, as Data Docs (`etl.data_docs`), when the run
        has a place for them. Last, once the run is decided: silver is committed (or nothing
        is, and the quarantine holds the input), the ledger written, and `validation.json` in
        the quarantine keeps the validation itself. So a failed or killed write here loses no
        data and changes no outcome; it is logged as an error and noted in the summary's
        warnings (`lake docs` renders the quarantined validation again). A run whose gate
        passed every row quarantined nothing and pays nothing here."""
        gate, args = (self._gate.quarantined if self._gate else None), self.args
        if gate is None or not args.data_docs_bucket or not args.data_docs_prefix:
            return
        self.stage(DATA_DOCS_STAGE)
        try:
            DataDocs(self.storage, args.data_docs_bucket, args.data_docs_prefix).publish(
                gate.validation,
                run_id=self.run_id,
                run_time=self.now,
                batch=self.name,
                execution_name=args.execution_name,
            )
        except Exception as error:
            log.exception(
                "Data Docs of run %s of %s not written to %s (the run's outcome and data stand; its "
                "validation is in the quarantine's validation.json): %s",
                self.run_id, self.name,
                self.storage.spark_path(args.data_docs_bucket, args.data_docs_prefix),
                one_line(f"{type(error).__name__}: {error}"),
            )  # fmt: skip
            summary.warnings[DATA_DOCS_NOT_WRITTEN] = 1

    def _gate_transform_load(self, ctx: JobContext, raw: DataFrame, summary: RunSummary) -> None:
        gate = Gate(job=self.name, max_drop_ratio=self.args.max_drop_ratio, quarantine=self.quarantine, summary=summary)
        self._gate = gate
        # Every row must map back to its bronze object, or lineage (and the merge) breaks. A
        # read of one object sets the key as a constant, so there is nothing to check.
        raw_rules = [*self.raw_rules()]
        if ctx.constant_source_key is None:
            raw_rules.append(not_null("_source_key", action=Action.FAIL, name="source_key_resolved"))
        self.stage("raw checks")
        raw_gate = gate.check_raw(raw, raw_rules)
        self.stages.rows(raw_gate.rows_in)
        if not raw_gate.ok:
            return
        with typed_rows(
            self.transform(raw),
            schema=self.schema,
            run_id=self.run_id,
            ingested_at=self.now,
            constant_source_key=ctx.constant_source_key,
            rows=raw_gate.rows_in,
        ) as typed:
            rules = self.quality_rules()
            self.stage("quality gate")
            quality_gate = gate.check_quality(typed, rules, expected_rows=raw_gate.rows_in)
            self.stages.rows(quality_gate.rows_passed)
            if not quality_gate.ok:
                return
            ctx.rows_passed = quality_gate.rows_passed
            ctx.first_key_range = quality_gate.string_range(self.key_columns[0])
            self.stage("write")
            result = self.load(ctx, quality_gate.passed if quality_gate.passed is not None else typed)
            self.stages.rows(result.rows_written)
        self._finish(ctx, summary, result)

    def _finish(self, ctx: JobContext, summary: RunSummary, result: WriteResult) -> None:
        finish(
            ctx,
            summary,
            result,
            job=self.name,
            bucket=self.output_bucket,
            spec=self.spec,
            processed=self.ledger_entries(ctx),
        )
