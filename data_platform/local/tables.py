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
        records.append(SnapshotRecord(
            snapshot_id=snapshot.snapshot_id,
            parent_id=snapshot.parent_snapshot_id,
            committed_at=_iso_millis(snapshot.timestamp_ms),
            operation=summary.operation.value if summary is not None else "",
            run_id=facts["run_id"], job=facts["job"], sources=facts["sources"],
            rows_added=int(extra.get("added-records", 0)),
            rows_removed=int(extra.get("deleted-records", 0)),
            total_rows=int(extra.get("total-records", 0)),
            current=snapshot.snapshot_id == current,
            in_current_history=snapshot.snapshot_id in ancestors,
        ))
    return records


def read_rows(home: Path, database: str, dataset: str, limit: int | None = None) -> tuple[list[str], list[dict[str, Any]]]:
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
