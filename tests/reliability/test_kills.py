"""SIGKILL at many points of a run: the table is always exactly at its old or its new snapshot.

Each kill point gets its own lake home seeded with the same first load (homes cannot be
copied: Iceberg tables record absolute paths); in each `lake upload` of an update
(10 restated orders, 30 new ones: the MERGE path) is started and SIGKILLed (its whole process
group: the driver and its JVM) a chosen time after the run reached a stage (extract, raw
checks, quality gate, write, commit), as the job log shows it. Then, judged from outside:

- the table reads (through its Iceberg metadata, no Spark) as exactly the old content or
  exactly the uninterrupted new content, and its current snapshot is the seed's or one the
  killed run committed;
- bronze is untouched;
- `lake replay` of the object converges to the uninterrupted result (no duplicate order); the
  first home's replay is a `lake` process, the others run through the CLI's entry point in one
  process (see `replays`).
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from . import (
    REPO,
    Background,
    LakeResult,
    assert_no_traceback,
    bronze_hashes,
    current_snapshot,
    duplicates,
    lake,
    lake_env,
    read_dataset,
)
from .corpus import sales_csv, sales_row

pytestmark = [pytest.mark.cli, pytest.mark.slow]

STAGES = ("extract", "raw checks", "quality gate", "write", "commit")
KILLS_PER_STAGE = 4  # 20 kill points
REPLAY = ("replay", "--prefix", "sales/day2.csv")
BUSINESS = (
    "order_id",
    "order_ts",
    "store_id",
    "customer_id",
    "sku",
    "quantity",
    "unit_price",
    "currency",
    "amount",
    "order_date",
    "_source_key",
)
_STAGE_LINE = re.compile(r"^(\S+ \S+) .*stage job=sales_etl run_id=(\S+) name=(.+?)(?: table=.*)?$")


def business_view(rows: list[dict[str, Any]]) -> dict[str, tuple]:
    return {row["order_id"]: tuple(str(row.get(c)) for c in BUSINESS) for row in rows}


def stages_reached(home: Path) -> list[str]:
    """The sales_etl stages the job log of `home` shows, in order."""
    log = home / ".logs" / "lake.log"
    if not log.exists():
        return []
    return [m.group(3) for line in log.read_text(errors="replace").splitlines() if (m := _STAGE_LINE.match(line))]


def stage_offsets(home: Path) -> dict[str, float]:
    """Seconds from the first stage to each later one, from the log's timestamps."""
    from datetime import datetime

    log = (home / ".logs" / "lake.log").read_text(errors="replace").splitlines()
    times: dict[str, datetime] = {}
    for line in log:
        if (m := _STAGE_LINE.match(line)) and m.group(3) not in times:
            times[m.group(3)] = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f")
    start = times[STAGES[0]]
    return {stage: (moment - start).total_seconds() for stage, moment in times.items()}


