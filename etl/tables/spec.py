"""What a dataset's table is (`DatasetSpec`), what each commit records in its snapshot
(`Commit`, under the `lake.*` summary keys) and what a write reports (`WriteResult`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql.types import StructType

from etl.catalog import table_identifier
from etl.storage import ObjectInfo

METADATA_COLUMNS = ("_source_key", "_ingested_at", "_run_id")
ORIGIN_COLUMN = "_origin"  # 0 stored, 1 incoming (a helper column of the merge, never stored)

# Snapshot summary keys (Iceberg keeps every summary property; ours carry the `lake.` prefix).
SUMMARY_RUN_ID = "lake.run-id"
SUMMARY_JOB = "lake.job"
SUMMARY_SOURCES = "lake.sources"


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
    latest_order: tuple[str, ...] = (ORIGIN_COLUMN, "_source_key")

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
        return {
            SUMMARY_RUN_ID: self.run_id,
            SUMMARY_JOB: self.job,
            SUMMARY_SOURCES: json.dumps(sources, separators=(",", ":")),
        }


@dataclass
class WriteResult:
    rows_written: int = 0  # incoming rows that changed the table
    partitions: list[dict[str, str | None]] = field(default_factory=list)  # partitions changed
    snapshot_id: int | None = None  # None when the run committed nothing
    operation: str = "none"  # append | merge | overwrite | none
    # The table's current snapshot when the run read it (None: empty table). A rollback to a
    # snapshot this is not an ancestor of un-records the run in the ledger (etl.ledger).
    base_snapshot_id: int | None = None


def snapshot_properties(summary: Mapping[str, str]) -> dict[str, Any]:
    """The run facts a snapshot summary carries (`run_id`, `job`, `sources`), where present."""
    sources_text = summary.get(SUMMARY_SOURCES)
    try:
        sources = json.loads(sources_text) if sources_text else []
    except ValueError:
        sources = []
    return {"run_id": summary.get(SUMMARY_RUN_ID), "job": summary.get(SUMMARY_JOB), "sources": sources}
