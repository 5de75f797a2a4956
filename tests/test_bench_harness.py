"""The benchmark harness runs and speaks its output format (timings are never asserted).

`bench/run.py --rows 2000 --only gate` in a subprocess: its stdout must be JSON lines, one
per figure, each with the keys downstream tooling reads and positive numbers; the table
goes to stderr. How fast anything is does not matter here; bench/RESULTS.md records that.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
KEYS = {"name", "value", "reference", "ratio", "target", "ok"}


def _positive(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


@pytest.mark.spark
@pytest.mark.slow
def test_gate_figure_is_one_json_line_with_positive_numbers(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--rows", "2000", "--only", "gate", "--work", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]

    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    figures = [json.loads(line) for line in lines]  # every stdout line is one JSON object
    assert [f["name"] for f in figures] == ["gate"]

    gate = figures[0]
    assert KEYS <= gate.keys()
    for key in ("value", "reference", "ratio", "target"):
        assert _positive(gate[key]), f"{key}={gate[key]!r} is not a positive number"
    assert isinstance(gate["ok"], bool)
    assert gate["ratio"] == pytest.approx(gate["value"] / gate["reference"], rel=1e-3)
    assert gate["detail"]["rows"] == 2000
    # Both variants read a file without bad rows and wrote the same rows (the figure is refused otherwise).
    assert gate["detail"]["input"].endswith("-bad0.csv") and gate["detail"]["rows_written"] > 0
    assert gate["detail"]["machine"]["cores"] >= 1 and gate["detail"]["machine"]["cpu_model"]
    assert _positive(gate["detail"]["duckdb_reference_s"])
    assert "gate" in proc.stderr  # the readable table follows on stderr


def test_unknown_figure_is_refused_before_any_work(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--only", "gate,nope", "--work", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "unknown figure(s) nope" in proc.stderr
    assert proc.stdout == ""


def test_generated_sales_file_is_deterministic(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO))
    from bench import datagen

    spec = datagen.SalesSpec(rows=500, seed=7)
    a = datagen.write_sales_csv(tmp_path / "a.csv", spec).read_bytes()
    b = datagen.write_sales_csv(tmp_path / "b.csv", spec).read_bytes()
    assert a == b
    lines = a.decode().splitlines()
    assert lines[0] == "order_id,order_ts,store_id,customer_id,sku,quantity,unit_price,currency"
    assert len(lines) == 501
    assert datagen.write_sales_csv(tmp_path / "c.csv", datagen.SalesSpec(rows=500, seed=8)).read_bytes() != a


def test_duckdb_reference_accounts_for_every_row(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO))
    from bench import datagen
    from bench.duckdb_reference import run_reference

    csv = datagen.write_sales_csv(tmp_path / "in.csv", datagen.SalesSpec(rows=3000, seed=1, bad_ratio=0.03))
    result = run_reference(csv, tmp_path / "out", threads=1)
    assert result.status == "passed"
    assert result.rows_in == 3000
    assert result.rows_written + result.rows_quarantined == 3000
    assert 0 < result.rows_quarantined < 3000 * 0.05
    assert list((tmp_path / "out" / "sales").glob("order_date=*/*.parquet"))


def test_cold_latency_is_split_by_the_latest_run_stages_in_the_run_history(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO))
    from datetime import UTC, datetime

    from bench import run as bench_run
    from data_platform.local.history import History
    from data_platform.local.records import JobOutcome

    stages = {
        "r-old": [{"name": "extract", "seconds": 9.0, "rows": None}],
        "r-new": [
            {"name": "extract", "seconds": 0.5, "rows": None},
            {"name": "write", "seconds": 2.25, "rows": 10},
            {"name": "data docs", "seconds": 0.5, "rows": None},
        ],
        "r-daily": [{"name": "write", "seconds": 7.0, "rows": 1}],
    }
    with History.for_home(tmp_path) as history:
        for minute, (run_id, job) in enumerate(
            [("r-old", "sales_etl"), ("r-new", "sales_etl"), ("r-daily", "sales_daily")]
        ):
            started = datetime(2026, 1, 1, 0, minute, tzinfo=UTC)
            history.create_run(run_id=run_id, job=job, glue_job=job, env="dev", run_input={}, started_at=started)
            outcome = JobOutcome.from_summary({"state": "SUCCEEDED", "stages": stages[run_id]})
            history.finish_run(run_id, outcome, attempts=1)

    measured = bench_run._stages_of(tmp_path, "sales_etl")
    assert measured == [("extract", 0.5), ("write", 2.25), ("data docs", 0.5)]
    # Data Docs are written after silver: listed, not taken out of the time to silver.
    assert bench_run.cold_stages(10.0, measured) == {
        bench_run.OUTSIDE_STAGES: 7.25,
        "extract": 0.5,
        "write": 2.25,
        "data docs (after silver)": 0.5,
    }


def test_interleaved_rounds_rotate_which_variant_runs_first() -> None:
    """Each round measures every variant; each round starts one variant later, so no variant
    always runs in the same place of a round (the later places are the faster ones)."""
    from bench import run

    calls: list[str] = []

    def sample(name: str) -> run.Sample:
        calls.append(name)
        return run.Sample(wall=float(len(calls)), cpu=0.0, result=name)

    seen = [
        ([s.result for s in a], [s.result for s in b])
        for a, b in run.interleaved_rounds(4, lambda: sample("a"), lambda: sample("b"))
    ]
    assert calls == ["a", "b", "b", "a", "a", "b", "b", "a"]
    assert seen[-1] == (["a"] * 4, ["b"] * 4) and [len(a) for a, _ in seen] == [1, 2, 3, 4]

    calls.clear()
    *_, (a, b, c) = run.interleaved_rounds(3, lambda: sample("a"), lambda: sample("b"), lambda: sample("c"))
    assert calls == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert [[s.result for s in x] for x in (a, b, c)] == [["a"] * 3, ["b"] * 3, ["c"] * 3]


def test_a_warm_up_holds_its_rows_the_way_the_measured_run_will(tmp_path: Path, monkeypatch) -> None:
    """A measured file of more rows than `etl.load.MAX_CHECKPOINTED_ROWS` is held in Spark's
    columnar cache, not a local checkpoint: its warm-up is a file past that bound too, so the
    first measured run is not the first to take that path; smaller files warm up on at most
    200,000 rows."""
    import argparse

    from bench import run
    from etl.load import MAX_CHECKPOINTED_ROWS

    options = argparse.Namespace(rows=2_000_000, repeats=1, warmups=1, work=str(tmp_path), seed=0)
    bench = run.Bench(options)
    asked: list[tuple[int, float | None]] = []
    monkeypatch.setattr(
        bench, "sales_file", lambda rows, *, bad_ratio=None: asked.append((rows, bad_ratio)) or tmp_path
    )
    bench.warmup_file(2_000_000, bad_ratio=0.0)
    bench.warmup_file(MAX_CHECKPOINTED_ROWS)
    bench.warmup_file(10_000)
    assert asked == [(MAX_CHECKPOINTED_ROWS + 1, 0.0), (run.ENGINE_SMALL_ROWS, None), (run.ENGINE_SMALL_ROWS, None)]
    assert run.ENGINE_SMALL_ROWS <= MAX_CHECKPOINTED_ROWS
