"""Where a run puts what it refuses: `<output bucket>/_quarantine/<dataset>/<run_id>/`, beside
the table it writes (bronze is never modified; it keeps the refused bytes).

- `rows.jsonl`: the refused rows, each with `_failed_rules` (the rule names it breaks) and
  `_source_key`, in Spark's JSON encoding;
- `validation.json`: the gate's verdict (counts per rule, Great Expectations' result);
- `rejected.json`: the input objects refused before they were read, each with why.
"""

from __future__ import annotations

import json
import logging
import posixpath
from collections.abc import Sequence
from typing import Any

from pyspark.sql import DataFrame

from etl.base import RunSummary
from etl.quality import MAX_QUARANTINE_ROWS_COLLECTED, GateResult, json_lines
from etl.storage import Storage

log = logging.getLogger("etl")


class Quarantine:
    """One run's quarantine folder."""

    def __init__(
        self, storage: Storage, bucket: str, *, job: str, dataset: str, run_id: str, bronze_bucket: str
    ) -> None:
        self.storage = storage
        self.bucket = bucket
        self.job = job
        self.dataset = dataset
        self.run_id = run_id
        self.bronze_bucket = bronze_bucket
        self.prefix = f"_quarantine/{dataset}/{run_id}/"

    def write_rows(self, rows: DataFrame, gate: GateResult, *, reason: str | None, source_keys: Sequence[str]) -> str:
        """`rows.jsonl` (with `_failed_rules`, `_source_key`) and `validation.json`; returns the
        folder's Spark path."""
        self._write_jsonl(rows, gate.rows_quarantined, gate.quarantined_lines)
        record = {
            **self._about(reason),
            "source_keys": list(source_keys),
            "rows_in": gate.rows_in,
            "rows_quarantined": gate.rows_quarantined,
            "failed_rules": gate.failed_rules,
            "warnings": gate.warnings,
            "escalated": gate.escalated,
            "validation": gate.validation,
        }
        self.storage.write_bytes(
            self.bucket, self.prefix + "validation.json", json.dumps(record, indent=1, default=str).encode()
        )
        return self.storage.spark_path(self.bucket, self.prefix)

    def record_rejected(self, summary: RunSummary, refused: Sequence[tuple[str | None, str]]) -> None:
        """`rejected.json`: each refused key and why; the summary then points at the folder
        unless it already does. Never raises over the real error."""
        try:
            record = {
                **self._about(refused[0][1] if len(refused) == 1 else f"{len(refused)} inputs refused"),
                "source_key": refused[0][0],
                "refused": [{"source_key": key, "reason": reason} for key, reason in refused],
                "source_keys": [key for key, _ in refused if key],
                "bronze_bucket": self.bronze_bucket,
            }
            self.storage.write_bytes(self.bucket, self.prefix + "rejected.json", json.dumps(record, indent=1).encode())
            if summary.quarantine_path is None:
                summary.quarantine_path = self.storage.spark_path(self.bucket, posixpath.join(self.prefix, ""))
        except Exception:
            log.exception("could not write rejected.json for run %s", self.run_id)

    def _about(self, reason: str | None) -> dict[str, Any]:
        return {"job": self.job, "run_id": self.run_id, "dataset": self.dataset, "reason": reason}

    def _write_jsonl(self, rows: DataFrame, count: int, lines: list[str] | None) -> None:
        key = self.prefix + "rows.jsonl"
        if count <= MAX_QUARANTINE_ROWS_COLLECTED:
            # Spark's JSON encoding (the file writer's, same options), collected (by the gate,
            # if it did as it counted them): one small job instead of a write with its output
            # commit, staging and listing.
            if lines is None:
                lines = json_lines(rows)
            self.storage.write_bytes(self.bucket, key, "".join(f"{line}\n" for line in lines).encode())
            return
        staging = f"_staging/_quarantine/{self.dataset}/{self.run_id}/"
        self.storage.delete_prefix(self.bucket, staging)
        rows.coalesce(1).write.mode("overwrite").json(self.storage.spark_path(self.bucket, staging))
        parts = [o.key for o in self.storage.list_objects(self.bucket, staging) if o.key.endswith(".json")]
        if parts:
            self.storage.replace_from(self.bucket, parts[0], self.bucket, key)
        else:
            self.storage.write_bytes(self.bucket, key, b"")
        self.storage.delete_prefix(self.bucket, staging)
