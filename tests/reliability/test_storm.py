"""Exactly-once outcomes under load: a storm of >= 200 uploads from 4 concurrent `lake upload`s.

Each of the 4 processes uploads ~52 files with the multi-file form. The mix per process:
clean sales and product files, a re-send of the same content under the same key, the same
content under a second key, one key all four processes upload at once, a file with one bad
row (partial quarantine), a file whose every row breaks a drop rule (escalated to fail), and
malformed files of every format (refused before Spark: cheap, so the storm stays in budget).

Afterwards, from `lake runs --json`, the quarantine folders and the files alone:
- every upload has exactly one run (none lost, none doubled);
- every bronze object is in exactly one of processed / quarantined / failed-with-record, the
  one its kind promises, and every quarantine folder belongs to a recorded run;
- bronze holds every object byte for byte; silver holds each business key once, every valid
  row of every processed object, and nothing else.

`LAKE_STORM_UPLOADS` (default 208), `LAKE_STORM_WORKERS` (default 4) and
`LAKE_STORM_GOOD_SALES`/`LAKE_STORM_GOOD_PRODUCTS` (clean files per process) scale it.
"""

from __future__ import annotations

import gzip
import json
import os
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from . import (
    KEY_COLUMNS,
    Background,
    assert_no_traceback,
    bronze_hashes,
    duplicates,
    invalid_rows,
    quarantine_records,
    read_dataset,
    runs,
    sha256_file,
    upload_args,
)
from .corpus import SALES_HEADER, inventory_xml, product, sales_csv, sales_row

pytestmark = [pytest.mark.cli, pytest.mark.slow]

WORKERS = int(os.environ.get("LAKE_STORM_WORKERS", "4"))
UPLOADS = int(os.environ.get("LAKE_STORM_UPLOADS", "208"))
# Clean files per process (each costs a Spark run of ~5-15 s on 2 cores; refusals cost ~0.1 s).
GOOD_SALES = int(os.environ.get("LAKE_STORM_GOOD_SALES", "3"))
GOOD_PRODUCTS = int(os.environ.get("LAKE_STORM_GOOD_PRODUCTS", "1"))

PROCESSED, QUARANTINED, FAILED = "processed", "quarantined", "failed-with-record"
JOB_OF = {"sales/": "sales_etl", "products/": "product_catalog", "inventory/": "inventory_sync"}


@dataclass(frozen=True)
class Upload:
    worker: int
    path: Path
    key: str
    kind: str
    outcome: str  # what the platform promises for this object
    dataset: str
    good_keys: frozenset[str] = frozenset()  # business keys that must reach silver

    @property
    def job(self) -> str:
        return next(job for prefix, job in JOB_OF.items() if self.key.startswith(prefix))


@dataclass
class Plan:
    root: Path
    uploads: list[Upload] = field(default_factory=list)

    def for_worker(self, worker: int) -> list[Upload]:
        return [u for u in self.uploads if u.worker == worker]


def _bad_files() -> list[tuple[str, str, bytes]]:
    """(suffix, prefix, bytes) of inputs refused before any Spark work."""
    good_csv = sales_csv([sales_row("BADX", n) for n in range(5)])
    return [
        ("csv", "sales/storm/bad/", b""),
        ("csv", "sales/storm/bad/", good_csv.replace(",", ";").encode()),
        ("csv", "sales/storm/bad/", sales_csv([sales_row("BADM", n) for n in range(5)], SALES_HEADER[:-1]).encode()),
        ("csv", "sales/storm/bad/", gzip.compress(good_csv.encode(), mtime=0)),
        ("csv", "sales/storm/bad/", good_csv.replace("C00001", "Müller").encode("latin-1")),
        ("json", "products/storm/bad/", b'{"sku": "BADJ-1", "name": '),
        ("json", "products/storm/bad/", b"[[1, 2], [3]]"),
        ("xml", "inventory/updates/storm/bad/", b"<inventory snapshot_ts='2024-03-05T00:00:00Z'><item"),
        (
            "xml",
            "inventory/updates/storm/bad/",
            b'<?xml version="1.0"?><!DOCTYPE inventory [<!ENTITY a "aaaa">]><inventory/>',
        ),
    ]


