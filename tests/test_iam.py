"""IAM policy documents and the runner's state machine definition: pure, no Pulumi."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from data_platform.components import iam
from data_platform.components.runner_definition import (
    FAIL_STATE,
    START_STATE,
    execution_timeout_seconds,
    runner_definition,
    runner_definition_json,
)
from data_platform.config import load_stack
from data_platform.contract import runner_errors, runs

REPO = Path(__file__).resolve().parents[1]

ACCOUNT = iam.AwsAccount(account_id="123456789012", region="eu-west-1")
KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"


@pytest.fixture(scope="module")
def dev():
    return load_stack("dev", REPO).platform


def job_policy(cfg, job: str) -> dict:
    return iam.glue_job_policy(
        ACCOUNT,
        access=iam.job_s3_access(cfg, job),
        catalog=iam.job_catalog_access(cfg, job),
        artifacts_bucket=cfg.bucket_name("artifacts"),
        artifacts_prefix=f"glue/jobs/{job}/",
        temp_prefix=f"glue/tmp/{job}/",
        kms_key_arn=KEY_ARN,
        log_group_names=[f"{cfg.names.log_group(job)}/error", f"{cfg.names.log_group(job)}/output"],
    )


def statement(policy: dict, sid: str) -> dict:
    matches = [s for s in policy["Statement"] if s.get("Sid") == sid]
    assert len(matches) == 1, f"expected one statement {sid}, found {len(matches)}"
    return matches[0]


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def allowed_resources(policy: dict, action: str) -> set[str]:
    return {
        resource
        for s in policy["Statement"]
        if s["Effect"] == "Allow" and action in as_list(s["Action"])
        for resource in as_list(s["Resource"])
    }


# -- Glue job role ----------------------------------------------------------------------------


def test_sales_job_reads_only_its_bronze_prefix(dev):
    policy = job_policy(dev, "sales_etl")
    readable = allowed_resources(policy, "s3:GetObject")
    assert "arn:aws:s3:::data-lake-dev-bronze/sales/*" in readable
    assert not any(
        r.startswith("arn:aws:s3:::data-lake-dev-bronze/") and r != "arn:aws:s3:::data-lake-dev-bronze/sales/*"
        for r in readable
    )
    # Listing is granted on whole buckets (a HEAD of a missing key is 403 without it); only on
    # the buckets the job reads or writes, and with no other action.
    listing = statement(policy, "ListOwnBuckets")
    assert listing["Action"] == "s3:ListBucket" and "Condition" not in listing
    assert listing["Resource"] == [
        "arn:aws:s3:::data-lake-dev-artifacts",
        "arn:aws:s3:::data-lake-dev-bronze",
        "arn:aws:s3:::data-lake-dev-silver",
    ]


def test_sales_job_writes_only_its_dataset_and_bookkeeping(dev):
    writable = allowed_resources(job_policy(dev, "sales_etl"), "s3:PutObject")
    silver = "arn:aws:s3:::data-lake-dev-silver/"
    assert writable == {
        f"{silver}sales/*",
        f"{silver}sales",  # the folder key Spark HEADs before opening sales/ (exact: not sales_daily)
        f"{silver}_staging/_quarantine/sales/*",
        f"{silver}_quarantine/sales/*",
        f"{silver}_ledger/sales_etl/*",
        f"{silver}_runs/sales_etl/*",
        "arn:aws:s3:::data-lake-dev-artifacts/glue/tmp/sales_etl/*",
    }
    # Bronze is never written, and never deleted from.
    assert not any("bronze" in r for r in allowed_resources(job_policy(dev, "sales_etl"), "s3:DeleteObject"))


@pytest.mark.parametrize("job", ["sales_etl", "product_catalog", "inventory_sync", "customer_import"])
def test_job_policy_names_no_other_job(dev, job):
    text = json.dumps(job_policy(dev, job))
    own = dev.jobs[job]
    for other, other_cfg in dev.dataset_jobs.items():
        if other == job:
            continue
        assert other not in text, f"{job}'s policy names job {other}"
        if other_cfg.source.prefix != own.source.prefix:
            assert other_cfg.source.prefix not in text, f"{job}'s policy names {other}'s prefix"
        assert f"/{other_cfg.dataset}/" not in text, f"{job}'s policy names dataset {other_cfg.dataset}"


def test_gold_job_reads_silver_source_and_upstream_manifests_only(dev):
    policy = job_policy(dev, "sales_daily")
    readable = allowed_resources(policy, "s3:GetObject")
    assert "arn:aws:s3:::data-lake-dev-silver/sales/*" in readable
    assert "arn:aws:s3:::data-lake-dev-silver/sales" in readable  # a silver source is opened as a folder
    assert "arn:aws:s3:::data-lake-dev-silver/_runs/sales_etl/*" in readable
    assert not any("bronze" in r for r in readable)
    writable = allowed_resources(policy, "s3:PutObject")
    assert "arn:aws:s3:::data-lake-dev-gold/sales_daily/*" in writable
    assert not any("silver" in r for r in writable)


GLUE = "arn:aws:glue:eu-west-1:123456789012"


def catalog_grants(policy: dict) -> dict[str, set[str]]:
    return {
        action: allowed_resources(policy, action)
        for action in (
            "glue:GetDatabase",
            "glue:GetTable",
            "glue:UpdateTable",
            "glue:CreateTable",
            "glue:DeleteTable",
            "glue:CreateDatabase",
        )
    }


def test_a_job_may_read_and_commit_its_own_table_and_read_its_source_table(dev):
    catalog, database = f"{GLUE}:catalog", f"{GLUE}:database/data_lake_dev"
    table = f"{GLUE}:table/data_lake_dev/"
    assert catalog_grants(job_policy(dev, "sales_etl")) == {
        "glue:GetDatabase": {catalog, database, f"{table}sales"},
        "glue:GetTable": {catalog, database, f"{table}sales"},
        "glue:UpdateTable": {catalog, database, f"{table}sales"},
        "glue:CreateTable": set(),
        "glue:DeleteTable": set(),
        "glue:CreateDatabase": set(),
    }
    daily = catalog_grants(job_policy(dev, "sales_daily"))
    assert daily["glue:GetTable"] == {catalog, database, f"{table}sales", f"{table}sales_daily"}
    assert daily["glue:UpdateTable"] == {catalog, database, f"{table}sales_daily"}  # reads sales, commits its own


def test_the_maintenance_job_commits_every_table_and_touches_only_table_files(dev):
    policy = job_policy(dev, "table_maintenance")
    tables = {f"{GLUE}:table/data_lake_dev/{t}" for t in ("customers", "inventory", "products", "sales", "sales_daily")}
    assert catalog_grants(policy)["glue:UpdateTable"] == {f"{GLUE}:catalog", f"{GLUE}:database/data_lake_dev", *tables}
    writable = allowed_resources(policy, "s3:DeleteObject")
    assert writable == {
        "arn:aws:s3:::data-lake-dev-silver/customers/*",
        "arn:aws:s3:::data-lake-dev-silver/inventory/*",
        "arn:aws:s3:::data-lake-dev-silver/products/*",
        "arn:aws:s3:::data-lake-dev-silver/sales/*",
        "arn:aws:s3:::data-lake-dev-gold/sales_daily/*",
        "arn:aws:s3:::data-lake-dev-artifacts/glue/tmp/table_maintenance/*",
    } | {
        "arn:aws:s3:::data-lake-dev-silver/customers",
        "arn:aws:s3:::data-lake-dev-silver/inventory",
        "arn:aws:s3:::data-lake-dev-silver/products",
        "arn:aws:s3:::data-lake-dev-silver/sales",
        "arn:aws:s3:::data-lake-dev-gold/sales_daily",
    }
    # remove_orphan_files lists each table's location.
    assert statement(policy, "ListOwnBuckets")["Resource"] == [
        "arn:aws:s3:::data-lake-dev-artifacts",
        "arn:aws:s3:::data-lake-dev-gold",
        "arn:aws:s3:::data-lake-dev-silver",
    ]
    assert not any("bronze" in r for s in policy["Statement"] for r in as_list(s["Resource"]))


def test_job_policy_scopes_logs_kms_and_metrics(dev):
    policy = job_policy(dev, "sales_etl")
    assert statement(policy, "UseDataKey")["Resource"] == KEY_ARN
    logs = statement(policy, "WriteJobLogs")
    group = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws-glue/jobs/data-lake-dev-sales_etl"
    assert logs["Resource"] == [
        f"{group}/error",
        f"{group}/error:log-stream:*",
        f"{group}/output",
        f"{group}/output:log-stream:*",
    ]
    assert logs["Action"] == ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    metrics = statement(policy, "PutJobMetrics")
    assert metrics["Resource"] == iam.PUT_METRIC_DATA_RESOURCE == "*"
    assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": ["DataLake", "Glue"]}}


def test_only_documented_statements_use_a_wildcard_resource(dev):
    policies = [job_policy(dev, job) for job in dev.jobs]
    policies.append(iam.runner_policy("arn:aws:glue:eu-west-1:123456789012:job/x", tracing=True))
    wildcard_actions = {
        action
        for policy in policies
        for s in policy["Statement"]
        if "*" in as_list(s["Resource"])
        for action in as_list(s["Action"])
    }
    documented = {"cloudwatch:PutMetricData", *iam.LOG_DELIVERY_ACTIONS, *iam.XRAY_ACTIONS}
    assert wildcard_actions <= documented


# -- Runner, triggers, alerts -----------------------------------------------------------------


def test_runner_may_run_only_its_glue_job_synchronously():
    arn = "arn:aws:glue:eu-west-1:123456789012:job/data-lake-dev-sales_etl"
    policy = iam.runner_policy(arn)
    glue = statement(policy, "RunOneGlueJob")
    assert set(glue["Action"]) == {"glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"}
    assert glue["Resource"] == arn
    assert statement(policy, "DeliverExecutionLogs")["Resource"] == "*"
    assert not [s for s in policy["Statement"] if s["Sid"] == "WriteTraces"]
    assert statement(iam.runner_policy(arn, tracing=True), "WriteTraces")["Resource"] == "*"


def test_trigger_role_starts_one_runner_and_scheduler_may_dead_letter():
    machine = "arn:aws:states:eu-west-1:123456789012:stateMachine:data-lake-dev-sales_etl-runner"
    queue = "arn:aws:sqs:eu-west-1:123456789012:data-lake-dev-daily-dlq"
    events_policy = iam.start_execution_policy(machine)
    assert events_policy["Statement"] == [
        {"Sid": "StartRunner", "Effect": "Allow", "Action": "states:StartExecution", "Resource": machine}
    ]
    scheduler_policy = iam.start_execution_policy(machine, dead_letter_queue_arn=queue)
    assert statement(scheduler_policy, "SendToDeadLetterQueue") == {
        "Sid": "SendToDeadLetterQueue",
        "Effect": "Allow",
        "Action": "sqs:SendMessage",
        "Resource": queue,
    }


def test_assume_role_policy_with_and_without_source_account():
    plain = iam.assume_role_policy("events.amazonaws.com")["Statement"][0]
    assert plain["Principal"] == {"Service": "events.amazonaws.com"} and "Condition" not in plain
    scoped = iam.assume_role_policy("scheduler.amazonaws.com", "123456789012")["Statement"][0]
    assert scoped["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def test_dead_letter_queue_accepts_only_its_rule():
    rule = "arn:aws:events:eu-west-1:123456789012:rule/data-lake-dev-sales_file_trigger"
    policy = iam.dead_letter_queue_policy("arn:aws:sqs:eu-west-1:123456789012:q", rule, "123456789012")
    (only,) = policy["Statement"]
    assert only["Principal"] == {"Service": "events.amazonaws.com"}
    assert only["Action"] == "sqs:SendMessage"
    assert only["Condition"] == {
        "ArnEquals": {"aws:SourceArn": rule},
        "StringEquals": {"aws:SourceAccount": "123456789012"},
    }


def test_alert_topic_policy_admits_our_rule_and_alarms():
    topic = "arn:aws:sns:eu-west-1:123456789012:data-lake-dev-alerts"
    rule = "arn:aws:events:eu-west-1:123456789012:rule/data-lake-dev-run-failures"
    policy = iam.alert_topic_policy(ACCOUNT, topic, rule_arns=[rule], alarm_name_prefix="data-lake-dev-")
    events_statement = statement(policy, "EventBridgePublishes")
    assert events_statement["Condition"] == {
        "ArnEquals": {"aws:SourceArn": [rule]},
        "StringEquals": {"aws:SourceAccount": "123456789012"},
    }
    alarms = statement(policy, "CloudWatchAlarmsPublish")
    assert alarms["Condition"]["ArnLike"] == {
        "aws:SourceArn": "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:data-lake-dev-*"
    }


# -- Buckets and key ----------------------------------------------------------------------------


def test_bucket_policy_denies_plain_http():
    (deny,) = iam.bucket_policy("aws", "data-lake-dev-bronze")["Statement"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*" and deny["Action"] == "s3:*"
    assert deny["Resource"] == ["arn:aws:s3:::data-lake-dev-bronze", "arn:aws:s3:::data-lake-dev-bronze/*"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_access_logs_policy_admits_log_delivery_from_our_buckets_only():
    policy = iam.access_logs_bucket_policy(ACCOUNT, "logs-bucket", {"bronze/": "b-bronze", "silver/": "b-silver"})
    assert statement(policy, "DenyInsecureTransport")["Effect"] == "Deny"
    delivery = statement(policy, "AllowS3ServerAccessLogDelivery")
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert delivery["Resource"] == ["arn:aws:s3:::logs-bucket/bronze/*", "arn:aws:s3:::logs-bucket/silver/*"]
    assert delivery["Condition"]["ArnLike"] == {"aws:SourceArn": ["arn:aws:s3:::b-bronze", "arn:aws:s3:::b-silver"]}
    assert delivery["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}


def test_key_policy_lets_account_administer_and_services_use_it():
    policy = iam.kms_key_policy(ACCOUNT, "data-lake-dev")
    admin = statement(policy, "AccountAdministersKey")
    assert admin["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"} and admin["Action"] == "kms:*"
    logs = statement(policy, "CloudWatchLogsEncryptLogGroups")
    assert logs["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}
    assert logs["Condition"] == {
        "ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:eu-west-1:123456789012:log-group:*"},
        "StringEquals": {"aws:SourceAccount": "123456789012"},
    }
    for sid, service, source in (
        ("RulesPublishToTopicWithKey", "events", "events:eu-west-1:123456789012:rule/"),
        ("AlarmsPublishToTopicWithKey", "cloudwatch", "cloudwatch:eu-west-1:123456789012:alarm:"),
    ):
        publisher = statement(policy, sid)
        assert publisher["Principal"] == {"Service": f"{service}.amazonaws.com"}
        assert set(publisher["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
        assert publisher["Condition"] == {
            "ArnLike": {"aws:SourceArn": f"arn:aws:{source}data-lake-dev-*"},
            "StringEquals": {"aws:SourceAccount": "123456789012"},
        }


# -- Runner definition ------------------------------------------------------------------------


def test_runner_definition_starts_glue_synchronously_with_every_run_argument():
    definition = runner_definition("data-lake-dev-sales_etl", job_timeout_minutes=30)
    task = definition["States"][definition["StartAt"]]
    assert task["Type"] == "Task"
    assert task["Resource"] == "arn:aws:states:::glue:startJobRun.sync"
    assert task["Parameters"]["JobName"] == "data-lake-dev-sales_etl"
    assert task["Parameters"]["Arguments"] == {
        **{f"--{field}.$": f"$.{field}" for field in runs.RUN_ARGUMENT_FIELDS},
        # The execution's name, from the context object: what the alert finds the run's page by.
        "--execution_name.$": "$$.Execution.Name",
    }
    assert "--trigger_source.$" in task["Parameters"]["Arguments"]


def test_runner_retries_exactly_the_contract_errors():
    task = runner_definition("j", job_timeout_minutes=30)["States"][START_STATE]
    retry, never = task["Retry"]
    assert never == {"ErrorEquals": list(runner_errors.PERMANENT_ERRORS), "MaxAttempts": 0}
    policy = runner_errors.RUNNER_RETRY
    assert retry == {
        "ErrorEquals": list(policy.errors),
        "IntervalSeconds": policy.interval_seconds,
        "MaxAttempts": policy.max_attempts,
        "BackoffRate": policy.backoff_rate,
        "MaxDelaySeconds": policy.max_delay_seconds,
        "JitterStrategy": "FULL",
    }
    assert "States.ALL" not in retry["ErrorEquals"] and "States.TaskFailed" not in retry["ErrorEquals"]


@pytest.mark.parametrize("max_retries", [0, 2])
def test_each_error_class_gets_its_policy_in_the_runner(max_retries):
    """Step Functions uses the first retrier whose ErrorEquals names the error, and
    States.TaskFailed names every error: so permanent errors must be matched before it, and
    capacity errors wait hours while a failed run is re-run only max_retries times."""
    retriers = runner_definition("j", job_timeout_minutes=30, max_retries=max_retries)["States"][START_STATE]["Retry"]

    def first_retrier(error: str) -> dict:
        return next(r for r in retriers if error in r["ErrorEquals"] or "States.TaskFailed" in r["ErrorEquals"])

    for error in runner_errors.RUNNER_RETRY.errors:
        assert first_retrier(error)["MaxAttempts"] == 60
    for error in ("Glue.InvalidInputException", "Glue.EntityNotFoundException", "Glue.AccessDeniedException"):
        assert first_retrier(error)["MaxAttempts"] == 0
    failed = [r for r in retriers if r["ErrorEquals"] == ["States.TaskFailed"]]
    assert [r["MaxAttempts"] for r in failed] == ([max_retries] if max_retries else [])
    documented = {e for row in runner_errors.RUNNER_ERRORS for e in row.errors}
    assert {e for r in retriers for e in r["ErrorEquals"]} <= documented


def test_runner_fails_loudly_with_glue_error_and_cause():
    definition = runner_definition("j", job_timeout_minutes=30)
    task = definition["States"][START_STATE]
    assert task["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": FAIL_STATE}]
    fail = definition["States"][FAIL_STATE]
    assert fail["Type"] == "Fail"
    assert (fail["ErrorPath"], fail["CausePath"]) == ("$.error.Error", "$.error.Cause")


def test_runner_times_out_after_glue_would():
    definition = runner_definition("j", job_timeout_minutes=30)
    assert definition["TimeoutSeconds"] == execution_timeout_seconds(30)
    assert definition["TimeoutSeconds"] > 30 * 60 + sum(runner_errors.RUNNER_RETRY.delays())


def test_runner_definition_is_valid_amazon_states_language():
    statelint = pytest.importorskip("statelint.linter")
    assert statelint.Linter.validate(json.loads(runner_definition_json("j", job_timeout_minutes=60))) == []
    broken = runner_definition("j", job_timeout_minutes=60)
    broken["States"][START_STATE]["Next"] = "Nowhere"
    assert statelint.Linter.validate(broken) != []


def test_runner_definition_uses_the_partition():
    task = runner_definition("j", job_timeout_minutes=5, partition="aws-cn")["States"][START_STATE]
    assert task["Resource"] == "arn:aws-cn:states:::glue:startJobRun.sync"
