from __future__ import annotations

import ast
import json
import py_compile
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from etl.base import RunSummary
from etl.jobs import REGISTRY, get_job
from etl.metrics import publish_quarantined_rows
from etl.runtime import main, run_job

REPO = Path(__file__).resolve().parents[1]
ENTRY_DIR = REPO / "etl" / "glue_entry"


def test_registry_lists_every_job_and_unknown_names_say_what_exists():
    assert sorted(REGISTRY) == ["customer_import", "inventory_sync", "product_catalog", "sales_daily", "sales_etl"]
    with pytest.raises(KeyError, match="unknown job 'sales'; known jobs: customer_import, inventory_sync"):
        get_job("sales")


def test_run_job_returns_a_failed_summary_for_bad_arguments_without_spark():
    summary = run_job("sales_etl", {"--trigger_source": "cron", "--storage_root": "/tmp/x"})
    assert (summary.state, summary.error_kind, summary.job) == ("FAILED", "input", "sales_etl")
    assert summary.error.startswith("invalid job arguments: --trigger_source 'cron' is unknown")


def test_main_prints_one_json_line_and_the_reason(capsys):
    code = main(["--JOB_NAME", "nope", "--storage_root", "/tmp/x"])
    out, err = capsys.readouterr()
    assert code == 1
    assert (
        json.loads(out)["error"]
        == "invalid job arguments: unknown job 'nope'; known jobs: customer_import, inventory_sync, product_catalog, sales_daily, sales_etl, table_maintenance"
    )
    assert err.strip().splitlines()[-1] == "nope FAILED: " + json.loads(out)["error"]


def test_main_without_job_name_is_a_usage_error(capsys):
    assert main(["--env", "dev"]) == 2
    assert "--JOB_NAME is required" in capsys.readouterr().err


@mock_aws
def test_quarantined_rows_metric_is_published_with_env_and_glue_job_name():
    client = boto3.client("cloudwatch", region_name="us-east-1")
    summary = RunSummary(run_id="jr_1", job="sales_etl", env="dev", trigger_source="s3_event", rows_quarantined=3)

    publish_quarantined_rows(summary, glue_job_name="data-lake-dev-sales-etl", client=client)

    metrics = client.list_metrics(Namespace="DataLake", MetricName="QuarantinedRows")["Metrics"]
    assert [sorted((d["Name"], d["Value"]) for d in m["Dimensions"]) for m in metrics] == [
        [("Environment", "dev"), ("JobName", "data-lake-dev-sales-etl")]
    ]


@pytest.mark.parametrize("job", sorted(REGISTRY))
def test_glue_entry_scripts_compile_and_only_hand_over_to_the_shared_runner(job, tmp_path):
    script = ENTRY_DIR / f"{job}.py"
    py_compile.compile(str(script), cfile=str(tmp_path / "x.pyc"), doraise=True)
    tree = ast.parse(script.read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported == {"etl.glue_entry._bootstrap"}
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    assert [(c.func.id, [a.value for a in c.args]) for c in calls] == [("run_glue_job", [job])]


def test_glue_bootstrap_builds_spark_from_glue_and_runs_the_shared_runner(tmp_path):
    script = ENTRY_DIR / "_bootstrap.py"
    py_compile.compile(str(script), cfile=str(tmp_path / "x.pyc"), doraise=True)
    tree = ast.parse(script.read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported == {"awsglue.context", "awsglue.job", "awsglue.utils", "pyspark.context", "etl.runtime"}
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert {"getResolvedOptions", "GlueContext", "run_on_glue"} <= called


def test_only_the_glue_entry_scripts_import_awsglue():
    offenders = [
        path.relative_to(REPO).as_posix()
        for path in (REPO / "etl").rglob("*.py")
        if path.parent != ENTRY_DIR and "awsglue" in path.read_text()
    ]
    assert offenders == []


def test_only_an_enforced_unique_and_not_null_key_lets_the_writer_skip_its_key_check():
    from etl import quality as q
    from etl.load import gate_makes_keys_unique

    key = ("order_id",)
    assert gate_makes_keys_unique([q.not_null("order_id"), q.unique("order_id")], key)
    assert gate_makes_keys_unique(
        [q.not_null("order_id", action=q.Action.FAIL), q.unique("order_id", action=q.Action.FAIL)], key
    )
    assert not gate_makes_keys_unique([q.unique("order_id")], key)  # repeated null keys pass unique
    assert not gate_makes_keys_unique([q.not_null("order_id"), q.unique("order_id", action=q.Action.WARN)], key)
    assert not gate_makes_keys_unique([q.not_null("order_id"), q.unique("sku")], key)
    assert not gate_makes_keys_unique([q.not_null("a"), q.not_null("b"), q.unique("a")], ("a", "b"))
