"""`lake docs`: the Great Expectations Data Docs of a local lake's quality-gate validations.

The validations come from the quarantine records the jobs already write
(`<silver|gold>/_quarantine/<dataset>/<run>/validation.json`, one for every run whose gate
dropped or failed rows, with GX's whole validation result); each is kept in the Data Docs
store of the stack's artifacts bucket folder and GX's site builder renders the site
(`etl.data_docs`). Runs whose gate passed every row keep no validation, so they have no page.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from data_platform.config import PlatformConfig
from data_platform.contract.naming import DATA_LAYERS
from data_platform.local.history import DB_NAME, STATE_DIR, History, parse_iso
from etl.data_docs import DataDocs, docs_prefix
from etl.storage import LocalStorage

QUARANTINE_PREFIX = "_quarantine/"
VALIDATION_FILE = "validation.json"
# run id -> its validation page (absolute path), for `lake runs`; beside the run history.
PAGES_FILE = "data_docs_pages.json"


def validation_pages(home: Path) -> dict[str, str]:
    """Each run's Data Docs page as the last `lake docs` built it (empty before the first)."""
    path = home / STATE_DIR / PAGES_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def build_local_docs(cfg: PlatformConfig, home: Path) -> Path:
    """Store every quarantined validation not stored yet, build the site; the index's path."""
    storage = LocalStorage(home)
    docs = DataDocs(storage, cfg.bucket_name("artifacts"), docs_prefix(cfg.environment))
    started = _run_starts(home)
    pages: dict[str, str] = {}
    for bucket in {cfg.bucket_name(layer) for layer in DATA_LAYERS if layer != "bronze"}:
        if not (home / bucket).is_dir():
            continue
        for obj in storage.list_objects(bucket, QUARANTINE_PREFIX):
            if not obj.key.endswith("/" + VALIDATION_FILE):
                continue
            record = json.loads(storage.read_bytes(bucket, obj.key))
            validation = record.get("validation")
            if not isinstance(validation, dict) or "results" not in validation:
                continue  # a run refused before its gate (a rejected input) has no validation
            run_id, job = str(record["run_id"]), str(record["job"])
            run_time = started.get(run_id) or datetime.fromtimestamp((home / bucket / obj.key).stat().st_mtime, UTC)
            page = docs.store(validation, run_id=run_id, run_time=run_time, batch=job)
            pages[run_id] = str((home / docs.bucket / page.key).resolve())
    index = home / docs.bucket / docs.build()
    (home / STATE_DIR).mkdir(exist_ok=True)
    (home / STATE_DIR / PAGES_FILE).write_text(json.dumps(pages, indent=1, sort_keys=True))
    return index


def _run_starts(home: Path) -> dict[str, datetime]:
    if not (home / STATE_DIR / DB_NAME).is_file():
        return {}
    with History.for_home(home) as history:
        return {run.run_id: parse_iso(run.started_at) for run in history.runs(limit=None)}
