"""table_maintenance: Iceberg's own maintenance of the stack's silver and gold tables.

Not a bronze-to-silver job: it reads no input and writes no rows. For each table it runs
`rewrite_data_files`, `expire_snapshots` and `remove_orphan_files` (etl.maintenance) with the
stack's retention, passed as job arguments by the stack config:

    --tables sales,products,...          the datasets (tables of --database) to maintain
    --snapshot_retention_days 7          snapshots (time travel, rollback) kept at least this long
    --min_snapshots 10                   ... and at least this many
    --orphan_retention_days 3            unreferenced files younger than this are kept

Scheduled from the stack config like any job; locally `lake maintain [dataset]` runs it.
A table that does not exist yet (no run has written it) is skipped, not an error.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from pyspark.sql import SparkSession

from data_platform.contract.runs import RunState
from etl.args import JobArguments
from etl.base import RunSummary, one_line, utc_timestamp
from etl.catalog import table_identifier
from etl.maintenance import MaintenanceResult, Retention, maintain
from etl.session import table_session

log = logging.getLogger("etl")

TABLES_ARGUMENT = "tables"
RETENTION_ARGUMENTS = {
    "snapshot_retention_days": "snapshot_days",
    "min_snapshots": "min_snapshots",
    "orphan_retention_days": "orphan_days",
}


def retention_from(args: JobArguments) -> Retention:
    values = {}
    for argument, attribute in RETENTION_ARGUMENTS.items():
        raw = args.extra.get(argument)
        if raw is None or raw == "":
            continue
        try:
            number = int(raw)
        except ValueError:
            raise ValueError(f"--{argument} {raw!r} is not a whole number") from None
        if number < 0 or (attribute != "snapshot_days" and number < 1):
            raise ValueError(f"--{argument} {raw!r} is out of range")
        values[attribute] = number
    return Retention(**values)


def tables_from(args: JobArguments) -> list[str]:
    raw = args.extra.get(TABLES_ARGUMENT, "")
    names = [name.strip() for name in raw.split(",") if name.strip()]
    if not names:
        raise ValueError(f"--{TABLES_ARGUMENT} names no table (give the datasets, e.g. sales,products)")
    return names


def describe(result: MaintenanceResult) -> str:
    """One line per table: what the maintenance changed."""
    table = result.table.split(".", 1)[1]
    return (
        f"{table}: {result.rewritten_files} data files rewritten into {result.added_files}, "
        f"{result.expired_snapshots} snapshots expired, {len(result.orphan_files)} orphan files removed"
    )


class TableMaintenance:
    name = "table_maintenance"

    def __init__(self, args: JobArguments, spark: SparkSession) -> None:
        self.args = args
        self.spark = table_session(spark, args.storage_root)
        self.run_id = args.job_run_id
        self.retention = retention_from(args)
        self.tables = tables_from(args)

    def run(self) -> RunSummary:
        args = self.args
        summary = RunSummary(
            run_id=self.run_id,
            job=self.name,
            env=args.env,
            trigger_source=args.trigger_source.value,
            started_at=utc_timestamp(datetime.now(UTC)),
        )
        results: list[MaintenanceResult] = []
        try:
            for dataset in self.tables:
                identifier = table_identifier(args.database, dataset)
                if not self.spark.catalog.tableExists(identifier):
                    log.info("maintenance skips %s: no table yet", identifier)
                    continue
                results.append(maintain(self.spark, identifier, self.retention))
            summary.state = RunState.SUCCEEDED if results else RunState.NO_INPUT
            summary.outputs = [describe(result) for result in results]
        except Exception as error:
            log.exception("run %s of %s failed unexpectedly", self.run_id, self.name)
            summary.state, summary.error_kind = RunState.FAILED, "internal"
            summary.error = one_line(f"internal error: {type(error).__name__}: {error}")
        summary.ended_at = utc_timestamp(datetime.now(UTC))
        return summary
