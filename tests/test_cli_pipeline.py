"""The whole local path on real Spark, through the CLI: upload -> rules -> jobs -> silver/gold.

Each `lake` process pays a JVM start, so this module runs Spark in two subprocesses only:
one `lake upload` of a file for every s3 rule of the dev stack (the tests below assert on
the lake home it leaves), and `lake demo`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support.faults import lake_command

from data_platform.cli.demo import sample_files
from data_platform.config import load_stack
from data_platform.contract import events

pytestmark = [pytest.mark.cli, pytest.mark.spark]

REPO = Path(__file__).resolve().parents[1]
LAKE = Path(sys.executable).with_name("lake")
STACK = load_stack("dev", REPO)
CFG = STACK.platform


def lake(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("LAKE_FAULT", "LAKE_NOW", "LAKE_HOME")}
    command, run_env = lake_command({**clean, "LAKE_RETRY_SCALE": "0", **(env or {})}, LAKE)
    return subprocess.run(
        [*command, "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=home.parent,
        env=run_env,
    )


def sample_for_rule(rule: str):
    """A demo sample whose key the rule's deployed pattern matches (and that is valid data)."""
    cfg = CFG.s3_rules[rule]
    pattern = events.s3_object_created_pattern(CFG.bucket_name("bronze"), cfg.prefix, cfg.suffix)
    for sample in sample_files():
        event = events.s3_object_created_event(CFG.bucket_name("bronze"), sample.key, len(sample.body))
        if not sample.expect_failure and events.matches(pattern, event):
            return sample
    raise AssertionError(f"no demo sample matches s3_rules.{rule}; add one to data_platform/cli/demo.py")


def table_rows(home: Path, job: str) -> int:
    """Rows in the current snapshot of the job's table (0 when there is no table)."""
    from data_platform.local.tables import row_count

    return row_count(home, CFG.names.glue_database(), CFG.jobs[job].dataset) or 0


@pytest.fixture(scope="module")
def uploaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path, list]:
    """One `lake upload` with a file for every enabled s3 rule; sales_etl's first attempt faults."""
    root = tmp_path_factory.mktemp("pipeline")
    home = root / "home"
    args: list[str] = []
    for rule in sorted(name for name, cfg in CFG.s3_rules.items() if cfg.enabled):
        sample = sample_for_rule(rule)
        source = root / sample.key.replace("/", "__")
        source.write_bytes(sample.body)
        args += [str(source), sample.key]
    result = lake(home, "upload", *args, env={"LAKE_FAULT": "transient:sales_etl:1"})
    runs = json.loads(lake(home, "runs", "--json", "--limit", "100").stdout)
    return result, home, runs


def test_the_upload_succeeds(uploaded) -> None:
    result, _home, runs = uploaded
    assert result.returncode == 0, result.stdout + result.stderr
    assert {run["state"] for run in runs} == {"SUCCEEDED"}, runs


@pytest.mark.parametrize("rule", sorted(name for name, cfg in CFG.s3_rules.items() if cfg.enabled))
def test_every_s3_rule_runs_its_job_and_lands_in_silver(uploaded, rule: str) -> None:
    result, home, runs = uploaded
    job, key = CFG.s3_rules[rule].job, sample_for_rule(rule).key
    [run] = [r for r in runs if r["job"] == job and r["trigger_source"] == "s3_event"]
    assert (run["source_key"], run["state"]) == (key, "SUCCEEDED"), run
    assert run["rows_written"] > 0
    assert table_rows(home, job), f"no rows in table {CFG.jobs[job].dataset}"
    assert rule in result.stdout and run["run_id"] in " ".join(result.stdout.split())


def test_a_transient_failure_was_retried_by_glue(uploaded) -> None:
    _result, _home, runs = uploaded
    [sales] = [r for r in runs if r["job"] == "sales_etl"]
    assert (sales["state"], sales["attempts"]) == ("SUCCEEDED", 2)


def test_sales_daily_runs_after_sales_etl_and_lands_in_gold(uploaded) -> None:
    _result, home, runs = uploaded
    [sales] = [r for r in runs if r["job"] == "sales_etl"]
    [daily] = [r for r in runs if r["job"] == "sales_daily"]
    assert (daily["trigger_source"], daily["state"]) == ("job_succeeded", "SUCCEEDED"), daily
    assert table_rows(home, "sales_daily")
    assert sales["rows_quarantined"] == 1 and sales["quarantine_path"]  # the sample's one bad row