@pytest.fixture(scope="module")
def kills(tmp_path_factory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("kills")
    seed, update = root / "seed.csv", root / "update.csv"
    seed.write_text(sales_csv([sales_row("SEED", n) for n in range(60)]))
    restated = [sales_row("SEED", n, quantity="9", order_ts=f"2024-03-08T10:{n:02d}:00Z") for n in range(10)]
    update.write_text(sales_csv(restated + [sales_row("UPD", n) for n in range(30)]))

    count = KILLS_PER_STAGE * len(STAGES)
    control, homes = root / "control", [root / f"kill-{n:02d}" for n in range(count)]
    seeding = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.reliability.seed_homes",
            str(seed),
            "sales/day1.csv",
            str(control),
            *map(str, homes),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert seeding.returncode == 0, seeding.stderr[-3000:]
    old_view = business_view(read_dataset(control, "sales"))

    uninterrupted = lake(control, "upload", str(update), "sales/day2.csv")
    assert uninterrupted.returncode == 0, uninterrupted.describe()
    new_view = business_view(read_dataset(control, "sales"))
    # How long each stage lasts in an uninterrupted run: kills land within it.
    offsets = stage_offsets(control)
    spans = {stage: max(0.05, offsets[nxt] - offsets[stage]) for stage, nxt in zip(STAGES, STAGES[1:], strict=False)}
    spans["commit"] = 1.0

    chooser = random.Random(20241205)
    points = []
    for n, home in enumerate(homes):
        stage = STAGES[n % len(STAGES)]
        old_snapshot = current_snapshot(home, "sales")
        assert business_view(read_dataset(home, "sales")) == old_view
        bronze_before = bronze_hashes(home)
        delay = chooser.uniform(0, spans[stage])
        run = Background(home, "upload", str(update), "sales/day2.csv")
        try:
            run.wait_until(
                lambda h=home, s=stage: s in stages_reached(h), timeout=300, what=f"stage {stage}", poll=0.01
            )
            time.sleep(delay)
        finally:
            run.kill()
        reached = stages_reached(home)
        after = {
            "rows": read_dataset(home, "sales"),
            "snapshot": current_snapshot(home, "sales"),
            "bronze": {k: v for k, v in bronze_hashes(home).items() if k != "sales/day2.csv"},
        }
        points.append(
            {
                "stage": stage,
                "delay": delay,
                "reached": reached,
                "after": after,
                "home": home,
                "old_snapshot": old_snapshot,
                "bronze_before": bronze_before,
            }
        )
    for point, replay in zip(points, replays(homes, REPLAY), strict=True):
        point["replay"] = replay
        point["final_rows"] = read_dataset(point["home"], "sales")
        point["final"] = business_view(point["final_rows"])
    return {"old": old_view, "new": new_view, "points": points}


def replays(homes: list[Path], args: tuple[str, ...]) -> list[LakeResult]:
    """`lake replay` in every home after its kill: the first as its own `lake` process, the
    others through the same CLI entry point in one process (tests.reliability.lake_in_homes),
    which spares a JVM start per home."""
    first = lake(homes[0], *args)
    out = homes[0].parent / "replays.json"
    batch = subprocess.run(
        [sys.executable, "-m", "tests.reliability.lake_in_homes", str(out), *map(str, homes[1:]), "--", *args],
        cwd=REPO,
        env=lake_env(),
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert batch.returncode == 0, batch.stderr[-3000:]
    results = json.loads(out.read_text(encoding="utf-8"))
    rest = [
        LakeResult([*args], r["returncode"], r["stdout"], r["stderr"], r["seconds"], peak_rss=0)
        for r in (results[str(home)] for home in homes[1:])
    ]
    return [first, *rest]


def test_kills_cover_every_stage_of_the_run(kills):
    last_stage = [p["reached"][-1] if p["reached"] else "start" for p in kills["points"]]
    assert len(kills["points"]) >= 20
    assert set(STAGES) <= set(last_stage), last_stage


def test_a_killed_run_leaves_the_table_exactly_at_the_old_or_the_new_snapshot(kills):
    outcomes = []
    for point in kills["points"]:
        view = business_view(point["after"]["rows"])  # reading it at all proves it readable
        assert view in (kills["old"], kills["new"]), (point["stage"], point["delay"])
        if view == kills["old"]:
            assert point["after"]["snapshot"] == point["old_snapshot"], point["stage"]
            outcomes.append("old")
        else:
            assert point["after"]["snapshot"] != point["old_snapshot"], point["stage"]
            outcomes.append("new")
    assert "old" in outcomes


def test_a_killed_run_never_touches_bronze(kills):
    for point in kills["points"]:
        assert point["after"]["bronze"] == {k: v for k, v in point["bronze_before"].items() if k != "sales/day2.csv"}


def test_a_rerun_after_any_kill_converges_to_the_uninterrupted_result(kills):
    for point in kills["points"]:
        assert point["replay"].returncode == 0, point["replay"].describe()
        assert_no_traceback(point["replay"])
        assert duplicates(point["final_rows"], "order_id") == {}
        assert point["final"] == kills["new"], point["stage"]
