"""The ledger: which bronze objects a job has already processed (the local twin of Glue
job bookmarks), and the run manifest: what a run changed, for downstream jobs.

Ledger: `<bucket>/_ledger/<job>/<run_id>.json`, a JSON list of `{key, size, etag}`. An
object is pending when its (key, etag, size) is in no ledger entry, so a re-uploaded,
changed object is pending again. One file per run, written once, so no run ever rewrites
another run's record.

Manifest: `<bucket>/_runs/<job>/<run_id>.json`: the table snapshot the run committed (if
any), the snapshot it read, the partitions it changed and its counts.

Both are written LAST by a run, after its table commit: a crash before that only means the
input is processed again, which changes nothing in the table (no new snapshot) and then
records it. So the ledger decides whether an object is pending, and it never says
"processed" for rows the table does not hold.

Rollback: `_ledger/<job>/<id>.rollback.json` names the runs a table rollback undid; their
ledger entries no longer count, so their objects are pending again and the next scheduled
(or manual) run processes them. The record is written BEFORE the table is rolled back: a
crash between the two leaves objects pending whose rows are still stored, and processing
them again changes nothing.
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


ROLLBACK_SUFFIX = ".rollback.json"


def _run_of(key: str, job: str) -> str:
    """`_ledger/<job>/<run>.json` or `<run>.rejected.json` -> `<run>`."""
    name = key[len(ledger_prefix(job)) :]
    return name.removesuffix(".json").removesuffix(".rejected")


def processed_objects(storage: Storage, bucket: str, job: str) -> set[tuple[str, str, int]]:
    """Every (key, etag, size) an earlier run of `job` recorded, except runs a rollback undid."""
    entries = [o for o in storage.list_objects(bucket, ledger_prefix(job)) if o.key.endswith(".json")]
    undone = rolled_back_runs(storage, bucket, job, entries)
    seen: set[tuple[str, str, int]] = set()
    for entry in entries:
        if entry.key.endswith(ROLLBACK_SUFFIX) or _run_of(entry.key, job) in undone:
            continue
        for item in json.loads(storage.read_bytes(bucket, entry.key)):
            seen.add((item["key"], item["etag"], int(item["size"])))
    return seen


def rolled_back_runs(storage: Storage, bucket: str, job: str, entries: Iterable[ObjectInfo] | None = None) -> set[str]:
    """The run ids every rollback record of `job` names."""
    listed = entries if entries is not None else storage.list_objects(bucket, ledger_prefix(job))
    runs: set[str] = set()
    for entry in listed:
        if entry.key.endswith(ROLLBACK_SUFFIX):
            runs.update(json.loads(storage.read_bytes(bucket, entry.key)).get("runs", []))
    return runs


def record_rollback(storage: Storage, bucket: str, job: str, rollback_id: str, record: Mapping[str, Any]) -> str:
    key = f"{ledger_prefix(job)}{rollback_id}{ROLLBACK_SUFFIX}"
    storage.write_bytes(bucket, key, json.dumps(record, indent=1, sort_keys=True, default=str).encode())
    return key


def manifests(storage: Storage, bucket: str, job: str) -> list[dict[str, Any]]:
    """Every run manifest of `job` (what each successful run changed)."""
    found = []
    for entry in storage.list_objects(bucket, f"_runs/{job}/"):
        if entry.key.endswith(".json"):
            found.append(json.loads(storage.read_bytes(bucket, entry.key)))
    return found


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


def objects_of_runs(storage: Storage, bucket: str, job: str, run_ids: Iterable[str]) -> list[dict[str, Any]]:
    """The objects the ledger entries of `run_ids` record (rejections excluded)."""
    found: list[dict[str, Any]] = []
    for run_id in run_ids:
        key = ledger_key(job, run_id)
        if storage.exists(bucket, key):
            found.extend(json.loads(storage.read_bytes(bucket, key)))
    return found
