"""The ledger: which bronze objects a job has already processed (the local twin of Glue
job bookmarks), and the run manifest: what a run changed, for downstream jobs.

Ledger: `<bucket>/_ledger/<job>/<run_id>.json`, a JSON list of `{key, size, etag}`. An
object is pending when its (key, etag, size) is in no ledger entry, so a re-uploaded,
changed object is pending again. One file per run, written once, so no run ever rewrites
another run's record.

Manifest: `<bucket>/_runs/<job>/<run_id>.json`, touched partitions and counts.
Both are written LAST by a run: a crash before that only means the input is reprocessed,
and the idempotent merge makes the second attempt converge to the same silver.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from etl.storage import ObjectInfo, Storage


def ledger_prefix(job: str) -> str:
    return f"_ledger/{job}/"


def ledger_key(job: str, run_id: str) -> str:
    return f"{ledger_prefix(job)}{run_id}.json"


def manifest_key(job: str, run_id: str) -> str:
    return f"_runs/{job}/{run_id}.json"


def processed_objects(storage: Storage, bucket: str, job: str) -> set[tuple[str, str, int]]:
    """Every (key, etag, size) any earlier run of `job` recorded."""
    seen: set[tuple[str, str, int]] = set()
    for entry in storage.list_objects(bucket, ledger_prefix(job)):
        if not entry.key.endswith(".json"):
            continue
        for item in json.loads(storage.read_bytes(bucket, entry.key)):
            seen.add((item["key"], item["etag"], int(item["size"])))
    return seen


def pending_objects(candidates: Iterable[ObjectInfo], processed: set[tuple[str, str, int]]) -> list[ObjectInfo]:
    return sorted(o for o in candidates if (o.key, o.etag, o.size) not in processed)


def record_processed(storage: Storage, bucket: str, job: str, run_id: str, objects: Iterable[ObjectInfo]) -> str:
    key = ledger_key(job, run_id)
    body = [o.to_dict() for o in sorted(objects)]
    storage.write_bytes(bucket, key, json.dumps(body, indent=1).encode())
    return key


def record_rejected(
    storage: Storage, bucket: str, job: str, run_id: str, refused: Iterable[tuple[ObjectInfo, str]]
) -> str:
    """Objects a run refused (unreadable as the job's format): done for the ledger, so they
    do not fail every later run, but marked with the outcome and reason."""
    key = f"{ledger_prefix(job)}{run_id}.rejected.json"
    body = [{**o.to_dict(), "outcome": "rejected", "reason": reason} for o, reason in sorted(refused)]
    storage.write_bytes(bucket, key, json.dumps(body, indent=1).encode())
    return key


def write_manifest(storage: Storage, bucket: str, job: str, run_id: str, manifest: Mapping[str, Any]) -> str:
    key = manifest_key(job, run_id)
    storage.write_bytes(bucket, key, json.dumps(manifest, indent=1, sort_keys=True, default=str).encode())
    return key


def read_manifest(storage: Storage, bucket: str, job: str, run_id: str) -> dict[str, Any] | None:
    key = manifest_key(job, run_id)
    if not storage.exists(bucket, key):
        return None
    return json.loads(storage.read_bytes(bucket, key))