def test_bronze_keeps_every_uploaded_file(uploaded) -> None:
    _result, home, _runs = uploaded
    bronze = home / CFG.bucket_name("bronze")
    for rule in CFG.s3_rules:
        assert (bronze / sample_for_rule(rule).key).is_file()


@pytest.mark.slow
def test_the_demo_runs_end_to_end(tmp_path: Path) -> None:
    home = tmp_path / "demo-home"
    result = lake(home, "demo")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    runs = json.loads(lake(home, "runs", "--json", "--limit", "100").stdout)
    # Every dataset job (the weekly table maintenance is not part of the demo's flow).
    assert {r["job"] for r in runs if r["state"] == "SUCCEEDED"} == set(CFG.dataset_jobs)
    [bad] = [r for r in runs if r["state"] == "FAILED"]
    assert bad["source_key"] == "sales/2024-06-03/store-munich.csv" and bad["quarantine_path"]
    for job in CFG.dataset_jobs:
        assert table_rows(home, job), job
    for section in ("Upload", "schedule fires", "Silver and gold", "Quarantine", "Run history"):
        assert section in result.stdout
    assert_docs_and_report_show_the_demo(home, runs, bad)


def assert_docs_and_report_show_the_demo(home: Path, runs: list[dict], bad: dict) -> None:
    """The runs' own Data Docs, `lake docs` and `lake report` on the demo's lake, read in
    headless Chromium."""
    from browser import console_errors, headless_chromium, open_file
    from selenium.webdriver.common.by import By

    # Each run that quarantined rows wrote its page as it ran: `lake runs` links it before any
    # `lake docs`.
    before = json.loads(lake(home, "runs", "--json", "--limit", "100").stdout)
    written = {r["run_id"]: r.get("validation_page") for r in before if r["rows_quarantined"]}
    assert written and all(page and Path(page).is_file() for page in written.values()), written
    # The refused run's alert names where its page would be (after `lake docs` too: it has none).
    [alert] = [a for a in json.loads(lake(home, "alerts", "--json").stdout) if a["run_id"] == bad["run_id"]]
    link = home / CFG.bucket_name("artifacts") / "data-docs" / CFG.environment / "site" / "runs"
    assert alert["message"].endswith(f": {(link / bad['run_id']).resolve()}.html")
    docs = lake(home, "docs")
    assert docs.returncode == 0, docs.stderr
    index = Path(docs.stdout.strip())
    assert index.name == "index.html" and index.is_file()
    pages = sorted((index.parent / "validations").rglob("*.html"))
    quarantined = [r for r in runs if r["rows_quarantined"]]
    assert quarantined and len(pages) >= len({r["run_id"] for r in quarantined})
    # Each run with a page links to it, in `lake runs` (a line under the table) and its JSON.
    linked = {
        r["run_id"]: r.get("validation_page") for r in json.loads(lake(home, "runs", "--json", "--limit", "100").stdout)
    }
    dropped_run = quarantined[0]["run_id"]
    assert all(linked[r["run_id"]] and Path(linked[r["run_id"]]).is_file() for r in quarantined)
    assert linked[bad["run_id"]] is None  # refused before its gate (wrong header): no validation
    assert not (link / f"{bad['run_id']}.html").exists()
    assert {run_id: linked[run_id] for run_id in written} == written  # `lake docs` kept each run's page
    assert f"{dropped_run}  validation: " in lake(home, "runs", "--limit", "100").stdout
    report = lake(home, "report")
    assert report.returncode == 0, report.stderr
    with headless_chromium() as browser:
        texts = {}
        for page in pages:
            open_file(browser, page)
            texts[page] = browser.find_element(By.TAG_NAME, "body").text
        # A run that dropped rows has a page naming it, with each failed expectation and its
        # unexpected count.
        page = texts[Path(linked[dropped_run])]
        assert dropped_run in page and "Status: Failed" in page and "Unsuccessful Expectations" in page
        assert re.search(r"\d+ unexpected values? found", page)
        console_errors(browser)  # drained: GX's pages fail to load their CDN assets offline
        open_file(browser, Path(report.stdout.strip()))
        assert console_errors(browser) == []
        bars = browser.find_elements(By.CSS_SELECTOR, "#timeline rect.run")
        assert sorted(b.get_attribute("data-run-id") for b in bars) == sorted(r["run_id"] for r in runs)


