"""Iceberg's own table maintenance and undo, the same procedures in the cloud and locally.

- `maintain`: `rewrite_data_files` (compacts the small files daily appends leave), then
  `expire_snapshots` (drops snapshots older than the retention, keeping at least the last
  few, and the files only they reference), then `remove_orphan_files` (files no snapshot
  references: what a killed run wrote before its commit). Orphans younger than the orphan
  retention are kept, so a run that is writing while maintenance runs loses nothing.
- `rollback_to_run` / `rollback_to_snapshot`: the table's current snapshot becomes an earlier
  one (Iceberg's `rollback_to_snapshot`); nothing is deleted, so it can be rolled forward again.

Procedures: https://iceberg.apache.org/docs/1.7.1/spark-procedures/ (Glue 5.0 ships
Iceberg 1.7.1, https://docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-etl-format-iceberg.html).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pyspark.sql import SparkSession

from etl import ledger
from etl.catalog import CATALOG
from etl.session import catalog_writes
from etl.storage import Storage
from etl.tables.spec import SUMMARY_RUN_ID

log = logging.getLogger("etl")


@dataclass(frozen=True)
class Retention:
    snapshot_days: int = 7  # snapshots (and time travel) kept at least this long
    min_snapshots: int = 10  # ... and at least this many, whatever their age
    orphan_days: int = 3  # unreferenced files younger than this are kept (a run may be writing them)


@dataclass
class MaintenanceResult:
    table: str
    rewritten_files: int = 0
    added_files: int = 0
    expired_snapshots: int = 0
    deleted_files: int = 0
    orphan_files: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


class RollbackError(ValueError):
    """A rollback target that cannot be restored; the message says why and what to do."""


def _name(identifier: str) -> str:
    """`lake.db.table` -> `db.table` (procedures take the name within the catalog)."""
    return identifier.split(".", 1)[1] if identifier.startswith(f"{CATALOG}.") else identifier


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("TIMESTAMP '%Y-%m-%d %H:%M:%S.%f'")


def maintain(
    spark: SparkSession, identifier: str, retention: Retention, *, now: datetime | None = None
) -> MaintenanceResult:
    """Compact, expire and clean one table (the session's time zone must be UTC, as ours are)."""
    now = now or datetime.now(UTC)
    table = _name(identifier)
    result = MaintenanceResult(identifier)
    with catalog_writes(spark):
        _maintain(spark, identifier, table, retention, now, result)
    log.info("maintained %s: %s", identifier, result.to_dict())
    return result


def _maintain(
    spark: SparkSession, identifier: str, table: str, retention: Retention, now: datetime, result: MaintenanceResult
) -> None:
    rewrite = spark.sql(f"CALL {CATALOG}.system.rewrite_data_files(table => '{table}')").first()
    if rewrite is not None:
        result.rewritten_files = int(rewrite["rewritten_data_files_count"])
        result.added_files = int(rewrite["added_data_files_count"])
    snapshots_before = _snapshot_count(spark, identifier)
    expire = spark.sql(
        f"CALL {CATALOG}.system.expire_snapshots(table => '{table}', "
        f"older_than => {_timestamp(now - timedelta(days=retention.snapshot_days))}, "
        f"retain_last => {int(retention.min_snapshots)})"
    ).first()
    if expire is not None:
        result.deleted_files = int(expire["deleted_data_files_count"])
    result.expired_snapshots = snapshots_before - _snapshot_count(spark, identifier)
    orphans = spark.sql(
        f"CALL {CATALOG}.system.remove_orphan_files(table => '{table}', "
        f"older_than => {_timestamp(now - timedelta(days=retention.orphan_days))})"
    ).collect()
    result.orphan_files = sorted(row["orphan_file_location"] for row in orphans)


def _snapshot_count(spark: SparkSession, identifier: str) -> int:
    return int(spark.sql(f"SELECT count(*) FROM {identifier}.snapshots").collect()[0][0])


def snapshot_of_run(spark: SparkSession, identifier: str, run_id: str) -> int:
    """The snapshot run `run_id` committed to the table; RollbackError if none is kept."""
    rows = spark.sql(f"SELECT snapshot_id, summary FROM {identifier}.snapshots ORDER BY committed_at").collect()
    found = [int(r["snapshot_id"]) for r in rows if (r["summary"] or {}).get(SUMMARY_RUN_ID) == run_id]
    if not found:
        raise RollbackError(
            f"run {run_id} committed no snapshot to {identifier} (it changed nothing, failed, or "
            "its snapshot was expired by maintenance); `lake history` lists the snapshots kept"
        )
    return found[-1]


def current_ancestors(spark: SparkSession, identifier: str) -> list[int]:
    """The current snapshot and its ancestors, newest first."""
    rows = spark.sql(
        f"SELECT snapshot_id, is_current_ancestor FROM {identifier}.history ORDER BY made_current_at DESC"
    ).collect()
    return [int(r["snapshot_id"]) for r in rows if r["is_current_ancestor"]]


def _check_target(identifier: str, ancestors: list[int], snapshot_id: int) -> None:
    if not ancestors:
        raise RollbackError(f"{identifier} has no snapshot to roll back")
    if snapshot_id == ancestors[0]:
        raise RollbackError(f"snapshot {snapshot_id} is already the current snapshot of {identifier}")
    if snapshot_id not in ancestors:
        raise RollbackError(
            f"snapshot {snapshot_id} is not in the current history of {identifier} (rolled back "
            "already, or expired); `lake history` shows which snapshots can be restored"
        )


def rollback_to_snapshot(spark: SparkSession, identifier: str, snapshot_id: int) -> int:
    """Make `snapshot_id` (an ancestor of the current snapshot) current; returns the snapshot
    that was current before."""
    ancestors = current_ancestors(spark, identifier)
    _check_target(identifier, ancestors, snapshot_id)
    with catalog_writes(spark):
        spark.sql(f"CALL {CATALOG}.system.rollback_to_snapshot('{_name(identifier)}', {int(snapshot_id)})").collect()
    return ancestors[0]


@dataclass
class RollbackResult:
    table: str
    from_snapshot: int
    to_snapshot: int
    runs: list[str]  # runs whose ledger entries no longer count (their objects are pending again)
    objects: list[dict[str, Any]]  # those runs' source objects
    record: str  # the rollback record's key in the output bucket

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def rollback_table(
    spark: SparkSession,
    storage: Storage,
    *,
    identifier: str,
    bucket: str,
    job: str,
    to_snapshot: int,
    rollback_id: str,
    now: datetime | None = None,
) -> RollbackResult:
    """Roll `identifier` (written by `job`, ledger in `bucket`) back to `to_snapshot`, and make
    the ledger follow: every run whose committed snapshot, or the snapshot it read when it
    committed nothing, is not `to_snapshot` or older is un-recorded (etl.ledger)."""
    ancestors = current_ancestors(spark, identifier)
    _check_target(identifier, ancestors, to_snapshot)
    keep = set(ancestors[ancestors.index(to_snapshot) :])
    already = ledger.rolled_back_runs(storage, bucket, job)
    undone: list[dict[str, Any]] = []
    for manifest in ledger.manifests(storage, bucket, job):
        if manifest.get("table") != identifier or manifest.get("run_id") in already:
            continue
        seen = manifest.get("snapshot_id") or manifest.get("base_snapshot_id")
        if seen is not None and int(seen) not in keep:
            undone.append(manifest)
    undone.sort(key=lambda m: str(m.get("finished_at", "")))
    runs = [str(m["run_id"]) for m in undone]
    objects = ledger.objects_of_runs(storage, bucket, job, runs)
    record = {
        "table": identifier,
        "job": job,
        "rollback_id": rollback_id,
        "from_snapshot": ancestors[0],
        "to_snapshot": to_snapshot,
        "at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        "runs": runs,
        "objects": objects,
    }
    # Intent first (see etl.ledger): objects become pending before their rows leave the table.
    key = ledger.record_rollback(storage, bucket, job, rollback_id, record)
    rollback_to_snapshot(spark, identifier, to_snapshot)
    log.info("rolled %s back to snapshot %s; runs un-recorded: %s", identifier, to_snapshot, ", ".join(runs) or "none")
    return RollbackResult(identifier, ancestors[0], to_snapshot, runs, objects, key)