def make_plan(root: Path, workers: int = WORKERS, uploads: int = UPLOADS) -> Plan:
    plan = Plan(root)
    root.mkdir(parents=True, exist_ok=True)
    bad = _bad_files()
    shared = root / "shared.json"
    shared.write_text("\n".join(json.dumps(product("SHARED", n)) for n in range(6)) + "\n")
    shared_keys = frozenset(f"SHARED-{n:04d}" for n in range(6))
    per_worker = -(-uploads // workers)

    def write(name: str, content: str | bytes) -> Path:
        path = root / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    for w in range(workers):
        mine: list[Upload] = []
        for i in range(GOOD_SALES):
            tag = f"G{w}{i}"
            path = write(f"w{w}-good-{i}.csv", sales_csv([sales_row(tag, n) for n in range(10)]))
            mine.append(
                Upload(
                    w,
                    path,
                    f"sales/storm/w{w}-good-{i}.csv",
                    "good",
                    PROCESSED,
                    "sales",
                    frozenset(f"{tag}-{n:04d}" for n in range(10)),
                )
            )
        for i in range(GOOD_PRODUCTS):
            tag = f"P{w}{i}"
            path = write(f"w{w}-good-{i}.json", "\n".join(json.dumps(product(tag, n)) for n in range(8)) + "\n")
            mine.append(
                Upload(
                    w,
                    path,
                    f"products/storm/w{w}-good-{i}.json",
                    "good",
                    PROCESSED,
                    "products",
                    frozenset(f"{tag}-{n:04d}" for n in range(8)),
                )
            )
        path = write(f"w{w}-inv.xml", inventory_xml(f"I{w}", range(8)))
        mine.append(
            Upload(
                w,
                path,
                f"inventory/updates/storm/w{w}.xml",
                "good",
                PROCESSED,
                "inventory",
                frozenset(f"I{w}-{n:04d}" for n in range(8)),
            )
        )
        first = mine[0]
        mine.append(Upload(w, first.path, first.key, "resend same key", PROCESSED, "sales", first.good_keys))
        second = mine[1]
        mine.append(
            Upload(
                w,
                second.path,
                f"sales/storm/w{w}-copy-of-good-1.csv",
                "same content, other key",
                PROCESSED,
                "sales",
                second.good_keys,
            )
        )
        mine.append(
            Upload(
                w,
                shared,
                "products/storm/shared.json",
                "same key from every process",
                PROCESSED,
                "products",
                shared_keys,
            )
        )
        rows = [sales_row(f"Q{w}", n) for n in range(25)]
        rows[12]["quantity"] = "-1"
        path = write(f"w{w}-partial.csv", sales_csv(rows))
        mine.append(
            Upload(
                w,
                path,
                f"sales/storm/w{w}-partial.csv",
                "one bad row",
                QUARANTINED,
                "sales",
                frozenset(f"Q{w}-{n:04d}" for n in range(25) if n != 12),
            )
        )
        path = write(f"w{w}-all-bad.csv", sales_csv([sales_row(f"Z{w}", n, quantity="0") for n in range(10)]))
        mine.append(Upload(w, path, f"sales/storm/w{w}-all-bad.csv", "every row bad (escalated)", QUARANTINED, "sales"))
        i = 0
        while len(mine) < per_worker:
            suffix, prefix, content = bad[i % len(bad)]
            path = write(f"w{w}-bad-{i}.{suffix}", content)
            dataset = {"sales/": "sales", "products/": "products", "inventory/": "inventory"}[
                prefix.split("/")[0] + "/"
            ]
            mine.append(Upload(w, path, f"{prefix}w{w}-bad-{i}.{suffix}", "malformed", FAILED, dataset))
            i += 1
        # Sales merges first in every process, so the 4 processes write silver `sales` at the
        # same time (the race a per-dataset writer must survive); the rest interleaved.
        mine.sort(key=lambda u: (u.job != "sales_etl" or u.outcome == FAILED, zlib.crc32(f"{u.key}|{u.kind}".encode())))
        plan.uploads.extend(mine)
    return plan


def classify(object_runs: list[dict]) -> str:
    """The outcome of one bronze object from its runs (all runs of one object must agree)."""
    classes = set()
    for run in object_runs:
        if run["state"] == "SUCCEEDED":
            classes.add(QUARANTINED if (run.get("rows_quarantined") or 0) > 0 else PROCESSED)
        elif run["state"] == "FAILED" and run.get("error_kind") == "data_quality":
            classes.add(QUARANTINED)
        elif run["state"] == "FAILED" and run.get("error"):
            classes.add(FAILED)
        else:
            classes.add(f"unaccounted ({run['state']})")
    return "/".join(sorted(classes))


@pytest.fixture(scope="module")
def storm(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("storm")
    home = root / "home"
    plan = make_plan(root / "files")
    # The runner's real retry policy, scaled 1/10: products (2 slots) and the gold after-job
    # (1 slot) are contended by 4 processes; a slot wait is 3 s, 6 s, 12 s ...
    env = {"LAKE_RETRY_SCALE": "0.1"}
    started = time.monotonic()
    procs = [
        Background(home, *upload_args((u.path, u.key) for u in plan.for_worker(w)), env=env) for w in range(WORKERS)
    ]
    results = []
    for proc in procs:
        while proc.running():
            for other in procs:
                other.sample()
            time.sleep(0.1)
        results.append(proc.finish())
    seconds = time.monotonic() - started
    history = runs(home)
    return {
        "home": home,
        "plan": plan,
        "results": results,
        "seconds": seconds,
        "runs": history,
        "peak_rss": sum(p.peak_rss for p in procs),
    }


def test_storm_is_big_enough(storm):
    assert len(storm["plan"].uploads) >= 200
    kinds = Counter(u.kind for u in storm["plan"].uploads)
    assert kinds["resend same key"] and kinds["same content, other key"] and kinds["same key from every process"]


def test_storm_output_has_no_traceback(storm):
    for result in storm["results"]:
        assert_no_traceback(result)


def test_every_upload_has_exactly_one_run(storm):
    expected = Counter((u.job, u.key) for u in storm["plan"].uploads)
    actual = Counter((r["job"], r["source_key"]) for r in storm["runs"] if r["source_key"])
    lost = {k: n - actual[k] for k, n in expected.items() if actual[k] < n}
    doubled = {k: actual[k] - n for k, n in expected.items() if actual[k] > n}
    stray = {k: n for k, n in actual.items() if k not in expected}
    assert (lost, doubled, stray) == ({}, {}, {})


def test_every_object_has_exactly_one_promised_outcome(storm):
    plan, history, home = storm["plan"], storm["runs"], storm["home"]
    objects = {u.key: u for u in plan.uploads}
    by_key: dict[str, list[dict]] = {}
    for run in history:
        by_key.setdefault(run["source_key"], []).append(run)
    outcomes = {key: classify(by_key.get(key, [])) if by_key.get(key) else "no run" for key in objects}
    wrong = {k: (objects[k].kind, objects[k].outcome, got) for k, got in outcomes.items() if got != objects[k].outcome}
    tally = Counter(outcomes.values())
    states = Counter((r["job"], r["state"]) for r in history)
    gave_up = [r for r in history if "ConcurrentRunsExceeded" in (r.get("error") or "")]
    sales_rows = read_dataset(home, "sales")
    print(
        f"\nSTORM: {len(plan.uploads)} uploads by {WORKERS} concurrent processes in {storm['seconds']:.0f}s "
        f"(peak RSS of all trees {storm['peak_rss'] / 2**30:.1f} GiB)"
    )
    print(f"  distinct bronze objects {len(objects)}; outcomes {dict(tally)}")
    print(f"  runs {len(history)} by (job, state): {dict(sorted(states.items()))}")
    expected_sales = set().union(*[u.good_keys for u in plan.uploads if u.dataset == "sales"])
    lost = expected_sales - {r["order_id"] for r in sales_rows}
    print(
        f"  runner gave up on a slot: {len(gave_up)}; silver sales rows {len(sales_rows)} of "
        f"{len(expected_sales)} expected, lost {len(lost)}, "
        f"duplicate order ids {len(duplicates(sales_rows, 'order_id'))}"
    )
    assert wrong == {}
    # every quarantined or failed run left its record, and every record belongs to a run
    recorded = {r["run_id"] for r in history}
    for dataset in ("sales", "products", "inventory"):
        for run_id, entry in quarantine_records(home, dataset).items():
            assert run_id in recorded, f"orphan quarantine folder {dataset}/{run_id}"
            assert entry.get("validation") or entry.get("rejected")
    for run in history:
        if run["source_key"] and outcomes.get(run["source_key"]) in (QUARANTINED, FAILED):
            dataset = objects[run["source_key"]].dataset
            assert run["run_id"] in quarantine_records(home, dataset), f"no quarantine record for {run}"


def test_bronze_holds_every_object_byte_for_byte(storm):
    bronze = bronze_hashes(storm["home"])
    expected = {u.key: sha256_file(u.path) for u in storm["plan"].uploads}
    assert {k: bronze.get(k) for k in expected} == expected
    assert set(bronze) == set(expected), set(bronze) ^ set(expected)


@pytest.mark.parametrize("dataset", ["sales", "products", "inventory"])
def test_silver_holds_each_good_row_once_and_nothing_else(storm, dataset):
    rows = read_dataset(storm["home"], dataset)
    assert duplicates(rows, *KEY_COLUMNS[dataset]) == {}
    assert invalid_rows(dataset, rows) == []
    key_column = KEY_COLUMNS[dataset][0]
    landed = {r[key_column] for r in rows}
    expected = set().union(*[u.good_keys for u in storm["plan"].uploads if u.dataset == dataset])
    assert landed == expected, (
        f"lost {len(expected - landed)}: {sorted(expected - landed)[:12]}; unexpected {sorted(landed - expected)[:12]}"
    )
