"""Cloud mode (`--cloud`) against moto: upload, runs, replay - through the CLI, in-process."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from data_platform.cli.app import main
from data_platform.config import StackConfig, load_stack
from data_platform.contract import events, runs

REPO = Path(__file__).resolve().parents[1]
REGION = "eu-west-1"  # the dev stack's aws:region
ROLE = "arn:aws:iam::123456789012:role/test"


@pytest.fixture(scope="module")
def stack() -> StackConfig:
    return load_stack("dev", REPO)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # the stack's region must win
    with mock_aws():
        yield


@pytest.fixture
def bronze(aws, stack: StackConfig) -> str:
    """The stack's bronze bucket with SSE-KMS default encryption, as MedallionBuckets creates it."""
    bucket = stack.platform.bucket_name("bronze")
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    key_id = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_id},
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    return bucket


def lake(*args: str, home: Path) -> int:
    return main(["--home", str(home), *args])


def test_upload_lands_in_the_bronze_bucket_with_the_environment_key(bronze: str, tmp_path: Path, capsys) -> None:
    source = tmp_path / "orders.csv"
    source.write_bytes(b"order_id\n1\n")
    assert lake("upload", "--cloud", "--json", str(source), "sales/2024-06-01 store+1.csv", home=tmp_path) == 0
    s3 = boto3.client("s3", region_name=REGION)
    head = s3.head_object(Bucket=bronze, Key="sales/2024-06-01 store+1.csv")
    encryption = s3.get_bucket_encryption(Bucket=bronze)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == encryption["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"]
    assert s3.get_object(Bucket=bronze, Key="sales/2024-06-01 store+1.csv")["Body"].read() == b"order_id\n1\n"
    [result] = json.loads(capsys.readouterr().out)
    assert result["will_start"] == [{"rule": "sales_file_trigger", "job": "sales_etl"}]
    assert not list((tmp_path).glob("data-lake-*"))  # nothing local


def test_upload_to_another_bucket_is_refused(bronze: str, tmp_path: Path, capsys) -> None:
    source = tmp_path / "orders.csv"
    source.write_bytes(b"x\n")
    assert lake("upload", "--cloud", str(source), "s3://other-bucket/sales/x.csv", home=tmp_path) == 1
    assert "not this stack's bronze bucket" in capsys.readouterr().err
    assert boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=bronze)["KeyCount"] == 0


def test_runs_lists_glue_job_runs_in_the_local_shape(aws, stack: StackConfig, tmp_path: Path, capsys) -> None:
    glue = boto3.client("glue", region_name=REGION)
    name = stack.platform.names.glue_job("sales_etl")
    glue.create_job(Name=name, Role=ROLE, Command={"Name": "glueetl", "ScriptLocation": "s3://a/b.py"})
    run_id = glue.start_job_run(
        JobName=name, Arguments={"--trigger_source": "s3_event", "--source_key": "sales/a.csv"}
    )["JobRunId"]
    assert lake("runs", "--cloud", "--json", home=tmp_path) == 0
    captured = capsys.readouterr()
    [run] = json.loads(captured.out)
    assert {k: run[k] for k in ("run_id", "job", "trigger_source", "source_key", "attempts")} == {
        "run_id": run_id,
        "job": "sales_etl",
        "trigger_source": "s3_event",
        "source_key": "sales/a.csv",
        "attempts": 1,
    }
    assert set(run) >= {
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
    assert "data-lake-dev-product_catalog does not exist" in captured.err  # not deployed: a warning


def test_replay_starts_the_runner_with_the_rule_input(bronze: str, stack: StackConfig, tmp_path: Path, capsys) -> None:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
    machines = {
        job: sfn.create_state_machine(name=stack.platform.names.runner(job), definition=definition, roleArn=ROLE)[
            "stateMachineArn"
        ]
        for job in stack.platform.jobs
    }
    s3 = boto3.client("s3", region_name=REGION)
    for key in ("sales/a.csv", "sales/b.txt", "products/p.json"):
        s3.put_object(Bucket=bronze, Key=key, Body=b"x")
    assert lake("replay", "--cloud", "--json", "--prefix", "sales/", home=tmp_path) == 0
    [started] = json.loads(capsys.readouterr().out)
    assert (started["key"], started["rule"], started["job"]) == ("sales/a.csv", "sales_file_trigger", "sales_etl")
    [execution] = sfn.list_executions(stateMachineArn=machines["sales_etl"])["executions"]
    sent = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])
    assert sent == runs.runner_input(
        "s3_event",
        source_bucket=bronze,
        source_key="sales/a.csv",
        event_id=sent["event_id"],
        event_time=sent["event_time"],
    )
    assert execution["stateMachineArn"] == (
        f"arn:aws:states:{REGION}:123456789012:stateMachine:{stack.platform.names.runner('sales_etl')}"
    )
    assert sfn.list_executions(stateMachineArn=machines["product_catalog"])["executions"] == []
    # The rule that routed it is the deployed one.
    event = events.s3_object_created_event(bronze, "sales/a.csv", 1)
    pattern = events.s3_object_created_pattern(bronze, "sales/", ".csv")
    assert events.matches(pattern, event)
