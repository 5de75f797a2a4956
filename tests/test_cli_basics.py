"""The `lake` CLI in a subprocess, on paths that never start Spark (fast).

Failing runs here are made by the same CLI with a fault-injecting runner
(`tests.support.faulty_lake`, planned by `LAKE_FAULT`), which fails an attempt before the job
is called, so the runner's retries, the history and the alerts are exercised without a JVM.
`LAKE_RETRY_SCALE=0` removes the runner's waits.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from support.faults import lake_command

from data_platform.cli.app import main

pytestmark = pytest.mark.cli

REPO = Path(__file__).resolve().parents[1]
LAKE = Path(sys.executable).with_name("lake")
COMMANDS = [
    "upload",
    "run",
    "replay",
    "watch",
    "tick",
    "schedules",
    "runs",
    "alerts",
    "validate",
    "synth",
    "demo",
    "engine start",
    "engine status",
    "engine stop",
]
HISTORY_KEYS = {
    "run_id",
    "job",
    "trigger_source",
    "source_key",
    "state",
    "started_at",
    "ended_at",
    "rows_read",
    "rows_written",
    "rows_quarantined",
    "quarantine_path",
    "error",
    "attempts",
}


def lake(
    home: Path, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("LAKE_FAULT", "LAKE_NOW", "LAKE_HOME")}
    command, run_env = lake_command({**clean, "LAKE_RETRY_SCALE": "0", **(env or {})}, LAKE)
    return subprocess.run(
        [*command, "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd or home.parent,
        env=run_env,
    )


def runs_json(home: Path) -> list[dict]:
    result = lake(home, "runs", "--json", "--limit", "100")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "orders.csv"
    path.write_text("order_id\n1\n")
    return path


# ------------------------------------------------------------------------------------------
# help, errors


@pytest.mark.parametrize(
    "argv",
    [
        ["validate", "--stack", "prod"],
        ["validate", "-s", "prod"],
        ["-s", "prod", "validate"],
        ["--stack", "prod", "validate"],
        ["validate", "--stack=prod", "--json"],
        ["validate", "--json", "-s", "prod"],
    ],
)
def test_global_options_work_before_or_after_the_command(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "Pulumi.prod.yaml" in captured.out, captured
    assert "No such option" not in captured.err


def test_home_and_debug_after_the_command_are_the_global_ones(tmp_path: Path) -> None:
    home = tmp_path / "elsewhere"
    result = subprocess.run(
        [str(LAKE), "alerts", "--home", str(home), "--debug", "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
    # --debug sends logging to the terminal: no log file appears in the home given after the command.
    unknown = subprocess.run(
        [str(LAKE), "schedules", "--stack", "nope", "--debug"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert unknown.returncode != 0 and "Traceback" in unknown.stderr and "stack file not found" in unknown.stderr


def test_a_subcommand_keeps_its_own_options_and_arguments_after_global_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schedules", "--next", "1", "-s", "prod", "--json", "--after", "2024-01-01T00:00Z"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {row["schedule"]: row["next_utc"] for row in rows} == {
        "daily_customer_import": ["2024-01-01T02:00:00Z"],
        "weekly_inventory_sync": ["2024-01-01T03:00:00Z"],
        "daily_table_maintenance": ["2024-01-01T04:30:00Z"],
    }


@pytest.mark.parametrize("command", COMMANDS)
def test_help_shows_switches_as_switches(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command.split(), "--help"]) == 0
    out = capsys.readouterr().out
    assert "<bool>" not in out
    assert "--help  " in out or "--help " in out


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command.split(), "--help"]) == 0
    assert "Example" in capsys.readouterr().out


def test_errors_are_one_line_without_traceback_unless_debug(home: Path) -> None:
    result = lake(home, "--stack", "nope", "schedules")
    assert result.returncode == 1
    assert "stack file not found" in result.stderr and "Traceback" not in result.stderr
    debug = lake(home, "--stack", "nope", "--debug", "schedules")
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_unknown_job_is_a_usage_error_listing_known_jobs(home: Path) -> None:
    result = lake(home, "run", "nope")
    assert result.returncode == 2
    assert (
        "unknown job 'nope'; known jobs: customer_import, inventory_sync, product_catalog, sales_daily, sales_etl"
        in " ".join(result.stderr.split())
    )
    assert "Traceback" not in result.stderr


# ------------------------------------------------------------------------------------------
# validate


def write_stack(folder: Path, name: str, edit) -> None:
    document = yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())
    edit(document["config"]["data-lake:platform"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump(document))


def test_validate_exit_codes(tmp_path: Path) -> None:
    home, project = tmp_path / "home", tmp_path / "project"
    ok = lake(home, "validate")  # cwd has no stack file: falls back to the repository's
    assert (ok.returncode, "ok:" in ok.stdout) == (0, True), ok.stderr

    def unknown_job(platform: dict) -> None:
        platform["s3_rules"]["sales_file_trigger"]["job"] = "sales_etI"

    write_stack(project, "broken", unknown_job)
    broken = lake(home, "--project-dir", str(project), "--stack", "broken", "validate")
    assert broken.returncode == 1
    # The key path, then where it is in the file, then what is wrong.
    lines = (project / "Pulumi.broken.yaml").read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if "sales_etI" in text)
    assert re.search(
        rf"config\.data-lake:platform\.s3_rules\.sales_file_trigger\.job \(line {line}, column \d+\): "
        r"unknown job 'sales_etI'",
        " ".join(broken.stderr.split()),
    ), broken.stderr

    def overlapping_rules(platform: dict) -> None:
        platform["jobs"]["product_catalog"]["source"] = {"prefix": "sales/", "suffix": ".csv"}
        platform["s3_rules"]["product_catalog_trigger"] = {
            "prefix": "sales/",
            "suffix": ".csv",
            "job": "product_catalog",
        }

    write_stack(project, "warned", overlapping_rules)
    warned = lake(home, "--project-dir", str(project), "--stack", "warned", "validate", "--json")
    assert warned.returncode == 0, warned.stderr
    report = json.loads(warned.stdout)
    assert report["valid"] and [p["severity"] for p in report["problems"]] == ["warning"]
    assert report["problems"][0]["path"].startswith("config.data-lake:platform.s3_rules.")

    missing = lake(home, "--stack", "staging", "validate")
    assert missing.returncode == 1 and "stack file not found" in missing.stderr


# ------------------------------------------------------------------------------------------
# upload: keys, buckets, routing without a match


@pytest.mark.parametrize(
    "target, message",
    [
        ("../../escaped.csv", "'..'"),
        ("sales/../../../escaped.csv", "'..'"),
        ("/tmp/escaped.csv", "absolute"),
        ("s3://other-bucket/sales/x.csv", "not this stack's bronze bucket"),
    ],
)
def test_keys_outside_bronze_are_refused_and_nothing_runs(
    home: Path, csv_file: Path, target: str, message: str
) -> None:
    result = lake(home, "upload", str(csv_file), target)
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr
    assert [p for p in home.rglob("*") if p.is_file() and "_lake" not in p.parts] == []
    assert not (home.parent / "escaped.csv").exists() and not Path("/tmp/escaped.csv").exists()
    assert runs_json(home) == []


def test_files_no_rule_matches_are_kept_and_reported(home: Path, csv_file: Path) -> None:
    result = lake(
        home,
        "upload",
        str(csv_file),
        "sales/2024-06-01.txt",  # wrong suffix
        str(csv_file),
        "archive/sales/2024-06-01.csv",  # wrong prefix
        str(csv_file),
        "customers/2024 ü+1.csv",
    )  # no rule (schedule only)
    assert result.returncode == 0, result.stderr
    stderr = " ".join(result.stderr.split())
    assert "no rule matched sales/2024-06-01.txt; nearest rule sales_file_trigger" in stderr
    assert 'detail.object.key "sales/2024-06-01.txt" does not match wildcard "sales/*.csv"' in stderr
    assert "no rule matched archive/sales/2024-06-01.csv; nearest rule" in stderr
    bronze = home / "data-lake-dev-bronze"
    assert sorted(p.relative_to(bronze).as_posix() for p in bronze.rglob("*") if p.is_file()) == [
        "archive/sales/2024-06-01.csv",
        "customers/2024 ü+1.csv",
        "sales/2024-06-01.txt",
    ]
    assert runs_json(home) == []


def test_upload_needs_file_key_pairs(home: Path, csv_file: Path) -> None:
    result = lake(home, "upload", str(csv_file))
    assert result.returncode == 2 and "FILE KEY pairs" in result.stderr


# ------------------------------------------------------------------------------------------
# schedules and tick


@pytest.mark.parametrize(
    "since, now, expected",
    [
        ("2024-01-01T01:59Z", "2024-01-01T02:00Z", ["daily_customer_import"]),
        ("2024-01-01T02:00Z", "2024-01-01T02:59Z", []),
        ("2024-01-08T02:59Z", "2024-01-08T03:00Z", ["weekly_inventory_sync"]),  # a Monday
        ("2024-01-09T02:59Z", "2024-01-09T03:00Z", []),  # a Tuesday
        ("2024-01-07T12:00Z", "2024-01-08T12:00Z", ["daily_customer_import", "weekly_inventory_sync"]),
    ],
)
def test_tick_fires_schedules_at_their_instants(home: Path, since: str, now: str, expected: list[str]) -> None:
    result = lake(home, "tick", "--since", since, "--now", now, "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    assert [f["schedule"] for f in json.loads(result.stdout)["fired"]] == expected


def test_a_failing_scheduled_run_is_retried_recorded_and_alerted_once(home: Path) -> None:
    window = ("--since", "2024-01-01T01:59Z", "--now", "2024-01-01T02:00Z")
    fault = {"LAKE_FAULT": "transient:customer_import:9"}
    first = lake(home, "tick", *window, "--json", env=fault)
    assert first.returncode == 1, first.stderr
    assert [f["instant"] for f in json.loads(first.stdout)["fired"]] == ["2024-01-01T02:00:00Z"]
    [run] = runs_json(home)
    assert set(run) >= HISTORY_KEYS
    assert (run["job"], run["trigger_source"], run["state"], run["attempts"]) == (
        "customer_import",
        "schedule",
        "FAILED",
        2,
    )  # max_retries 1 in the dev stack
    assert "LAKE_FAULT" in run["error"]
    alerts = json.loads(lake(home, "alerts", "--json").stdout)
    assert [a["run_id"] for a in alerts] == [run["run_id"]]
    assert "data-lake-dev-customer_import" in alerts[0]["message"]
    # A restart over the same window does not fire the instant again.
    again = lake(home, "tick", *window, "--json", env=fault)
    assert again.returncode == 0 and json.loads(again.stdout)["fired"] == []
    assert len(runs_json(home)) == 1


def test_lake_now_is_the_default_clock(home: Path) -> None:
    result = lake(
        home, "tick", "--since", "2024-01-01T01:59Z", "--dry-run", "--json", env={"LAKE_NOW": "2024-01-01T02:00Z"}
    )
    assert result.returncode == 0, result.stderr
    assert [f["schedule"] for f in json.loads(result.stdout)["fired"]] == ["daily_customer_import"]


def test_schedules_lists_next_fire_times(home: Path) -> None:
    result = lake(home, "schedules", "--next", "2", "--after", "2024-01-01T00:00Z", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["schedule"]: row for row in json.loads(result.stdout)}
    assert rows["daily_customer_import"]["next_utc"] == ["2024-01-01T02:00:00Z", "2024-01-02T02:00:00Z"]
    assert rows["weekly_inventory_sync"]["next_utc"] == ["2024-01-01T03:00:00Z", "2024-01-08T03:00:00Z"]


# ------------------------------------------------------------------------------------------
# watch, runner refusals, runs


def test_watch_once_routes_dropped_files_once(home: Path) -> None:
    assert lake(home, "validate").returncode == 0
    bronze = home / "data-lake-dev-bronze" / "sales"
    bronze.mkdir(parents=True)
    (bronze / "dropped.csv").write_text("order_id\n1\n")
    fault = {"LAKE_FAULT": "transient:sales_etl:9"}
    first = lake(home, "watch", "--once", "--settle", "0", "--no-schedules", env=fault)
    assert first.returncode == 1, first.stderr  # the (faulted) run failed
    [run] = runs_json(home)
    assert (run["job"], run["trigger_source"], run["source_key"], run["attempts"]) == (
        "sales_etl",
        "s3_event",
        "sales/dropped.csv",
        2,
    )
    second = lake(home, "watch", "--once", "--settle", "0", "--no-schedules", env=fault)
    assert second.returncode == 0, second.stderr
    assert len(runs_json(home)) == 1


def test_a_run_refused_for_concurrency_fails_after_the_runner_retries(home: Path, csv_file: Path) -> None:
    result = lake(home, "upload", str(csv_file), "sales/x.csv", env={"LAKE_FAULT": "concurrency:sales_etl:99"})
    assert result.returncode == 1
    [run] = runs_json(home)
    assert (run["state"], run["attempts"]) == ("FAILED", 0)
    assert run["error"].startswith("Glue.ConcurrentRunsExceededException")
    [alert] = json.loads(lake(home, "alerts", "--json").stdout)
    assert alert["subject"] == "Runner data-lake-dev-sales_etl-runner execution FAILED"


def test_runs_json_is_empty_on_a_new_home_and_filters_by_job(home: Path) -> None:
    assert runs_json(home) == []
    result = lake(home, "runs", "--job", "nope")
    assert result.returncode == 2 and "known jobs" in result.stderr


def test_replay_dry_run_lists_what_would_start(home: Path, csv_file: Path) -> None:
    lake(home, "upload", str(csv_file), "customers/a.csv")
    bronze = home / "data-lake-dev-bronze"
    shutil.copy(csv_file, bronze / "customers" / "b.csv")
    (bronze / "sales").mkdir()
    shutil.copy(csv_file, bronze / "sales" / "c.csv")
    result = lake(home, "replay", "--prefix", "", "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    plan = {item["key"]: [m["job"] for m in item["matched"]] for item in json.loads(result.stdout)}
    assert plan == {"customers/a.csv": [], "customers/b.csv": [], "sales/c.csv": ["sales_etl"]}
    assert runs_json(home) == []


def test_watch_stops_cleanly_on_sigterm(home: Path) -> None:
    import signal
    import time

    clean = {k: v for k, v in os.environ.items() if k not in ("LAKE_FAULT", "LAKE_NOW", "LAKE_HOME")}
    command, clean = lake_command(clean, LAKE)
    watcher = subprocess.Popen(
        [*command, "--home", str(home), "watch", "--no-warm", "--interval", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean,
        cwd=home.parent,
    )
    try:
        deadline = time.monotonic() + 60
        while not (home / "_lake" / "history.sqlite3").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # a few polls and ticks
        watcher.send_signal(signal.SIGTERM)
        _out, err = watcher.communicate(timeout=30)
    finally:
        watcher.kill()
    assert watcher.returncode == 0, err
    assert "Stopped." in err and "Traceback" not in err
    # the first tick recorded each schedule's watermark: a restart will count from there
    ticks = lake(home, "tick", "--dry-run", "--json", "--now", "2000-01-01T00:00Z")
    assert json.loads(ticks.stdout)["initialized"] == []


@pytest.mark.parametrize("columns", ["80", "110"])
def test_tables_never_break_a_name_mid_word(tmp_path: Path, columns: str) -> None:
    """A name too long for its column ends in an ellipsis; it is never split over two lines.
    The dev stack runs every schedule in UTC, so the zone column is left out."""
    cfg = yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())["config"]["data-lake:platform"]
    names = [*cfg["jobs"], *cfg["schedules"]]
    result = lake(tmp_path / "home", "schedules", "--next", "2", env={"COLUMNS": columns})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for line in lines:
        for word in line.replace("│", " ").split():
            if word.endswith("…") or word in names:
                continue
            broken = [n for n in names if len(word) >= 5 and n.startswith(word) and n != word]
            assert not broken, f"{word!r} is the start of {broken} broken at {columns} columns:\n{result.stdout}"
    assert "schedule zone" not in result.stdout
    assert all(
        name in result.stdout or any(w.endswith("…") for w in result.stdout.split()) for name in cfg["schedules"]
    )


@pytest.mark.parametrize(
    "args",
    [
        ("/nonexistent/orders.csv", "sales/x.csv"),
        ("{file}", "s3://another-bucket/sales/x.csv"),
        ("{file}", "../escape.csv"),
    ],
)
def test_an_upload_refused_for_its_arguments_changes_nothing_on_disk(tmp_path: Path, args) -> None:
    source = tmp_path / "orders.csv"
    source.write_text("order_id\n1\n")
    home = tmp_path / "home"
    result = lake(home, "upload", *(a.format(file=source) for a in args))
    assert result.returncode != 0 and "error" in result.stderr
    assert not home.exists()
