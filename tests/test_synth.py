"""Both stacks, synthesized from the real program under Pulumi mocks: shape, counts and the
properties that must hold across every resource of a stack."""

from __future__ import annotations

import collections
import json
import runpy
from pathlib import Path

import pytest
import yaml

from data_platform import synth
from data_platform.config import load_stack
from data_platform.contract import events, runs

REPO = Path(__file__).resolve().parents[1]
STACKS = ("dev", "prod")


@pytest.fixture(scope="module")
def stacks():
    return {name: load_stack(name, REPO) for name in STACKS}


@pytest.fixture(scope="module")
def synthesized(stacks):
    return {name: synth.synthesize(stack) for name, stack in stacks.items()}


def of_type(resources, type_):
    return [r for r in resources if r["type"] == type_]


def counts(resources):
    return collections.Counter(r["type"] for r in resources)


@pytest.fixture(params=STACKS)
def stack_name(request):
    return request.param


# -- Shape ------------------------------------------------------------------------------------


def test_synth_output_shape(synthesized, stack_name):
    resources = synthesized[stack_name]
    assert all(set(r) == {"type", "name", "parent", "inputs", "options"} for r in resources)
    assert json.loads(json.dumps(resources)) == resources  # JSON-able as is
    assert resources[0] == {
        "type": "pulumi:providers:aws",
        "name": f"data-lake-{stack_name}-aws",
        "parent": None,
        "inputs": resources[0]["inputs"],
        "options": {"deleteBeforeReplace": False, "ignoreChanges": [], "protect": False},
    }
    names = [r["name"] for r in resources]
    assert len(names) == len(set(names)), "logical names must be unique (parents are referred to by name)"
    seen = set()
    for resource in resources:  # declaration order: a parent is declared before its children
        assert resource["parent"] is None or resource["parent"] in seen, resource["name"]
        seen.add(resource["name"])


def test_components_and_parents(synthesized, stack_name):
    resources = synthesized[stack_name]
    by_name = {r["name"]: r for r in resources}
    (platform,) = of_type(resources, "datalake:platform:DataPlatform")
    assert platform["name"] == f"data-lake-{stack_name}" and platform["parent"] is None
    for resource in resources:
        if resource["type"].startswith("aws:"):
            # Every AWS resource lives under a component, named after it plus a stable key.
            parent = by_name[resource["parent"]]
            assert parent["type"].startswith("datalake:"), resource["name"]
            assert resource["name"].startswith(parent["name"] + "-"), resource["name"]
    component_types = {r["type"] for r in resources if r["type"].startswith("datalake:")}
    assert component_types == {
        "datalake:platform:DataPlatform",
        "datalake:storage:MedallionBuckets",
        "datalake:glue_job:GlueJob",
        "datalake:runner:JobRunner",
        "datalake:triggers:S3EventTrigger",
        "datalake:triggers:ScheduleTrigger",
        "datalake:triggers:JobSucceededTrigger",
        "datalake:alerts:Alerts",
        "datalake:catalog:DataCatalog",
    }


def test_render_tree_indents_children(synthesized):
    tree = synth.render_tree(synthesized["dev"]).splitlines()
    assert tree[0] == "data-lake-dev-aws  (pulumi:providers:aws)"
    assert "  data-lake-dev-storage  (datalake:storage:MedallionBuckets)" in tree
    assert "    data-lake-dev-storage-bronze  (aws:s3/bucket:Bucket)" in tree
    assert len(tree) == len(synthesized["dev"])


def test_synthesis_is_repeatable_and_deterministic(synthesized, stacks):
    assert synth.synthesize(stacks["dev"]) == synthesized["dev"]


