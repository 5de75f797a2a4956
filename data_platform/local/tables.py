"""The lake home's Iceberg tables read without a JVM (pyiceberg on the local catalog): the
demo's and the CLI's listings, `lake history`.

The catalog is the one the jobs commit to (`etl.catalog`), so what is shown here is each
table's current snapshot, exactly what Spark, Athena-style readers or DuckDB would read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from etl.catalog import CATALOG, local_catalog_path, pyiceberg_catalog_properties
from etl.tables import snapshot_properties


@dataclass(frozen=True)
class SnapshotRecord:
    """One snapshot of a table, with the run facts its summary carries."""

    snapshot_id: int
    parent_id: int | None
    committed_at: str
    operation: str
    run_id: str | None
    job: str | None
    sources: list[dict[str, Any]] = field(default_factory=list)
    rows_added: int = 0
    rows_removed: int = 0
    total_rows: int = 0
    current: bool = False  # the table's current snapshot
    in_current_history: bool = True  # an ancestor of the current snapshot (False: rolled back)

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@contextmanager
def catalog(home: Path) -> Iterator[Any]:
    """The lake home's catalog, or None when no table was ever written there."""
    if not local_catalog_path(home).is_file():
        yield None
        return
    from pyiceberg.catalog.sql import SqlCatalog

    sql_catalog = SqlCatalog(CATALOG, **pyiceberg_catalog_properties(home))
    try:
        yield sql_catalog
    finally:
        sql_catalog.engine.dispose()


def load_table(home: Path, database: str, dataset: str) -> Any | None:
    """The pyiceberg table `<database>.<dataset>`, or None when it does not exist (yet)."""
    from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

    with catalog(home) as found:
        if found is None:
            return None
        try:
            return found.load_table(f"{database}.{dataset}")
        except (NoSuchTableError, NoSuchNamespaceError):
            return None


