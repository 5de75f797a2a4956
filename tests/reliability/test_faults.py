"""Faults: transient and permanent failures, a crashed `lake watch` (runs killed mid-write:
test_kills.py).

Each scenario drives the real CLI in subprocesses and kills them with SIGKILL (the whole
process group: the Python driver and its JVM), then judges the lake home from the outside.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from . import (
    BRONZE,
    KEY_COLUMNS,
    Background,
    alerts,
    assert_no_traceback,
    current_snapshot,
    dataset_files,
    duplicates,
    history_rows,
    invalid_rows,
    lake,
    read_dataset,
    runs,
    upload_args,
)
from .corpus import product, sales_csv, sales_row

pytestmark = [pytest.mark.cli, pytest.mark.slow]

# ---- transient and permanent failures --------------------------------------------------------------

CORRUPT = b"PAR1 this is not a parquet file PAR1"


@pytest.fixture(scope="module")
def failures(tmp_path_factory) -> dict[str, Any]:
    """One `lake upload` of three files (one JVM):

    - products/p1.json, products/p2.json under `LAKE_FAULT`: per process the first 2 slot
      requests of product_catalog are refused (the runner's retry) and its first 3 attempts
      fail transiently. p1: attempts 1 and 2 fail, max_retries (1) exhausted -> permanent
      failure. p2: attempt 3 fails, attempt 4 (its 2nd) runs -> succeeds.
    - sales/orders.csv while the data files of silver `sales` that hold its keys are garbage
      (disk fault, bad manual copy): the key lookup fails inside Spark, an internal error;
      the runner's retry runs it again; it fails for good: recorded, alerted, one line, no
      commit, the garbage left for a human to inspect.
    """
    root = tmp_path_factory.mktemp("failures")
    home = root / "home"
    seed = root / "seed.csv"
    seed.write_text(sales_csv([sales_row("CORR", n) for n in range(20)]))
    seeded = lake(home, "upload", str(seed), "sales/seed.csv")
    assert seeded.returncode == 0, seeded.describe()
    parts = dataset_files(home, "sales")
    for part in parts:
        part.write_bytes(CORRUPT)
    snapshot = current_snapshot(home, "sales")
    files = []
    for name in ("p1", "p2"):
        path = root / f"{name}.json"
        path.write_text("\n".join(json.dumps(product(name.upper(), n)) for n in range(10)) + "\n")
        files.append((path, f"products/{name}.json"))
    orders = root / "orders.csv"
    orders.write_text(sales_csv([sales_row("CORR", n) for n in range(20)]))
    files.append((orders, "sales/orders.csv"))
    env = {"LAKE_FAULT": "concurrency:product_catalog:2,transient:product_catalog:3", "LAKE_RETRY_SCALE": "0.01"}
    result = lake(home, *upload_args(files), env=env)
    history = runs(home)
    return {
        "home": home,
        "parts": parts,
        "snapshot": snapshot,
        "result": result,
        "alerts": alerts(home),
        "run": {r["source_key"]: r for r in history if r["source_key"]},
    }


def test_transient_failure_is_retried_and_succeeds(failures):
    result = failures["result"]
    run = failures["run"]["products/p2.json"]
    assert run["state"] == "SUCCEEDED", run
    assert run["attempts"] == 2, run
    assert "ConcurrentRunsExceeded" in result.stderr and "transient" in result.stderr, result.describe()
    skus = {r["sku"] for r in read_dataset(failures["home"], "products")}
    assert {f"P2-{n:04d}" for n in range(10)} <= skus


def test_permanent_failure_is_recorded_and_alerted(failures):
    assert failures["result"].returncode == 1, failures["result"].describe()
    run = failures["run"]["products/p1.json"]
    assert run["state"] == "FAILED" and run["attempts"] == 2, run
    assert run["error_kind"] == "internal" and "transient" in run["error"], run
    mine = [a for a in failures["alerts"] if a["run_id"] == run["run_id"]]
    assert len(mine) == 1, failures["alerts"]
    assert run["error"] in mine[0]["message"]
    succeeded = failures["run"]["products/p2.json"]["run_id"]
    assert not any(a["run_id"] == succeeded for a in failures["alerts"]), "a retried success must not alert"
    skus = {r["sku"] for r in read_dataset(failures["home"], "products")}
    assert not any(s.startswith("P1-") for s in skus)
    assert (failures["home"] / BRONZE / "products/p1.json").is_file(), "the failed input must stay in bronze"


def test_internal_failure_is_retried_recorded_and_alerted(failures):
    run = failures["run"]["sales/orders.csv"]
    assert run["state"] == "FAILED" and run["error_kind"] == "internal" and run["attempts"] == 2, run
    assert run["error"] and "\n" not in run["error"] and len(run["error"]) <= 500, run["error"]
    assert any(a["run_id"] == run["run_id"] for a in failures["alerts"])
    assert failures["parts"] and all(p.read_bytes() == CORRUPT for p in failures["parts"]), (
        "a failed run must not touch silver"
    )
    assert current_snapshot(failures["home"], "sales") == failures["snapshot"], "a failed run must not commit"


def test_failures_print_no_traceback(failures):
    """Without --debug the user sees one line per failure, never a Python or Java stack."""
    assert_no_traceback(failures["result"])
    assert "\tat org.apache" not in failures["result"].output, "a Java stack trace reached the user"


# ---- SIGKILL of `lake watch` --------------------------------------------------------------------------


def drop(home: Path, source_text: str, key: str) -> None:
    """Put a file into local bronze the way a copy tool would: hidden temp name, then rename."""
    target = home / BRONZE / key
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.part"
    tmp.write_text(source_text)
    os.replace(tmp, target)


@pytest.fixture(scope="module")
def crashed_watch(tmp_path_factory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("crashed-watch")
    home = root / "home"
    keys = [f"products/w{n}.json" for n in range(6)]
    watch = Background(home, "watch", "--interval", "0.3", "--settle", "0.3", "--no-schedules")
    watch.wait_until(lambda: "Watching" in watch.output, timeout=300, what="the watcher to start")
    for n, key in enumerate(keys):
        drop(home, "\n".join(json.dumps(product(f"W{n}", i)) for i in range(8)) + "\n", key)

    def two_done_one_running() -> bool:
        rows = history_rows(home)
        done = sum(r["state"] == "SUCCEEDED" for r in rows)
        return done >= 2 and any(r["state"] == "RUNNING" for r in rows) or done == len(keys)

    watch.wait_until(two_done_one_running, timeout=400, what="two runs to finish and a third to start", poll=0.05)
    at_kill = history_rows(home)
    watch.kill()
    after_kill = runs(home)
    restart = lake(home, "watch", "--once", "--settle", "0", "--no-schedules")
    return {
        "home": home,
        "keys": keys,
        "at_kill": at_kill,
        "after_kill": after_kill,
        "restart": restart,
        "final": runs(home),
        "alerts": alerts(home),
        "watch_output": watch.output,
    }


def test_history_survives_a_crashed_watch(crashed_watch):
    at_kill = {r["run_id"]: r["state"] for r in crashed_watch["at_kill"]}
    after = {r["run_id"]: r for r in crashed_watch["after_kill"]}
    print(f"\nat kill: {sorted(at_kill.values())}")
    assert set(at_kill) <= set(after), "runs recorded before the crash are gone"
    for run_id, state in at_kill.items():
        if state == "SUCCEEDED":
            assert after[run_id]["state"] == "SUCCEEDED"


def test_restarted_watch_does_not_double_process(crashed_watch):
    restart = crashed_watch["restart"]
    assert_no_traceback(restart)
    final = crashed_watch["final"]
    per_key = {k: [r for r in final if r["source_key"] == k] for k in crashed_watch["keys"]}
    assert all(len(v) == 1 for v in per_key.values()), {k: [r["state"] for r in v] for k, v in per_key.items()}
    states = {k: v[0]["state"] for k, v in per_key.items()}
    assert "RUNNING" not in states.values() and "WAITING" not in states.values(), states
    for _key, (run,) in per_key.items():
        if run["state"] == "FAILED":  # the run the crash interrupted: recorded, alerted, not redone
            assert run["error"], run
            assert any(a["run_id"] == run["run_id"] for a in crashed_watch["alerts"])
    rows = read_dataset(crashed_watch["home"], "products")
    assert duplicates(rows, *KEY_COLUMNS["products"]) == {}
    assert invalid_rows("products", rows) == []
    landed = {r["_source_key"] for r in rows}
    assert landed == {k for k, s in states.items() if s == "SUCCEEDED"}
