from __future__ import annotations

import re

import pytest

from etl.args import JobArguments, TriggerSource, default_run_id, parse_job_arguments


def test_glue_style_arguments_parse_and_glue_extras_are_kept_aside():
    args = parse_job_arguments(
        [
            "script.py",
            "--JOB_NAME", "data-lake-dev-sales-etl",
            "--JOB_ID", "j_1",
            "--JOB_RUN_ID", "jr_abc123",
            "--job-bookmark-option", "job-bookmark-disable",
            "--enable-metrics",
            "--TempDir=s3://tmp/x",
            "--env", "dev",
            "--trigger_source", "s3_event",
            "--source_bucket", "data-lake-dev-bronze",
            "--source_key", "sales/2024-01-05.csv",
            "--max_drop_ratio", "0.1",
        ]
    )  # fmt: skip
    assert args == JobArguments(
        job_name="data-lake-dev-sales-etl",
        job_run_id="jr_abc123",
        env="dev",
        trigger_source=TriggerSource.S3_EVENT,
        source_bucket="data-lake-dev-bronze",
        source_key="sales/2024-01-05.csv",
        bronze_bucket="data-lake-dev-bronze",
        silver_bucket="data-lake-dev-silver",
        gold_bucket="data-lake-dev-gold",
        database="data_lake_dev",
        max_drop_ratio=0.1,
        extra=args.extra,
    )
    assert dict(args.extra) == {
        "JOB_ID": "j_1",
        "job-bookmark-option": "job-bookmark-disable",
        "enable-metrics": "",
        "TempDir": "s3://tmp/x",
    }


def test_defaults_for_a_manual_local_run():
    args = JobArguments.from_mapping({"storage_root": "/tmp/lake"})
    assert (args.env, args.trigger_source, args.max_drop_ratio, args.source_key) == (
        "local",
        TriggerSource.MANUAL,
        0.05,
        None,
    )
    assert (args.bronze_bucket, args.storage_root) == ("data-lake-local-bronze", "/tmp/lake")
    assert re.fullmatch(r"local-\d{8}T\d{6}-[0-9a-f]{6}", args.job_run_id)
    assert default_run_id() != default_run_id()


def test_empty_values_mean_not_given():
    args = JobArguments.from_mapping({"--source_key": "", "--trigger_source": "schedule", "--upstream_job": ""})
    assert (args.source_key, args.upstream_job, args.trigger_source) == (None, None, TriggerSource.SCHEDULE)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"trigger_source": "cron"}, "--trigger_source 'cron' is unknown: use one of s3_event, schedule"),
        ({"trigger_source": "s3_event"}, "s3_event needs --source_key"),
        ({"trigger_source": "job_succeeded"}, "job_succeeded needs --upstream_run_id"),
        ({"max_drop_ratio": "lots"}, "--max_drop_ratio 'lots' is not a number"),
        ({"max_drop_ratio": "1.5"}, "must be between 0 and 1"),
        ({"JOB_RUN_ID": "../etc"}, "--JOB_RUN_ID '../etc' is invalid"),
        ({"env": "Prod!"}, "--env 'Prod!' is invalid"),
        ({"silver_bucket": "Bad_Bucket"}, "--silver_bucket 'Bad_Bucket' is not a valid bucket name"),
        ({"storage_root": "relative/dir"}, "--storage_root 'relative/dir' must be 's3://' or an absolute"),
        ({"data_docs_bucket": "data-lake-dev-artifacts"}, "--data_docs_bucket needs --data_docs_prefix"),
        ({"data_docs_prefix": "data-docs/dev/"}, "--data_docs_prefix needs --data_docs_bucket"),
        ({"data_docs_bucket": "Art", "data_docs_prefix": "d/"}, "--data_docs_bucket 'Art' is not a valid bucket"),
        ({"data_docs_bucket": "art", "data_docs_prefix": "data-docs/dev"}, "--data_docs_prefix 'data-docs/dev' is"),
        ({"data_docs_bucket": "art", "data_docs_prefix": "/data-docs/"}, "--data_docs_prefix '/data-docs/' is"),
        ({"data_docs_bucket": "art", "data_docs_prefix": "data-docs/../x/"}, "--data_docs_prefix 'data-docs/../x/'"),
        ({"execution_name": "a/b"}, "--execution_name: execution name 'a/b' is invalid"),
        ({"execution_name": ".."}, "--execution_name: execution name '..' is invalid"),
        ({"execution_name": "x" * 81}, "is invalid: 1-80 characters"),
    ],
)
def test_invalid_arguments_are_refused_with_a_clear_message(values, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        JobArguments.from_mapping(values)


def test_malformed_flag_is_refused():
    with pytest.raises(ValueError, match="malformed argument '--'"):
        parse_job_arguments(["--", "x"])


def test_the_database_defaults_from_the_environment_and_must_be_a_glue_name():
    assert JobArguments.from_mapping({"env": "qa-eu"}).database == "data_lake_qa_eu"
    assert JobArguments.from_mapping({"database": "analytics_prod"}).database == "analytics_prod"
    with pytest.raises(ValueError, match="--database 'Sales-DB' is invalid"):
        JobArguments.from_mapping({"database": "Sales-DB"})


def test_the_data_docs_location_and_the_execution_are_kept_and_optional():
    args = JobArguments.from_mapping(
        {
            "--data_docs_bucket": "data-lake-dev-artifacts",
            "--data_docs_prefix": "data-docs/dev/",
            "--execution_name": "0f9e8d7c-6b5a-4321-8765-43210fedcba9",
        }
    )
    assert (args.data_docs_bucket, args.data_docs_prefix, args.execution_name) == (
        "data-lake-dev-artifacts",
        "data-docs/dev/",
        "0f9e8d7c-6b5a-4321-8765-43210fedcba9",
    )
    # A run started without them (a job run by hand) writes no Data Docs; the runner passes
    # every per-run key, empty when not applicable.
    bare = JobArguments.from_mapping({"--execution_name": ""})
    assert (bare.data_docs_bucket, bare.data_docs_prefix, bare.execution_name) == (None, None, None)