def test_cli_prints_json(capsys):
    assert synth.main(["--stack", "dev", "--project-dir", str(REPO), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed[0]["type"] == "pulumi:providers:aws" and len(printed) > 100


def test_cli_reports_config_errors(tmp_path, capsys):
    assert synth.main(["--stack", "nope", "--project-dir", str(tmp_path)]) == 2
    assert "stack file not found" in capsys.readouterr().err


# -- Counts -----------------------------------------------------------------------------------


def test_resource_counts_follow_the_config(synthesized, stacks, stack_name):
    cfg = stacks[stack_name].platform
    found = counts(synthesized[stack_name])
    jobs, rules, schedules, after = len(cfg.jobs), len(cfg.s3_rules), len(cfg.schedules), len(cfg.after_job)
    triggers = rules + schedules + after
    assert found["aws:s3/bucket:Bucket"] == 5
    for per_bucket in (
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "aws:s3/bucketVersioning:BucketVersioning",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketPolicy:BucketPolicy",
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    ):
        assert found[per_bucket] == 5, per_bucket
    assert found["aws:s3/bucketLogging:BucketLogging"] == 4
    assert found["aws:kms/key:Key"] == 1
    assert found["aws:glue/job:Job"] == found["aws:sfn/stateMachine:StateMachine"] == jobs
    assert found["aws:glue/securityConfiguration:SecurityConfiguration"] == jobs
    assert found["aws:s3/bucketObjectv2:BucketObjectv2"] == 2 * jobs
    assert found["aws:cloudwatch/eventRule:EventRule"] == rules + after + 1  # + the Glue failure alert rule
    assert found["aws:scheduler/schedule:Schedule"] == schedules
    assert found["aws:scheduler/scheduleGroup:ScheduleGroup"] == 1
    assert found["aws:sqs/queue:Queue"] == triggers + 1  # + the alert target's DLQ
    assert found["aws:iam/role:Role"] == 2 * jobs + triggers
    assert found["aws:sns/topicSubscription:TopicSubscription"] == len(cfg.alerts.emails)
    datasets = len(cfg.dataset_jobs)  # a quarantine alarm and a table each; the maintenance job has neither
    alarms = 2 * jobs + (rules + after) + 2 + (triggers + 1) + jobs + datasets
    assert found["aws:cloudwatch/metricAlarm:MetricAlarm"] == alarms
    assert found["aws:glue/catalogTable:CatalogTable"] == datasets
    assert 150 <= len(synthesized[stack_name]) <= 300


# -- Cross-cutting properties -------------------------------------------------------------------


def runner_arns(resources):
    return {r["inputs"]["name"]: r for r in of_type(resources, "aws:sfn/stateMachine:StateMachine")}


def test_every_trigger_targets_a_runner_never_a_glue_job(synthesized, stack_name):
    resources = synthesized[stack_name]
    machines = {f"arn:aws:states:eu-west-1:{synth.ACCOUNT_ID}:stateMachine:{name}" for name in runner_arns(resources)}
    targets = [
        r["inputs"]
        for r in of_type(resources, "aws:cloudwatch/eventTarget:EventTarget")
        if r["inputs"]["targetId"] == "runner"
    ]
    targets += [r["inputs"]["target"] for r in of_type(resources, "aws:scheduler/schedule:Schedule")]
    # every runner target has its own DLQ; the one extra queue belongs to the alert target
    assert len(targets) + 1 == len(of_type(resources, "aws:sqs/queue:Queue"))
    for target in targets:
        assert target["arn"] in machines
        assert ":glue:" not in target["arn"]
        assert target["deadLetterConfig"]["arn"].startswith("arn:aws:sqs:")
        assert target["retryPolicy"]["maximumRetryAttempts"] >= 0
        assert target["roleArn"].startswith("arn:aws:iam::")
    alert_targets = [
        r["inputs"]
        for r in of_type(resources, "aws:cloudwatch/eventTarget:EventTarget")
        if r["inputs"]["targetId"] != "runner"
    ]
    assert [t["arn"].split(":")[2] for t in alert_targets] == ["sns"]
    assert alert_targets[0]["deadLetterConfig"]["arn"].startswith("arn:aws:sqs:")


def test_every_event_pattern_is_valid_for_eventbridge(synthesized, stack_name):
    for rule in of_type(synthesized[stack_name], "aws:cloudwatch/eventRule:EventRule"):
        events.validate_pattern(json.loads(rule["inputs"]["eventPattern"]))


def test_sales_rule_uses_a_wildcard_and_after_job_rule_watches_sales_etl(synthesized, stack_name):
    rules = {
        r["inputs"]["name"]: json.loads(r["inputs"]["eventPattern"])
        for r in of_type(synthesized[stack_name], "aws:cloudwatch/eventRule:EventRule")
    }
    sales = rules[f"data-lake-{stack_name}-sales_file_trigger"]
    assert sales["detail"]["object"]["key"] == [{"wildcard": "sales/*.csv"}]
    assert sales["detail"]["bucket"]["name"] == [f"data-lake-{stack_name}-bronze"]
    after = rules[f"data-lake-{stack_name}-sales_daily"]
    assert after == runs.glue_job_state_change_pattern([f"data-lake-{stack_name}-sales_etl"], ["SUCCEEDED"])


def test_schedules_carry_expression_and_time_zone(synthesized, stacks, stack_name):
    cfg = stacks[stack_name].platform
    schedules = {
        r["inputs"]["name"]: r["inputs"] for r in of_type(synthesized[stack_name], "aws:scheduler/schedule:Schedule")
    }
    assert set(schedules) == {cfg.names.schedule(key) for key in cfg.schedules}
    for key, sched in cfg.schedules.items():
        deployed = schedules[cfg.names.schedule(key)]
        assert deployed["scheduleExpression"] == sched.expression
        assert deployed["scheduleExpressionTimezone"] == sched.timezone
        assert deployed["groupName"] == cfg.names.schedule_group()


def test_runner_definitions_are_valid_and_name_their_job(synthesized, stack_name):
    statelint = pytest.importorskip("statelint.linter")
    for name, machine in runner_arns(synthesized[stack_name]).items():
        definition = json.loads(machine["inputs"]["definition"])
        assert statelint.Linter.validate(definition) == [], name
        job = name.removesuffix("-runner")
        assert definition["States"][definition["StartAt"]]["Parameters"]["JobName"] == job


def test_job_role_reads_only_its_own_bronze_prefix(synthesized, stack_name):
    policies = {
        r["inputs"]["role"]: r["inputs"]["policy"]
        for r in of_type(synthesized[stack_name], "aws:iam/rolePolicy:RolePolicy")
    }
    sales = policies[f"data-lake-{stack_name}-sales_etl-job"]
    assert f"arn:aws:s3:::data-lake-{stack_name}-bronze/sales/*" in sales
    for foreign in ("products/", "inventory/", "customers/", "sales_daily", "product_catalog", "customer_import"):
        assert foreign not in sales


def test_stack_tags_reach_every_resource_through_the_provider(synthesized, stacks, stack_name):
    provider = synthesized[stack_name][0]
    assert json.loads(provider["inputs"]["defaultTags"]) == {"tags": stacks[stack_name].platform.tags}
    assert provider["inputs"]["region"] == "eu-west-1"


def test_prod_differs_from_dev_where_config_does(synthesized):
    def glue(stack, job):
        return next(
            r["inputs"]
            for r in of_type(synthesized[stack], "aws:glue/job:Job")
            if r["inputs"]["name"] == f"data-lake-{stack}-{job}"
        )

    assert (glue("dev", "customer_import")["executionClass"], glue("prod", "customer_import")["executionClass"]) == (
        "STANDARD",
        "FLEX",
    )
    assert (glue("dev", "sales_etl")["workerType"], glue("prod", "sales_etl")["workerType"]) == ("G.1X", "G.2X")


# -- __main__.py --------------------------------------------------------------------------------


def test_main_program_wires_config_to_platform_and_exports(monkeypatch, synthesized):
    import pulumi

    raw = yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())["config"]
    monkeypatch.setenv(
        "PULUMI_CONFIG",
        json.dumps(
            {
                "data-lake:platform": json.dumps(raw["data-lake:platform"]),
                "aws:region": raw["aws:region"],
            }
        ),
    )
    exported = {}
    monkeypatch.setattr(pulumi, "export", lambda name, value: exported.setdefault(name, value))
    resources = synth.record(lambda: runpy.run_path(str(REPO / "__main__.py")), stack="dev", region="eu-west-1")
    assert set(exported) == {"bucket_names", "job_names", "runner_arns", "alert_topic_arn"}
    assert set(exported["bucket_names"]) == {"bronze", "silver", "gold", "artifacts", "access_logs"}
    assert resources == synthesized["dev"]
