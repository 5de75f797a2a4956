"""Typed stack config: both stacks load; every bad config fails naming its key."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from data_platform.config import (
    ConfigError,
    ExecutionClass,
    Layer,
    S3RuleConfig,
    Severity,
    WorkerType,
    filters_overlap,
    load_stack,
    parse_platform_config,
)

REPO = Path(__file__).resolve().parents[1]
BAD = sorted((REPO / "tests" / "bad_configs").glob("*.yaml"))


def expectation(path: Path) -> tuple[str, str]:
    match = re.match(r"# expect: (.+?) \| (.+)$", path.read_text().splitlines()[0])
    assert match, f"{path.name} lacks its '# expect: <key path> | <message>' header"
    return match.group(1), match.group(2)


def dev_raw() -> dict:
    return copy.deepcopy(yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())["config"]["data-lake:platform"])


def test_corpus_is_large_enough():
    assert len(BAD) >= 20


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_config_is_rejected_naming_the_key(path: Path):
    key_path, fragment = expectation(path)
    with pytest.raises(ConfigError) as raised:
        load_stack("bad", path=path)
    errors = [p for p in raised.value.problems if p.severity is Severity.ERROR]
    assert any(p.path == key_path or p.path.startswith(key_path) for p in errors), (
        f"no error at {key_path}; got {[str(p) for p in errors]}"
    )
    assert fragment in str(raised.value), str(raised.value)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stacks_load_with_the_seed_triggers(stack: str):
    cfg = load_stack(stack, REPO).platform
    assert cfg.environment == stack
    assert cfg.bucket_name("bronze") == f"data-lake-{stack}-bronze"
    rules = {k: (r.prefix, r.suffix, r.job) for k, r in cfg.s3_rules.items()}
    assert rules == {
        "sales_file_trigger": ("sales/", ".csv", "sales_etl"),
        "product_catalog_trigger": ("products/", ".json", "product_catalog"),
        "inventory_updates_trigger": ("inventory/updates/", ".xml", "inventory_sync"),
    }
    schedules = {k: (s.expression, s.job) for k, s in cfg.schedules.items() if s.job != "table_maintenance"}
    assert schedules == {
        "daily_customer_import": ("cron(0 2 * * ? *)", "customer_import"),
        "weekly_inventory_sync": ("cron(0 3 ? * MON *)", "inventory_sync"),
    }
    assert cfg.maintenance_job == "table_maintenance"
    assert [s.job for s in cfg.schedules.values()].count("table_maintenance") == 1
    assert "table_maintenance" not in cfg.dataset_jobs
    assert {k: (a.upstream, a.job) for k, a in cfg.after_job.items()} == {"sales_daily": ("sales_etl", "sales_daily")}
    assert cfg.jobs["sales_daily"].layer is Layer.GOLD


def test_prod_differs_where_a_real_prod_would():
    dev, prod = load_stack("dev", REPO).platform, load_stack("prod", REPO).platform
    assert prod.jobs["sales_etl"].workers > dev.jobs["sales_etl"].workers
    assert prod.jobs["sales_etl"].worker_type is WorkerType.G_2X
    assert prod.retention.log_retention_days > dev.retention.log_retention_days
    assert prod.retention.bronze_noncurrent_days > dev.retention.bronze_noncurrent_days
    assert prod.jobs["customer_import"].execution_class is ExecutionClass.FLEX
    assert set(prod.alerts.emails).isdisjoint(dev.alerts.emails)
    assert prod.force_destroy is False


def test_bucket_name_override_is_used():
    raw = dev_raw()
    raw["bucket_names"] = {"bronze": "acme-lake-dev-bronze"}
    cfg, _ = parse_platform_config(raw)
    assert cfg.bucket_name("bronze") == "acme-lake-dev-bronze"
    assert cfg.bucket_name("silver") == "data-lake-dev-silver"


def test_overlapping_rules_for_different_jobs_is_a_warning_not_an_error():
    raw = dev_raw()
    raw["s3_rules"]["sales_audit_trigger"] = {"prefix": "sales/", "suffix": ".csv", "job": "customer_import"}
    raw["jobs"]["customer_import"]["source"] = {"prefix": "sales/", "suffix": ".csv"}
    cfg, problems = parse_platform_config(raw)
    warnings = [p for p in problems if p.severity is Severity.WARNING]
    assert len(warnings) == 1
    assert warnings[0].path == "data-lake:platform.s3_rules.sales_file_trigger"
    assert "start both 'customer_import' and 'sales_etl'" in warnings[0].message


def test_all_errors_are_reported_at_once():
    raw = dev_raw()
    raw["s3_rules"]["sales_file_trigger"]["job"] = "nope"
    raw["schedules"]["daily_customer_import"]["job"] = "nope_either"
    with pytest.raises(ConfigError) as raised:
        parse_platform_config(raw)
    paths = {p.path for p in raised.value.problems}
    assert "data-lake:platform.s3_rules.sales_file_trigger.job" in paths
    assert "data-lake:platform.schedules.daily_customer_import.job" in paths


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        (("sales/", ".csv"), ("sales/2024/", None), True),  # sales/2024/x.csv matches both
        (("sales/", ".csv"), ("sales/", ".json"), False),
        (("sales/", ".csv"), ("products/", ".csv"), False),
        (("sales/", None), (None, ".csv"), True),  # sales/a.csv
        (("a/", ".tar.gz"), ("a/b/", ".gz"), True),  # a/b/x.tar.gz
        (("a/", ".tar.gz"), ("a/b/", ".zip"), False),
        (("inventory/updates/", ".xml"), ("inventory/", ".xml"), True),
    ],
)
def test_filters_overlap(a, b, overlap):
    rule_a = S3RuleConfig(prefix=a[0], suffix=a[1], job="x")
    rule_b = S3RuleConfig(prefix=b[0], suffix=b[1], job="y")
    assert filters_overlap(rule_a, rule_b) is overlap
    assert filters_overlap(rule_b, rule_a) is overlap


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_lake_validate_refuses_each_bad_config_naming_the_key(path: Path, tmp_path: Path, capsys):
    """The same corpus through `lake validate --json` (in-process): exit 1, the key path."""
    import json

    from data_platform.cli.app import main

    key_path, fragment = expectation(path)
    (tmp_path / "Pulumi.bad.yaml").write_text(path.read_text())
    code = main(
        ["--home", str(tmp_path / "home"), "--project-dir", str(tmp_path), "--stack", "bad", "validate", "--json"]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and report["valid"] is False
    errors = [p for p in report["problems"] if p["severity"] == "error"]
    assert any(p["path"].startswith(key_path) for p in errors), errors
    assert fragment in " ".join(f"{p['path']}: {p['message']}" for p in errors), errors


def _config_env(document: dict) -> str:
    """PULUMI_CONFIG as the Pulumi CLI sets it for the program: every value a string,
    structured values as JSON."""
    import json

    values = document.get("config") or {}
    return json.dumps({k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()})


@pytest.mark.parametrize("path", [p for p in BAD if "invalid_yaml" not in p.name], ids=lambda p: p.stem)
def test_the_pulumi_program_refuses_each_bad_config_before_declaring_anything(path: Path, monkeypatch):
    """`__main__.py` under Pulumi's mocks with the bad stack's config: it stops with the key
    path, and no resource has been declared. (A file that is not YAML never reaches the
    program: the Pulumi CLI refuses to read it.)"""
    import runpy

    import pulumi

    from data_platform import synth

    key_path, _fragment = expectation(path)
    monkeypatch.setenv("PULUMI_CONFIG", _config_env(yaml.safe_load(path.read_text())))
    raised: list[BaseException] = []

    def program() -> None:
        try:
            runpy.run_path(str(REPO / "__main__.py"))
        except (ConfigError, pulumi.ConfigTypeError) as error:
            raised.append(error)

    recorder, monitor = synth._run_program(program, synth.PlatformMocks(), "bad")
    assert raised, f"{path.name}: the program did not refuse the config"
    assert recorder.order == [] and monitor.registrations == {}, "resources were declared before the refusal"
    message = str(raised[0])
    assert key_path.removeprefix("config.") in message, message


# -- Job kinds: dataset jobs and the maintenance job ---------------------------------------------


def _errors(raw: dict) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as raised:
        parse_platform_config(raw)
    return [(p.path, p.message) for p in raised.value.problems if p.severity is Severity.ERROR]


P = "data-lake:platform"


def test_a_dataset_job_needs_its_dataset_and_source():
    raw = dev_raw()
    del raw["jobs"]["sales_etl"]["dataset"], raw["jobs"]["sales_etl"]["source"]
    paths = [path for path, _ in _errors(raw)]
    assert f"{P}.jobs.sales_etl.dataset" in paths and f"{P}.jobs.sales_etl.source" in paths


@pytest.mark.parametrize(
    ("key", "value", "why"),
    [
        ("dataset", "tables", "writes no dataset"),
        ("layer", "gold", "both silver and gold"),
        ("source", {"prefix": "sales/"}, "reads no input"),
        ("max_drop_ratio", 0.1, "no quality gate"),
    ],
)
def test_a_maintenance_job_refuses_what_only_a_dataset_job_has(key, value, why):
    raw = dev_raw()
    raw["jobs"]["table_maintenance"][key] = value
    [(path, message)] = _errors(raw)
    assert path == f"{P}.jobs.table_maintenance.{key}" and why in message


def test_the_kind_must_match_the_etl_job():
    raw = dev_raw()
    raw["jobs"]["table_maintenance"]["kind"] = "etl"
    assert (
        f"{P}.jobs.table_maintenance.kind",
        "is etl, but etl job 'table_maintenance' is a maintenance job; set kind: maintenance",
    ) in _errors(raw)
    raw = dev_raw()
    raw["jobs"]["sales_etl"]["kind"] = "maintenance"
    assert any(path == f"{P}.jobs.sales_etl.kind" and "is an etl job" in message for path, message in _errors(raw))


def test_at_most_one_maintenance_job():
    raw = dev_raw()
    raw["jobs"]["sales_etl"] = {"kind": "maintenance"}
    del raw["s3_rules"]["sales_file_trigger"], raw["after_job"]["sales_daily"]
    assert any(
        path.startswith(f"{P}.jobs.") and "at most one maintenance job" in message for path, message in _errors(raw)
    )


def test_only_a_schedule_may_start_the_maintenance_job():
    raw = dev_raw()
    raw["after_job"]["sales_daily"]["job"] = "table_maintenance"
    [(path, message)] = _errors(raw)
    assert path == f"{P}.after_job.sales_daily.job" and "start it from a schedule" in message


def test_retention_of_the_tables_defaults_and_bounds():
    raw = dev_raw()
    del raw["retention"]
    cfg, _ = parse_platform_config(raw)
    assert (cfg.retention.snapshot_days, cfg.retention.min_snapshots, cfg.retention.orphan_file_days) == (7, 10, 3)
    for key in ("snapshot_days", "min_snapshots", "orphan_file_days"):
        raw = dev_raw()
        raw["retention"][key] = 0
        assert [path for path, _ in _errors(raw)] == [f"{P}.retention.{key}"]


def test_three_independent_errors_are_reported_in_one_pass_each_with_its_yaml_line(tmp_path):
    """A field error (a bad cron), an unknown key and a reference error (an s3 rule naming a
    job that does not exist) come out of one `load_stack`, each placed in the file."""
    text = (REPO / "Pulumi.dev.yaml").read_text()
    text = text.replace('expression: "cron(0 2 * * ? *)"', 'expression: "cron(0 25 * * ? *)"', 1)
    text = text.replace(
        "        timeout_minutes: 30\n", "        timeout_minutes: 30\n        timeout_minuets: 30\n", 1
    )
    text = text.replace("job: product_catalog}", "job: product_catalogue}", 1)
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_stack("dev", tmp_path)
    errors = [p for p in raised.value.problems if p.severity.value == "error"]
    lines = text.splitlines()

    def line_of(fragment: str) -> int:
        return next(n for n, line in enumerate(lines, 1) if fragment in line)

    found = {(p.path.rsplit(".", 1)[-1], p.line) for p in errors}
    assert ("expression", line_of("cron(0 25")) in found
    assert ("timeout_minuets", line_of("timeout_minuets")) in found
    assert any("product_catalogue" in p.message and p.line == line_of("product_catalogue") for p in errors)
    assert len(errors) == 3, [str(p) for p in errors]
    assert f"line {line_of('timeout_minuets')}, column 9" in str(raised.value)


def test_checking_a_stack_imports_no_job_class_and_no_pyspark():
    # The config checks run in every `lake` command; importing the job classes costs each
    # command pyspark's import (etl.job_names is what they read instead).
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from data_platform.config import load_stack\n"
        "load_stack('dev', sys.argv[1])\n"
        "print(sorted(m for m in sys.modules if m == 'pyspark' or m.startswith('etl.jobs')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(REPO)], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]", out.stdout


def test_the_declared_job_names_are_the_registered_jobs():
    from etl.job_names import DATASET_JOB_NAMES, MAINTENANCE_JOB_NAMES
    from etl.jobs import MAINTENANCE_JOBS, REGISTRY, check_declared_names

    assert set(REGISTRY) == DATASET_JOB_NAMES and set(MAINTENANCE_JOBS) == MAINTENANCE_JOB_NAMES
    # A job registered but not named (or named but not registered) stops etl.jobs importing.
    with pytest.raises(ImportError, match=r"dataset jobs .* registers .*'sales_export'"):
        check_declared_names({**REGISTRY, "sales_export": object}, MAINTENANCE_JOBS)
    with pytest.raises(ImportError, match="maintenance jobs"):
        check_declared_names(REGISTRY, {})
