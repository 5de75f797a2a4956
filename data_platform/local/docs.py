"""`lake docs`, and where `lake runs` finds each run's validation page.

A run whose quality gate dropped or failed rows writes its Data Docs itself, through the job, as
on Glue (`etl.data_docs`): its validation, its page, the index of the newest runs, and the link
`<artifacts>/data-docs/<env>/site/runs/<execution name>.html`; locally the runner's execution
is the run, so the link is named after the run id (`contract.data_docs`). Runs whose gate
passed every row keep no validation, so they have no page.

`lake docs` refreshes the site and prints its index: it keeps the validation of every run whose
quarantine holds one (`<silver|gold>/_quarantine/<dataset>/<run>/validation.json`, with GX's
whole result) but whose Data Docs hold none (runs from before the jobs wrote them, or whose
write failed), renders every page and the whole index (a job's index lists the newest runs
only), and links each run to its page.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from data_platform.config import PlatformConfig
from data_platform.contract.data_docs import check_execution_name, data_docs_prefix, run_link_key
from data_platform.contract.naming import DATA_LAYERS
from data_platform.local.history import DB_NAME, STATE_DIR, History, parse_iso
from etl.data_docs import DataDocs, link_target
from etl.storage import LocalStorage

QUARANTINE_PREFIX = "_quarantine/"
VALIDATION_FILE = "validation.json"
# Where `lake docs` once kept each run's page, before the runs linked their own: superseded.
FORMER_PAGES_FILE = "data_docs_pages.json"


def validation_pages(home: Path, run_ids: Iterable[str]) -> dict[str, str]:
    """The validation page (absolute path) of each of `run_ids` that has one, through its run
    link. `lake runs` reads no stack config (loading it is the slow part of that command), so
    the link is looked for in every bucket folder of the home by the contract's layout."""
    pages: dict[str, str] = {}
    for run_id in run_ids:
        if check_execution_name(run_id) is not None:
            continue  # no runner execution can have that name, so no link either
        # `<any bucket folder>/data-docs/<any env>/site/runs/<run id>.html`
        for link in sorted(home.glob(f"*/{run_link_key(data_docs_prefix('*'), run_id)}")):
            target = link_target(link.read_bytes())
            page = (link.parent / target).resolve() if target else None
            if page is not None and page.is_file():
                pages[run_id] = str(page)
                break
    return pages


def build_local_docs(cfg: PlatformConfig, home: Path) -> Path:
    """Keep every quarantined validation the Data Docs lack, build the whole site, link every
    run to its page; the index's path."""
    storage = LocalStorage(home)
    docs = DataDocs(storage, cfg.bucket_name("artifacts"), data_docs_prefix(cfg.environment))
    stored = docs.stored_runs()
    started = _run_starts(home)
    for bucket in sorted({cfg.bucket_name(layer) for layer in DATA_LAYERS if layer != "bronze"}):
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
            if run_id in stored:
                continue
            run_time = started.get(run_id) or datetime.fromtimestamp((home / bucket / obj.key).stat().st_mtime, UTC)
            docs.store(validation, run_id=run_id, run_time=run_time, batch=job)
    site = docs.build()
    for run_id, page in site.pages.items():
        if check_execution_name(run_id) is None:
            docs.link_run(run_id, page)
    (home / STATE_DIR / FORMER_PAGES_FILE).unlink(missing_ok=True)
    return home / docs.bucket / site.index


def _run_starts(home: Path) -> dict[str, datetime]:
    if not (home / STATE_DIR / DB_NAME).is_file():
        return {}
    with History.for_home(home) as history:
        return {run.run_id: parse_iso(run.started_at) for run in history.runs(limit=None)}