def _iso_millis(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def snapshot_history(table: Any) -> list[SnapshotRecord]:
    """Every snapshot the table still keeps, oldest first."""
    metadata = table.metadata
    current = metadata.current_snapshot_id
    ancestors: set[int] = set()
    by_id = {s.snapshot_id: s for s in metadata.snapshots}
    cursor = current
    while cursor is not None and cursor in by_id:
        ancestors.add(cursor)
        cursor = by_id[cursor].parent_snapshot_id
    records = []
    for snapshot in sorted(metadata.snapshots, key=lambda s: (s.timestamp_ms, s.snapshot_id)):
        summary = snapshot.summary
        extra = dict(summary.additional_properties) if summary is not None else {}
        facts = snapshot_properties(extra)
        records.append(
            SnapshotRecord(
                snapshot_id=snapshot.snapshot_id,
                parent_id=snapshot.parent_snapshot_id,
                committed_at=_iso_millis(snapshot.timestamp_ms),
                operation=summary.operation.value if summary is not None else "",
                run_id=facts["run_id"],
                job=facts["job"],
                sources=facts["sources"],
                rows_added=int(extra.get("added-records", 0)),
                rows_removed=int(extra.get("deleted-records", 0)),
                total_rows=int(extra.get("total-records", 0)),
                current=snapshot.snapshot_id == current,
                in_current_history=snapshot.snapshot_id in ancestors,
            )
        )
    return records


def read_rows(
    home: Path, database: str, dataset: str, limit: int | None = None
) -> tuple[list[str], list[dict[str, Any]]]:
    """(column names, rows) of the table's current snapshot; ([], []) when it has none."""
    table = load_table(home, database, dataset)
    if table is None or table.metadata.current_snapshot_id is None:
        return [], []
    arrow = table.scan(limit=limit).to_arrow()
    return arrow.column_names, arrow.to_pylist()


def row_count(home: Path, database: str, dataset: str) -> int | None:
    """Rows in the current snapshot (from its summary: no data file is read)."""
    table = load_table(home, database, dataset)
    if table is None:
        return None
    snapshot = table.current_snapshot()
    if snapshot is None or snapshot.summary is None:
        return 0
    return int(dict(snapshot.summary.additional_properties).get("total-records", 0))


# ---- operations that need Spark (Iceberg's procedures) -------------------------------------------


@dataclass(frozen=True)
class TableRef:
    """A stack's dataset table: its name in the catalog, where it lives, who writes it."""

    database: str
    dataset: str
    bucket: str
    job: str

    @property
    def identifier(self) -> str:
        from etl.catalog import table_identifier

        return table_identifier(self.database, self.dataset)


def dataset_tables(cfg: Any) -> dict[str, TableRef]:
    """Every silver/gold dataset of the stack, by dataset name."""
    return {
        job_cfg.dataset: TableRef(cfg.names.glue_database(), job_cfg.dataset, cfg.output_bucket(job), job)
        for job, job_cfg in sorted(cfg.dataset_jobs.items())
    }


def table_of(cfg: Any, dataset: str) -> TableRef:
    from data_platform.local import LakeError

    tables = dataset_tables(cfg)
    if dataset not in tables:
        raise LakeError(f"unknown dataset '{dataset}'; the stack's datasets: {', '.join(sorted(tables))}", exit_code=2)
    return tables[dataset]


def rollback_target(
    home: Path, table: TableRef, *, to_run: str | None = None, to_snapshot: int | None = None, last: int | None = None
) -> int:
    """The snapshot to restore, checked without a JVM: it must exist and be an ancestor of
    the current snapshot (otherwise the error says what `lake history` shows). `last`: undo
    the newest `last` commits of the current history."""
    from data_platform.local import LakeError

    loaded = load_table(home, table.database, table.dataset)
    if loaded is None:
        raise LakeError(f"table {table.database}.{table.dataset} does not exist yet: nothing to roll back")
    history = snapshot_history(loaded)
    if last is not None:
        current_line = [s for s in history if s.in_current_history]  # oldest first
        if last < 1 or last >= len(current_line):
            older = len(current_line) - 1
            limit = f"at most --last {older} can be undone" if older else "there is no older snapshot to restore"
            raise LakeError(
                f"--last {last}: {table.database}.{table.dataset} has {len(current_line)} snapshot(s) in "
                f"its current history; {limit}"
            )
        return current_line[-1 - last].snapshot_id
    if to_run is not None:
        found = [s for s in history if s.run_id == to_run]
        if not found:
            raise LakeError(
                f"run {to_run} committed no snapshot to {table.database}.{table.dataset} (it changed "
                f"nothing, failed, or its snapshot expired); see `lake history {table.dataset}`"
            )
        target = found[-1]
    else:
        matching = [s for s in history if s.snapshot_id == to_snapshot]
        if not matching:
            raise LakeError(
                f"{table.database}.{table.dataset} has no snapshot {to_snapshot}; see `lake history {table.dataset}`"
            )
        target = matching[0]
    if target.current:
        raise LakeError(
            f"snapshot {target.snapshot_id} is already the current snapshot of {table.database}.{table.dataset}"
        )
    if not target.in_current_history:
        raise LakeError(
            f"snapshot {target.snapshot_id} is not in the current history of "
            f"{table.database}.{table.dataset} (it was rolled back); see `lake history {table.dataset}`"
        )
    return target.snapshot_id


def rollback(home: Path, table: TableRef, snapshot_id: int) -> Any:
    """Roll the table back to `snapshot_id` with Iceberg's procedure and make the ledger follow
    (etl.maintenance.rollback_table). Starts Spark."""
    from data_platform.local.lake import new_run_id
    from etl.maintenance import rollback_table
    from etl.session import local_spark, table_session
    from etl.storage import LocalStorage

    session = table_session(local_spark(), str(home))
    return rollback_table(
        session,
        LocalStorage(home),
        identifier=table.identifier,
        bucket=table.bucket,
        job=table.job,
        to_snapshot=snapshot_id,
        rollback_id=new_run_id().replace("local-", "rollback-", 1),
    )


def maintain(home: Path, tables: list[TableRef], retention: Any) -> list[Any]:
    """Iceberg's maintenance procedures on each table that exists (etl.maintenance). Starts Spark."""
    from etl.maintenance import Retention
    from etl.maintenance import maintain as maintain_table
    from etl.session import local_spark, table_session

    session = table_session(local_spark(), str(home))
    keep = Retention(
        snapshot_days=retention.snapshot_days,
        min_snapshots=retention.min_snapshots,
        orphan_days=retention.orphan_file_days,
    )
    return [
        maintain_table(session, t.identifier, keep)
        for t in tables
        if load_table(home, t.database, t.dataset) is not None
    ]