def test_history_rollback_and_reprocessing_through_the_cli(tmp_path: Path) -> None:
    """A good load, a bad load, `lake history`, `lake rollback --to-run`, `lake run`: the CLI
    restores the good table (read through Iceberg) and reprocessing brings the bad load back."""
    from data_platform.local.tables import read_rows

    home = tmp_path / "home"
    header = "order_id,order_ts,store_id,customer_id,sku,quantity,unit_price,currency\n"
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text(header + "o1,2024-01-05T10:00:00Z,s1,c,A,2,10.00,EUR\no2,2024-01-06T10:00:00Z,s1,c,A,1,1.00,EUR\n")
    bad.write_text(header + "o1,2024-01-05T10:00:00Z,s1,c,A,2,99.00,EUR\no3,2024-01-07T10:00:00Z,s1,c,A,1,1.00,EUR\n")

    def content() -> list[tuple]:
        _columns, rows = read_rows(home, CFG.names.glue_database(), "sales")
        return sorted((r["order_id"], str(r["unit_price"]), r["_source_key"], r["_run_id"]) for r in rows)

    assert lake(home, "upload", str(good), "sales/good.csv").returncode == 0
    after_good = content()
    assert lake(home, "upload", str(bad), "sales/bad.csv").returncode == 0
    after_bad = content()
    snapshots = json.loads(lake(home, "history", "sales", "--json").stdout)
    assert [s["sources"][0]["key"] for s in snapshots] == ["sales/good.csv", "sales/bad.csv"]
    assert [s["current"] for s in snapshots] == [False, True]

    undo = lake(home, "rollback", "sales", "--to-run", snapshots[0]["run_id"])
    assert undo.returncode == 0, undo.stderr
    assert "pending again: sales/bad.csv" in undo.stdout and "lake run sales_daily" in undo.stdout
    assert content() == after_good
    rolled = json.loads(lake(home, "history", "sales", "--json").stdout)
    assert [(s["current"], s["in_current_history"]) for s in rolled] == [(True, True), (False, False)]

    again = lake(home, "run", "sales_etl", "--json")
    assert again.returncode == 0, again.stderr
    assert [(o, p, k) for o, p, k, _run in content()] == [(o, p, k) for o, p, k, _run in after_bad]


def test_rollback_refuses_what_cannot_be_restored(tmp_path: Path) -> None:
    home = tmp_path / "home"
    nothing = lake(home, "rollback", "sales", "--last", "1")
    assert nothing.returncode == 1 and "does not exist yet" in nothing.stderr
    unknown = lake(home, "rollback", "sale", "--last", "1")
    assert unknown.returncode == 2 and "unknown dataset 'sale'" in unknown.stderr
    both = lake(home, "rollback", "sales", "--last", "1", "--to-snapshot", "3")
    assert both.returncode == 2 and "exactly one of" in both.stderr


def run_in_terminal(command: list[str], env: dict[str, str], cwd: Path, timeout: float = 900) -> tuple[int, str]:
    """Run `command` with a pseudo-terminal as its stdin, stdout and stderr; all it wrote."""
    import pty
    import select
    import time

    master, slave = pty.openpty()
    proc = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd, close_fds=True)
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(master)
    return proc.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")


def test_a_terminal_upload_shows_each_stage_with_its_time_and_rows(tmp_path: Path) -> None:
    sample = sample_for_rule("sales_file_trigger")
    source = tmp_path / "sales.csv"
    source.write_bytes(sample.body)
    home = tmp_path / "home"
    clean = {k: v for k, v in os.environ.items() if k not in ("LAKE_FAULT", "LAKE_NOW", "LAKE_HOME")}
    env = {**clean, "LAKE_RETRY_SCALE": "0", "TERM": "xterm-256color", "COLUMNS": "120"}
    code, screen = run_in_terminal([str(LAKE), "--home", str(home), "upload", str(source), sample.key], env, tmp_path)
    assert code == 0, screen[-3000:]
    rows = len(sample.body.splitlines()) - 1
    # Each finished stage is printed as it ends: job, stage, seconds, rows.
    assert re.search(r"✓ sales_etl\s+extract\s+\d+\.\d\d s", screen), screen[-3000:]
    assert re.search(rf"✓ sales_etl\s+raw checks\s+\d+\.\d\d s\s+{rows:,} rows", screen), screen[-3000:]
    assert re.search(r"✓ sales_etl\s+quality gate\s+\d+\.\d\d s\s+[\d,]+ rows", screen), screen[-3000:]
    assert re.search(r"✓ sales_etl\s+write\s+\d+\.\d\d s\s+[\d,]+ rows", screen), screen[-3000:]
