"""Deploy checks: both stacks' synthesized resources, as AWS would judge them.

The checks live in the top-level `checks` package; these tests run them over `synthesize(dev)` and
`synthesize(prod)` (once per process, see `synthesized`) and over deliberately broken
resources, so each check is shown able to fail.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import json
import re
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

import checks
from checks import api_mappings, api_shapes, iam, patterns, runners
from checks.api_mappings import API_MAPPINGS, Skip, To
from checks.resources import POLICY_UNKNOWNS, PULUMI_UNKNOWN, check_unknowns

REPO = Path(__file__).resolve().parents[1]
STACKS = ("dev", "prod")


@cache
def synthesized(stack: str) -> tuple[dict[str, Any], ...]:
    """One synthesis per stack per test process (test_policy_pack.py shares it)."""
    from data_platform.config import load_stack
    from data_platform.synth import synthesize

    return tuple(synthesize(load_stack(stack, REPO)))


@pytest.fixture(scope="module", params=STACKS)
def resources(request) -> list[dict[str, Any]]:
    return copy.deepcopy(list(synthesized(request.param)))


def of_type(resources, type_token: str) -> list[dict[str, Any]]:
    return [r for r in resources if r["type"] == type_token]


def show(findings) -> str:
    return "\n".join(str(f) for f in findings)


# ---------------------------------------------------------------------------------------------
# Both stacks, as synthesized


def test_every_type_is_api_checked_or_listed_with_a_reason(resources):
    assert api_shapes.unmapped_types(resources) == []
    for type_token in {r["type"] for r in resources} - set(API_MAPPINGS):
        assert api_shapes.not_api_checked_reason(type_token), type_token


def test_the_required_types_are_api_checked(resources):
    required = {
        "aws:glue/job:Job",
        "aws:cloudwatch/eventRule:EventRule",
        "aws:cloudwatch/eventTarget:EventTarget",
        "aws:scheduler/schedule:Schedule",
        "aws:sfn/stateMachine:StateMachine",
        "aws:sqs/queue:Queue",
        "aws:sns/topic:Topic",
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        "aws:glue/catalogTable:CatalogTable",
        "aws:glue/catalogDatabase:CatalogDatabase",
        "aws:iam/role:Role",
        "aws:s3/bucket:Bucket",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:kms/key:Key",
    }
    assert required <= set(API_MAPPINGS)
    present = {r["type"] for r in resources}
    assert required <= present, f"synth no longer declares {sorted(required - present)}; the check would be vacuous"


def test_inputs_satisfy_the_aws_api_constraints(resources):
    findings = api_shapes.check_api_constraints(resources)
    assert findings == [], show(findings)


def test_event_patterns_are_valid(resources):
    rules = [r for r in of_type(resources, "aws:cloudwatch/eventRule:EventRule") if r["inputs"].get("eventPattern")]
    assert rules
    findings = patterns.check_event_patterns(resources)
    assert findings == [], show(findings)


def test_schedule_expressions_are_valid(resources):
    assert of_type(resources, "aws:scheduler/schedule:Schedule")
    findings = patterns.check_schedule_expressions(resources)
    assert findings == [], show(findings)


def test_state_machine_definitions_pass_statelint(resources):
    assert of_type(resources, "aws:sfn/stateMachine:StateMachine")
    findings = runners.check_state_machines(resources)
    assert findings == [], show(findings)


def test_iam_documents_pass_parliament_and_structural_checks(resources):
    documents = iam.iam_documents(resources)
    kinds = {kind: sum(1 for d in documents if d.kind == kind) for kind in ("identity", "resource", "trust", "key")}
    roles = len(of_type(resources, "aws:iam/role:Role"))
    assert kinds["trust"] == roles and kinds["identity"] >= roles and kinds["resource"] > 0 and kinds["key"] == 1
    findings = iam.check_iam_documents(resources)
    assert findings == [], show(findings)


def test_no_resource_wildcard_beyond_the_documented_exceptions(resources):
    findings = iam.check_wildcard_resources(resources)
    assert findings == [], show(findings)


def test_every_value_is_resolved(resources):
    findings = check_unknowns(resources)
    assert findings == [], show(findings)


def test_check_all_is_clean(resources):
    assert checks.check_all(resources) == []


# ---------------------------------------------------------------------------------------------
# The mappings themselves


def _pulumi_args_tree(type_token: str) -> dict[str, Any]:
    """camelCase input names (nested) of a pulumi-aws resource, from its Args classes."""
    _, module_path, class_name = type_token.split(":")
    package = importlib.import_module(f"pulumi_aws.{module_path.split('/')[0]}")
    module = sys.modules[getattr(package, class_name).__module__]
    # A resource whose Args name collides with an input type's is generated as <Name>InitArgs.
    args = getattr(module, f"{class_name}InitArgs", None) or getattr(module, f"{class_name}Args")

    def tree(cls, seen: tuple[str, ...]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for attr, prop in inspect.getmembers(cls, lambda o: isinstance(o, property)):
            name = getattr(prop.fget, "_pulumi_name", None) or attr
            match = re.search(r"'(\w+Args)'", str(inspect.signature(prop.fget).return_annotation))
            nested = getattr(module, match.group(1), None) if match else None
            out[name] = tree(nested, (*seen, match.group(1))) if nested and match.group(1) not in seen else None
        return out

    return tree(args, ())


def _spec_problems(fields, schema, path="") -> list[str]:
    problems = []
    for name, spec in fields.items():
        if name not in schema:
            problems.append(f"{path}{name}: not a pulumi-aws input")
        elif isinstance(spec, To) and spec.fields is not None:
            if schema[name] is None:
                problems.append(f"{path}{name}: pulumi-aws has no nested inputs here")
            else:
                problems += _spec_problems(spec.fields, schema[name], f"{path}{name}.")
    for name, nested in schema.items():
        spec = fields.get(name)
        if spec is None and not (path == "" and name in api_mappings.COMMON_SKIPS):
            problems.append(f"{path}{name}: pulumi-aws input neither mapped nor Skip(reason)")
        elif nested and isinstance(spec, To) and spec.fields is None and not spec.convert:
            problems.append(f"{path}{name}: nested pulumi input mapped without its fields")
    return problems


@pytest.mark.parametrize("type_token", sorted(API_MAPPINGS))
def test_mapping_names_real_pulumi_inputs_and_covers_them_all(type_token):
    schema = _pulumi_args_tree(type_token)
    assert _spec_problems(API_MAPPINGS[type_token].fields, schema) == []


@pytest.mark.parametrize("type_token", sorted(API_MAPPINGS))
def test_mapping_names_a_real_operation(type_token):
    mapping = API_MAPPINGS[type_token]
    shape = api_shapes.operation_input_shape(mapping.service, mapping.operation)
    assert shape.type_name == "structure"
    for path in mapping.provider_filled:
        node = shape
        for part in path.split("."):
            member, _, index = part.partition("[")
            assert member in node.required_members, f"{path}: {member} is not a required member"
            node = node.members[member]
            if index:
                node = node.member


def test_skips_say_why():
    def walk(fields):
        for spec in fields.values():
            if isinstance(spec, Skip):
                assert len(spec.reason) > 10
            elif isinstance(spec, To) and spec.fields:
                walk(spec.fields)

    for mapping in API_MAPPINGS.values():
        walk(mapping.fields)
    for reason in api_mappings.NOT_API_CHECKED.values():
        assert len(reason) > 10


def test_unknown_sentinels_match_the_sdks():
    import pulumi.runtime.rpc as rpc
    import pulumi_policy.proxy as proxy

    assert PULUMI_UNKNOWN == rpc.UNKNOWN
    sentinels = {getattr(proxy, n) for n in dir(proxy) if n.startswith("UNKNOWN_") and n.endswith("_VALUE")}
    assert sentinels == set(POLICY_UNKNOWNS)
    assert proxy.UNKNOWN_OBJECT_VALUE in POLICY_UNKNOWNS


# ---------------------------------------------------------------------------------------------
# The shape validator


def test_java_patterns_translate():
    pattern = r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*"
    assert api_shapes.python_pattern(pattern) == r"[\u0020-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF\t]*"
    compiled = api_shapes._compiled(pattern)
    assert compiled.fullmatch("job \U0001f600 name") and not compiled.fullmatch("bad\x01")
    tag = api_shapes._compiled(r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+")
    assert tag.fullmatch("Équipe data-lake") and not tag.fullmatch("a;b")


def test_validator_checks_type_required_enum_length_pattern_and_range():
    problems = api_shapes.validate_request(
        "glue",
        "CreateJob",
        {
            "Name": "x" * 256,
            "Command": {"ScriptLocation": "s3://a/b.py"},
            "WorkerType": "G.3X",
            "NumberOfWorkers": 2.5,
            "Timeout": 0,
            "GlueVersion": "five",
            "ExecutionProperty": {"MaxConcurrentRuns": True},
            "Bogus": 1,
        },
    )
    text = "\n".join(f"{p}: {m}" for p, m in problems)
    for expected in (
        "Role: required member",
        "Name: has 256 characters",
        "WorkerType: 'G.3X' is not one of",
        "NumberOfWorkers: must be an integer",
        "Timeout: 0 is below the API minimum 1",
        "GlueVersion: 'five' does not match",
        "MaxConcurrentRuns: must be an integer",
        "Bogus: not a member of CreateJobRequest",
    ):
        assert expected in text, text


def test_validator_accepts_integral_floats_and_reports_unknowns():
    ok = api_shapes.validate_request(
        "events",
        "PutTargets",
        {"Rule": "r", "Targets": [{"Id": "t", "Arn": "arn:x", "RetryPolicy": {"MaximumRetryAttempts": 8.0}}]},
    )
    assert ok == []
    unknown = api_shapes.validate_request("events", "PutRule", {"Name": PULUMI_UNKNOWN})
    assert unknown and "unknown" in unknown[0][1]


# ---------------------------------------------------------------------------------------------
# Broken resources: each check reports them


def _resource(type_token: str, inputs: dict[str, Any], name: str = "broken") -> dict[str, Any]:
    return {"type": type_token, "name": name, "parent": None, "inputs": inputs}


def _first(resources, type_token, **matching):
    for resource in resources:
        if resource["type"] == type_token and all(resource["inputs"].get(k) == v for k, v in matching.items()):
            return copy.deepcopy(resource)
    raise AssertionError(f"no {type_token} in synth output")


def test_glue_job_with_unknown_worker_type_is_reported(resources):
    job = _first(resources, "aws:glue/job:Job")
    job["inputs"]["workerType"] = "G.3X"
    findings = api_shapes.check_api_constraints([job])
    assert len(findings) == 1 and "WorkerType" in findings[0].path and "'G.3X' is not one of" in findings[0].message


def test_glue_job_without_role_and_with_bad_glue_version_is_reported(resources):
    job = _first(resources, "aws:glue/job:Job")
    del job["inputs"]["roleArn"]
    job["inputs"]["glueVersion"] = "5.0 beta"
    text = show(api_shapes.check_api_constraints([job]))
    assert "Role: glue CreateJob: required member" in text and "GlueVersion" in text


def test_rule_name_of_65_characters_is_reported(resources):
    rule = _first(resources, "aws:cloudwatch/eventRule:EventRule")
    rule["inputs"]["name"] = "r" * 65
    findings = api_shapes.check_api_constraints([rule])
    assert [f.path for f in findings] == ["Name"] and "at most 64" in findings[0].message


def test_rule_name_with_a_space_is_reported():
    rule = _resource("aws:cloudwatch/eventRule:EventRule", {"name": "bad name", "eventPattern": '{"source":["x"]}'})
    assert "does not match RuleName pattern" in show(api_shapes.check_api_constraints([rule]))


def test_event_target_retry_policy_out_of_range_is_reported(resources):
    target = _first(resources, "aws:cloudwatch/eventTarget:EventTarget")
    target["inputs"]["retryPolicy"] = {"maximumRetryAttempts": 186, "maximumEventAgeInSeconds": 59}
    text = show(api_shapes.check_api_constraints([target]))
    assert "Targets[0].RetryPolicy.MaximumRetryAttempts" in text and "above the API maximum 185" in text
    assert "Targets[0].RetryPolicy.MaximumEventAgeInSeconds" in text and "below the API minimum 60" in text


def test_schedule_with_bad_flexible_window_mode_is_reported(resources):
    schedule = _first(resources, "aws:scheduler/schedule:Schedule")
    schedule["inputs"]["flexibleTimeWindow"] = {"mode": "SOMETIMES"}
    schedule["inputs"]["target"]["roleArn"] = "not-an-arn"
    text = show(api_shapes.check_api_constraints([schedule]))
    assert "FlexibleTimeWindow.Mode" in text and "Target.RoleArn" in text


def test_unmapped_input_is_reported_not_skipped(resources):
    queue = _first(resources, "aws:sqs/queue:Queue")
    queue["inputs"]["visibilityTimeoutSecs"] = 30  # a typo'd input name
    findings = api_shapes.check_api_constraints([queue])
    assert [f.path for f in findings] == ["visibilityTimeoutSecs"] and "no API mapping" in findings[0].message


def test_prose_constraints_are_checked(resources):
    queue = _first(resources, "aws:sqs/queue:Queue")
    queue["inputs"]["messageRetentionSeconds"] = 30 * 24 * 3600
    group = _first(resources, "aws:cloudwatch/logGroup:LogGroup")
    group["inputs"]["retentionInDays"] = 10
    text = show(api_shapes.check_api_constraints([queue, group]))
    assert "MessageRetentionPeriod must be an integer from 60 to 1209600" in text
    assert "10 is not an allowed retention" in text


def test_unmapped_type_is_reported():
    resources = [_resource("aws:lambda/function:Function", {})]
    assert api_shapes.unmapped_types(resources) == ["aws:lambda/function:Function"]
    assert [f.check for f in checks.check_all(resources)] == ["coverage"]
    assert api_shapes.unmapped_types([_resource("datalake:x:Component", {})]) == []


def test_unknown_values_are_reported(resources):
    job = _first(resources, "aws:glue/job:Job")
    job["inputs"]["roleArn"] = PULUMI_UNKNOWN
    assert [f.path for f in check_unknowns([job])] == ["roleArn"]
    assert "unknown" in show(api_shapes.check_api_constraints([job]))


def test_invalid_cron_is_reported(resources):
    schedule = _first(resources, "aws:scheduler/schedule:Schedule")
    schedule["inputs"]["scheduleExpression"] = "cron(0 25 * * ? *)"
    rule = _resource("aws:cloudwatch/eventRule:EventRule", {"name": "r", "scheduleExpression": "cron(0 2 * * * *)"})
    findings = patterns.check_schedule_expressions([schedule, rule])
    assert [f.type for f in findings] == ["aws:scheduler/schedule:Schedule", "aws:cloudwatch/eventRule:EventRule"]
    assert "scheduler would refuse" in findings[0].message and "events-rule would refuse" in findings[1].message


def test_invalid_event_pattern_is_reported(resources):
    rule = _first(resources, "aws:cloudwatch/eventRule:EventRule")
    rule["inputs"]["eventPattern"] = json.dumps({"detail": {"object": {"key": [{"prefix": "a", "suffix": ".csv"}]}}})
    findings = patterns.check_event_patterns([rule])
    assert len(findings) == 1 and "EventBridge would refuse it" in findings[0].message


def test_bad_asl_definition_is_reported(resources):
    machine = _first(resources, "aws:sfn/stateMachine:StateMachine")
    definition = json.loads(machine["inputs"]["definition"])
    definition["StartAt"] = "NoSuchState"
    machine["inputs"]["definition"] = json.dumps(definition)
    findings = runners.check_state_machines([machine])
    assert any("StartAt value NoSuchState not found" in f.message for f in findings), show(findings)
    machine["inputs"]["definition"] = "[1, 2]"  # statelint itself passes non-objects
    assert "must be a JSON object" in show(runners.check_state_machines([machine]))
    machine["inputs"]["definition"] = "{not json"
    assert "not JSON" in show(runners.check_state_machines([machine]))


STAR_GET_OBJECT = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
}


def test_resource_star_on_get_object_is_reported_by_the_audit_and_by_parliament(resources):
    policy = _first(resources, "aws:iam/rolePolicy:RolePolicy")
    policy["inputs"]["policy"] = json.dumps(STAR_GET_OBJECT)
    wildcard = iam.check_wildcard_resources([policy])
    assert len(wildcard) == 1 and "s3:GetObject" in wildcard[0].message
    linted = iam.check_iam_documents([policy])
    assert [f.check for f in linted] == ["parliament"] and "RESOURCE_STAR" in linted[0].message


def test_wildcard_audit_rules():
    def doc(*statements):
        return {"Version": "2012-10-17", "Statement": list(statements)}

    allowed = {"Effect": "Allow", "Action": ["cloudwatch:PutMetricData"], "Resource": "*"}
    mixed = {"Effect": "Allow", "Action": ["cloudwatch:PutMetricData", "glue:StartJobRun"], "Resource": "*"}
    arn_star = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::*"}
    not_resource = {"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::b/*"}
    deny = {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}
    assert iam.wildcard_violations(doc(allowed, deny)) == []
    problems = iam.wildcard_violations(doc(mixed, arn_star, not_resource))
    assert len(problems) == 3 and "glue:StartJobRun" in problems[0] and "PutMetricData" not in problems[0]


def test_parliament_reports_unknown_actions_and_malformed_documents(resources):
    policy = _first(resources, "aws:iam/rolePolicy:RolePolicy")
    policy["inputs"]["policy"] = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:GetObjekt", "Resource": "arn:aws:s3:::b/*"}],
        }
    )
    assert "UNKNOWN_ACTION" in show(iam.check_iam_documents([policy]))
    policy["inputs"]["policy"] = "[]"
    assert "not a policy document" in show(iam.check_iam_documents([policy]))


def test_trust_and_key_policies_get_structural_checks(resources):
    role = _first(resources, "aws:iam/role:Role")
    trust = json.loads(role["inputs"]["assumeRolePolicy"])
    trust["Statement"][0]["Resource"] = "*"
    trust["Statement"][0]["Action"] = ["sts:AssumeRole", "s3:GetObject"]
    trust["Statement"][0]["Principal"] = {"Service": "glue.example.com"}
    role["inputs"]["assumeRolePolicy"] = json.dumps(trust)
    text = show(iam.check_iam_documents([role]))
    assert "must not have Resource" in text and "only sts: actions" in text and "not an AWS service principal" in text

    key = _first(resources, "aws:kms/key:Key")
    policy = json.loads(key["inputs"]["policy"])
    policy["Statement"][0]["Resource"] = "arn:aws:kms:eu-west-1:123456789012:key/x"
    policy["Statement"][1]["Action"] = "kms:Decrypto"
    key["inputs"]["policy"] = json.dumps(policy)
    text = show(iam.check_iam_documents([key]))
    assert "Resource must be '*'" in text and "unknown action 'kms:Decrypto'" in text


# ---------------------------------------------------------------------------------------------
# The documented Resource "*" exceptions


def test_wildcard_exceptions_have_no_resource_level_permissions():
    """Each exception is an action for which the Service Authorization Reference (parliament's
    copy) lists no resource type: only "*" can grant it."""
    parliament = iam._import_parliament()
    services = {s["prefix"]: s for s in parliament.iam_definition}
    for action, reason in iam.WILDCARD_RESOURCE_EXCEPTIONS.items():
        service, name = action.split(":")
        privilege = next(p for p in services[service]["privileges"] if p["privilege"].lower() == name.lower())
        resource_types = [r["resource_type"] for r in privilege["resource_types"] if r["resource_type"]]
        assert resource_types == [], f"{action} supports resource types {resource_types}; scope it instead"
        assert reason


def test_wildcard_exceptions_cover_what_data_platform_iam_grants_on_star():
    from data_platform.components import iam as platform_iam

    granted_on_star = {"cloudwatch:PutMetricData", *platform_iam.LOG_DELIVERY_ACTIONS, *platform_iam.XRAY_ACTIONS}
    assert (
        platform_iam.PUT_METRIC_DATA_RESOURCE == platform_iam.LOG_DELIVERY_RESOURCE == platform_iam.XRAY_RESOURCE == "*"
    )
    assert granted_on_star == set(iam.WILDCARD_RESOURCE_EXCEPTIONS)


def test_alarm_metric_queries_map_to_metric_stat():
    alarm = _resource(
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        {
            "name": "a",
            "comparisonOperator": "GreaterThanThreshold",
            "evaluationPeriods": 1,
            "threshold": 0,
            "metricQueries": [
                {
                    "id": "m1",
                    "returnData": True,
                    "metric": {
                        "metricName": "ExecutionsFailed",
                        "namespace": "AWS/States",
                        "period": 300,
                        "stat": "Sum",
                        "dimensions": {"StateMachineArn": "arn:aws:states:eu-west-1:123456789012:stateMachine:x"},
                    },
                }
            ],
        },
    )
    request, problems = api_shapes.to_request(API_MAPPINGS[alarm["type"]], alarm["inputs"])
    assert problems == []
    assert request["Metrics"][0]["MetricStat"] == {
        "Metric": {
            "Namespace": "AWS/States",
            "MetricName": "ExecutionsFailed",
            "Dimensions": [
                {"Name": "StateMachineArn", "Value": "arn:aws:states:eu-west-1:123456789012:stateMachine:x"}
            ],
        },
        "Period": 300,
        "Stat": "Sum",
    }
    assert api_shapes.check_api_constraints([alarm]) == []
    alarm["inputs"]["metricQueries"][0]["metric"]["namespace"] = ":bad"
    assert "Metrics[0].MetricStat.Metric.Namespace" in show(api_shapes.check_api_constraints([alarm]))


def test_queue_topic_and_bucket_names_follow_the_documented_rules(resources):
    queue = _first(resources, "aws:sqs/queue:Queue")
    queue["inputs"]["name"] = "q" * 81
    bucket = _first(resources, "aws:s3/bucket:Bucket")
    bucket["inputs"]["bucket"] = "Data_Lake"
    text = show(api_shapes.check_api_constraints([queue, bucket]))
    assert "QueueName: sqs CreateQueue: sqs queue name" in text and "AWS allows at most 80" in text
    assert "Bucket: s3 CreateBucket: s3 bucket name 'Data_Lake' may contain only" in text


def test_checks_import_only_the_standard_library_and_the_contract():
    """The policy pack loads every check at start; the heavy linters load only when a check
    that needs them runs (a pack evaluation loads no Spark, no pydantic, no Pulumi program)."""
    import subprocess

    heavy = ("botocore", "regex", "parliament", "statelint", "pydantic", "pulumi", "pulumi_aws", "yaml")
    code = (
        "import sys, checks, checks.api_shapes, data_platform.contract.runner_errors; "
        "from checks.runners import retry_problems; retry_problems([]); "
        "assert not [m for m in sys.modules if m.startswith(('data_platform.', 'etl')) "
        "and not m.startswith('data_platform.contract')]; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r}))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------------------------------------
# AWS behaviour across resources (checks.BEHAVIOUR_CHECKS)


def test_every_physical_name_is_unique(resources):
    from checks.names import check_unique_names, physical_identity

    named = [r for r in resources if physical_identity(r) is not None]
    assert len(named) > 100, "too few named resources: the check would be vacuous"
    assert check_unique_names(resources) == []


def test_two_roles_with_one_name_are_reported(resources):
    from checks.names import check_unique_names

    role = copy.deepcopy(_first(resources, "aws:iam/role:Role"))
    role["name"] = "a-second-trigger-role"
    findings = check_unique_names([*resources, role])
    assert [f.name for f in findings] == ["a-second-trigger-role"], show(findings)
    assert "EntityAlreadyExists" in findings[0].message


def test_a_reused_trigger_key_would_synthesize_clashing_names():
    """What the config check prevents: the program itself would declare two roles and two
    queues with one name (synthesized from a config that skips validation)."""
    from checks.names import check_unique_names
    from data_platform.config import PlatformConfig, load_stack
    from data_platform.synth import synthesize

    stack = load_stack("dev", REPO)
    raw = stack.platform.model_dump(mode="json")
    raw["schedules"]["sales_daily"] = {"expression": "cron(0 5 * * ? *)", "job": "sales_daily"}
    broken = stack.model_copy(update={"platform": PlatformConfig.model_validate(raw)})
    clashing = {(f.type, f.message.split("'")[1]) for f in check_unique_names(synthesize(broken))}
    assert ("aws:iam/role:Role", "data-lake-dev-sales_daily-events") in clashing
    assert ("aws:sqs/queue:Queue", "data-lake-dev-sales_daily-dlq") in clashing


@pytest.mark.parametrize(
    "check",
    [
        "replace-safe",
        "confused-deputy",
        "glue-logging",
        "alerts",
        "runner-retries",
        "iceberg-tables",
        "glue-iceberg",
        "catalog-grants",
    ],
)
def test_the_aws_behaviour_checks_pass_on_both_stacks(resources, check):
    from checks import BEHAVIOUR_CHECKS as CHECKS

    assert CHECKS[check](resources) == []


def test_resources_aws_cannot_update_are_replaced_delete_first(resources):
    """The list: every resource of a type AWS cannot update in place, with a fixed name."""
    from checks.names import check_replace_safe_names, replace_only_resources

    found = {
        (r["type"].split(":")[-1], r["inputs"]["name"], r["options"]["deleteBeforeReplace"])
        for r in replace_only_resources(resources)
    }
    names = {r["inputs"]["name"] for r in of_type(resources, "aws:glue/job:Job")}
    assert found == {("SecurityConfiguration", name, True) for name in names}
    broken = copy.deepcopy(_first(resources, "aws:glue/securityConfiguration:SecurityConfiguration"))
    broken["options"]["deleteBeforeReplace"] = False
    findings = check_replace_safe_names([broken])
    assert len(findings) == 1 and "delete_before_replace" in findings[0].message


def _policy_edit(resource, edit):
    document = json.loads(resource["inputs"]["policy"])
    edit(document)
    resource["inputs"]["policy"] = json.dumps(document)
    return resource


def test_service_statements_without_source_conditions_are_reported(resources):
    from checks.iam import check_confused_deputy

    key = copy.deepcopy(_first(resources, "aws:kms/key:Key"))

    def drop_account(document):
        for statement in document["Statement"]:
            if statement.get("Sid") == "RulesPublishToTopicWithKey":
                del statement["Condition"]["StringEquals"]

    _policy_edit(key, drop_account)
    queue = copy.deepcopy(_first(resources, "aws:sqs/queuePolicy:QueuePolicy"))
    _policy_edit(queue, lambda d: d["Statement"][0]["Condition"].pop("ArnEquals"))
    messages = [f.message for f in check_confused_deputy([key, queue])]
    assert len(messages) == 2, messages
    assert "events.amazonaws.com may act for any account" in messages[0]
    assert "sets aws:SourceArn" in messages[1]


def test_glue_logging_faults_are_reported(resources):
    from checks.glue import check_glue_logging

    job = _first(resources, "aws:glue/job:Job")
    group = f"{job['inputs']['defaultArguments']['--custom-logGroup-prefix']}/output"
    broken = copy.deepcopy(resources)
    target = next(r for r in broken if r["name"] == job["name"])
    target["inputs"]["defaultArguments"]["--continuous-log-logGroup"] = "/aws-glue/jobs/x"
    broken = [
        r for r in broken if not (r["type"] == "aws:cloudwatch/logGroup:LogGroup" and r["inputs"]["name"] == group)
    ]
    configuration = next(
        r
        for r in broken
        if r["type"] == "aws:glue/securityConfiguration:SecurityConfiguration"
        and r["inputs"]["name"] == target["inputs"]["securityConfiguration"]
    )
    configuration["inputs"]["encryptionConfiguration"]["cloudwatchEncryption"] = {"cloudwatchEncryptionMode": "SSE-KMS"}
    role = target["inputs"]["roleArn"].rsplit("/", 1)[-1]
    policy = next(r for r in broken if r["type"] == "aws:iam/rolePolicy:RolePolicy" and r["inputs"]["role"] == role)
    _policy_edit(
        policy, lambda d: d.__setitem__("Statement", [s for s in d["Statement"] if s.get("Sid") != "WriteJobLogs"])
    )
    messages = "\n".join(f.message for f in check_glue_logging(broken) if f.name == job["name"])
    assert "Glue 4.0 and earlier only" in messages
    assert f"Glue 5.0 writes {group}, which the stack does not declare" in messages
    assert "encrypts CloudWatch logs" in messages
    assert "may not logs:PutLogEvents" in messages


def test_alerting_on_glue_attempts_or_missing_a_runner_is_reported(resources):
    from checks.runners import check_alerts_per_run

    broken = copy.deepcopy(resources)
    rule = next(r for r in broken if r["name"].endswith("-run-failures"))
    pattern = json.loads(rule["inputs"]["eventPattern"])
    pattern["detail"]["stateMachineArn"] = pattern["detail"]["stateMachineArn"][1:]
    rule["inputs"]["eventPattern"] = json.dumps(pattern)
    glue_rule = copy.deepcopy(rule)
    glue_rule["inputs"]["eventPattern"] = json.dumps(
        {
            "source": ["aws.glue"],
            "detail-type": ["Glue Job State Change"],
            "detail": {"state": ["FAILED", "TIMEOUT", "STOPPED"]},
        }
    )
    messages = [f.message for f in check_alerts_per_run([*broken, glue_rule])]
    assert sum("alerts on Glue job-state changes" in m for m in messages) == 1, messages
    assert sum("no alert rule follows runner" in m for m in messages) == 1, messages


def test_runner_retries_that_do_not_fit_the_error_are_reported():
    from checks.runners import retry_problems
    from data_platform.components.runner_definition import no_retry_block, retry_block, run_retry_block

    assert retry_problems([retry_block(), no_retry_block(), run_retry_block(2)]) == []
    # Without the no-retry rule, States.TaskFailed re-runs an AccessDenied twice.
    assert any(
        "Glue.AccessDeniedException will not go away" in p for p in retry_problems([retry_block(), run_retry_block(2)])
    )
    # A permanent error among the capacity errors would wait hours.
    slow = {**retry_block(), "ErrorEquals": [*retry_block()["ErrorEquals"], "Glue.InvalidInputException"]}
    problems = retry_problems([slow, no_retry_block()])
    assert any("which are not capacity errors" in p and "InvalidInput" in p for p in problems), problems


def test_alert_coverage_is_not_judged_on_unknown_arns(resources):
    """A first `pulumi preview` knows no ARNs: the pack must not call every runner unalerted."""
    from checks.runners import check_alerts_per_run

    preview = copy.deepcopy(resources)
    for resource in preview:
        if resource["type"] == "aws:cloudwatch/eventTarget:EventTarget":
            resource["inputs"]["arn"] = PULUMI_UNKNOWN
        if resource["type"] == "aws:cloudwatch/eventRule:EventRule" and resource["name"].endswith("-run-failures"):
            resource["inputs"]["eventPattern"] = PULUMI_UNKNOWN
    assert check_alerts_per_run(preview) == []


# ---------------------------------------------------------------------------------------------
# Silver and gold as Iceberg tables of the Glue Data Catalog


def _env(resources) -> str:
    database = next(r for r in resources if r["type"] == "aws:glue/catalogDatabase:CatalogDatabase")
    return database["inputs"]["name"].removeprefix("data_lake_")


def _named(resources, type_token: str, name: str) -> dict[str, Any]:
    return next(r for r in resources if r["type"] == type_token and r["inputs"].get("name") == name)


def test_an_iceberg_table_request_is_checked_against_create_table(resources):
    table = copy.deepcopy(_first(resources, "aws:glue/catalogTable:CatalogTable", name="products"))
    request, problems = api_shapes.to_request(api_mappings.API_MAPPINGS[table["type"]], table["inputs"])
    iceberg = request["OpenTableFormatInput"]["IcebergInput"]
    fields = iceberg["CreateIcebergTableInput"]["Schema"]["Fields"]
    assert problems == [] and next(f for f in fields if f["Name"] == "attributes")["Type"]["type"] == "map"
    assert api_shapes.validate_request("glue", "CreateTable", request) == []
    table_input = table["inputs"]["openTableFormatInput"]["icebergInput"]
    table_input["metadataOperation"] = "UPDATE"
    table_input["icebergTableInput"]["schema"]["fields"][0]["type"] = "string"  # not JSON text: the provider fails
    del table_input["icebergTableInput"]["location"]
    messages = [f"{f.path}: {f.message}" for f in api_shapes.check_api_constraints([table])]
    assert any("MetadataOperation" in m and "'UPDATE' is not one of" in m for m in messages), messages
    assert any("Fields[0].Type" in m and "is not JSON" in m for m in messages), messages
    assert any("CreateIcebergTableInput.Location" in m and "required member" in m for m in messages), messages


def test_a_missing_misplaced_or_hive_table_is_reported(resources):
    from checks.glue import check_iceberg_tables

    env = _env(resources)
    broken = copy.deepcopy(resources)
    broken = [
        r
        for r in broken
        if not (r["type"] == "aws:glue/catalogTable:CatalogTable" and r["inputs"]["name"] == "customers")
    ]
    sales = _named(broken, "aws:glue/catalogTable:CatalogTable", "sales")
    sales["inputs"]["openTableFormatInput"]["icebergInput"]["icebergTableInput"]["location"] = (
        f"s3://data-lake-{env}-gold/sales"
    )
    products = _named(broken, "aws:glue/catalogTable:CatalogTable", "products")
    del products["inputs"]["openTableFormatInput"]
    messages = {f.name: f.message for f in check_iceberg_tables(broken)}
    assert "which the stack does not declare" in messages[f"data_lake_{env}.customers"]
    assert f"is not the table's location s3://<data-lake-{env}-silver>/sales" in messages[sales["name"]]
    assert "not declared as an Iceberg table" in messages[products["name"]]
    assert len(messages) == 3


def test_a_job_without_iceberg_or_with_a_foreign_warehouse_is_reported(resources):
    from checks.glue import check_glue_iceberg

    env = _env(resources)
    broken = copy.deepcopy(resources)
    job = _named(broken, "aws:glue/job:Job", f"data-lake-{env}-sales_etl")
    del job["inputs"]["defaultArguments"]["--datalake-formats"]
    other = _named(broken, "aws:glue/job:Job", f"data-lake-{env}-table_maintenance")
    other["inputs"]["defaultArguments"]["--conf"] = (
        other["inputs"]["defaultArguments"]["--conf"]
        .replace("S3FileIO", "HadoopFileIO")
        .replace(f"s3://data-lake-{env}-silver/", f"s3://data-lake-{env}-bronze/")
    )
    messages = [(f.name, f.message) for f in check_glue_iceberg(broken)]
    assert (job["name"], "Glue loads no Iceberg runtime: set --datalake-formats iceberg") in messages
    assert (other["name"], "no Spark catalog with io-impl=org.apache.iceberg.aws.s3.S3FileIO") in messages
    assert any(name == other["name"] and f"warehouse 's3://data-lake-{env}-bronze/'" in m for name, m in messages)
    assert len(messages) == 3


@pytest.mark.parametrize(
    ("resource", "why"),
    [
        ("*", "no wildcards"),
        ("arn:aws:glue:eu-west-1:123456789012:table/data_lake_{env}/*", "no wildcards"),
        ("arn:aws:glue:eu-west-1:123456789012:database/other_db", "not the stack's database data_lake_{env}"),
        ("arn:aws:glue:eu-west-1:123456789012:table/other_db/sales", "not a table the stack declares"),
        ("arn:aws:glue:eu-west-1:123456789012:table/data_lake_{env}/secrets", "not a table the stack declares"),
    ],
)
def test_catalog_grants_beyond_the_stacks_tables_are_reported(resources, resource, why):
    from checks.glue import check_catalog_grants

    env = _env(resources)
    resource, why = resource.format(env=env), why.format(env=env)
    broken = copy.deepcopy(resources)
    policy = next(
        r
        for r in broken
        if r["type"] == "aws:iam/rolePolicy:RolePolicy" and r["inputs"]["role"] == f"data-lake-{env}-sales_etl-job"
    )
    _policy_edit(
        policy, lambda d: d["Statement"].append({"Effect": "Allow", "Action": "glue:GetTable", "Resource": resource})
    )
    [finding] = check_catalog_grants(broken)
    assert finding.name == f"data-lake-{env}-job-sales_etl-job"
    assert why in finding.message and repr(resource) in finding.message
