"""The policy pack (policy/): its rules over both stacks' synthesized resources (all pass,
bar the known component findings listed below) and over deliberately broken ones (each rule
fails with a message that says what to fix), plus the pulumi-policy wrappers."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
POLICY_DIR = REPO / "policy"
if str(POLICY_DIR) not in sys.path:
    sys.path.insert(0, str(POLICY_DIR))

import datalake_policies as rules  # noqa: E402
from test_checks import STACKS, synthesized  # noqa: E402  (one synthesis per stack per process)

# Findings against the component code that are reported to its owner and not yet fixed:
# (rule, logical-name pattern, why). The test fails when one disappears, so the list stays true.
KNOWN_COMPONENT_FINDINGS: tuple[tuple[str, str, str], ...] = ()


def _load_pack_main():
    spec = importlib.util.spec_from_file_location("datalake_policy_pack_main", POLICY_DIR / "__main__.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # __name__ is not "__main__": the PolicyPack server does not start
    return module


pack = _load_pack_main()


@pytest.fixture(params=STACKS)
def stack(request) -> list[dict[str, Any]]:
    """A fresh copy per test (tests break resources in place); synthesized once per process."""
    return copy.deepcopy(list(synthesized(request.param)))


def find(resources, type_token: str, name_part: str = "") -> dict[str, Any]:
    for resource in resources:
        if resource["type"] == type_token and name_part in resource["name"]:
            return resource
    raise AssertionError(f"no {type_token} named *{name_part}* in synth output")


def run_all(resources) -> dict[str, list[rules.Violation]]:
    return rules.check_resources(resources)


def messages(violations) -> str:
    return "\n".join(str(v) for v in violations)


def _known(rule: str, resource: str | None) -> bool:
    return any(rule == r and resource and re.match(p, resource) for r, p, _ in KNOWN_COMPONENT_FINDINGS)


# ---------------------------------------------------------------------------------------------
# Both stacks pass


def test_every_rule_passes_on_the_synthesized_stack(stack):
    results = run_all(stack)
    unexpected = {rule: [str(v) for v in found if not _known(rule, v.resource)] for rule, found in results.items()}
    assert {rule: found for rule, found in unexpected.items() if found} == {}
    for rule, pattern, why in KNOWN_COMPONENT_FINDINGS:
        assert any(re.match(pattern, v.resource or "") for v in results[rule]), (
            f"known finding fixed ({why}): remove it from KNOWN_COMPONENT_FINDINGS"
        )


def test_rules_see_what_they_judge(stack):
    """Guard against vacuous passes: the stack view links what the rules need."""
    resources = rules.normalize(stack)
    views, problems = rules._bucket_views(resources)
    assert problems == []
    assert len(views) == 5 and all(
        v.encryption and v.public_access and v.versioning and v.policies for v in views.values()
    )
    assert [v.bucket.props["bucket"] for v in views.values() if v.is_access_log_target] == [
        next(r for r in stack if r["name"].endswith("storage-access_logs"))["inputs"]["bucket"]
    ]
    roles = rules._of_type(resources, rules.ROLE)
    for job in rules._of_type(resources, rules.GLUE_JOB):
        role = rules._link(job, "roleArn", roles, by_name=False, by_parent=True)
        assert role is not None and rules._role_documents(role, resources, roles)
    for machine in rules._of_type(resources, rules.STATE_MACHINE):
        assert rules._link(machine, "roleArn", roles, by_name=False, by_parent=True) is not None


# ---------------------------------------------------------------------------------------------
# Buckets


def _set_policy(resource: dict[str, Any], document: dict[str, Any]) -> None:
    resource["inputs"]["policy"] = json.dumps(document)


def test_data_bucket_with_sse_s3_fails(stack):
    encryption = find(stack, rules.BUCKET_SSE, "storage-silver")
    encryption["inputs"]["rules"] = [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]
    found = rules.buckets_sse_kms(stack)
    assert len(found) == 1 and found[0].resource == encryption["name"]
    assert "uses 'AES256'; data buckets must use SSE-KMS" in found[0].message
    assert "-silver" in found[0].message


def test_kms_without_customer_key_or_bucket_key_fails(stack):
    encryption = find(stack, rules.BUCKET_SSE, "storage-gold")
    encryption["inputs"]["rules"] = [
        {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}, "bucketKeyEnabled": False}
    ]
    text = messages(rules.buckets_sse_kms(stack))
    assert "AWS managed key aws/s3" in text and "bucket_key_enabled is not true" in text


def test_bucket_without_encryption_configuration_fails(stack):
    stack.remove(find(stack, rules.BUCKET_SSE, "storage-bronze"))
    found = rules.buckets_sse_kms(stack)
    assert len(found) == 1 and "has no default encryption configuration" in found[0].message


def test_access_log_bucket_is_the_sse_s3_exception_and_only_it(stack):
    assert rules.buckets_sse_kms(stack) == []
    # Without the BucketLogging resources, nothing makes the access-log bucket special.
    without_logging = [r for r in stack if r["type"] != rules.BUCKET_LOGGING]
    found = rules.buckets_sse_kms(without_logging)
    assert len(found) == 1 and "access_logs" in found[0].resource and "AES256" in found[0].message


def test_public_access_block_with_a_flag_off_or_missing_fails(stack):
    block = find(stack, rules.BUCKET_PAB, "storage-bronze")
    block["inputs"]["restrictPublicBuckets"] = False
    found = rules.buckets_block_public_access(stack)
    assert len(found) == 1 and "restrictPublicBuckets" in found[0].message
    stack.remove(block)
    assert "has no public access block" in messages(rules.buckets_block_public_access(stack))


def test_bucket_policy_without_tls_deny_fails(stack):
    policy = find(stack, rules.BUCKET_POLICY, "storage-bronze")
    document = json.loads(policy["inputs"]["policy"])
    document["Statement"][0]["Condition"] = {"Bool": {"aws:SecureTransport": "true"}}
    _set_policy(policy, document)
    found = rules.buckets_tls_only(stack)
    assert len(found) == 1 and "TLS-only" in found[0].message
    document["Statement"][0]["Condition"] = {"Bool": {"aws:SecureTransport": "false"}}
    document["Statement"][0]["Resource"] = document["Statement"][0]["Resource"][:1]  # bucket, not its objects
    _set_policy(policy, document)
    assert len(rules.buckets_tls_only(stack)) == 1
    stack.remove(policy)
    assert "has no bucket policy" in messages(rules.buckets_tls_only(stack))


def test_access_log_bucket_policy_also_needs_tls(stack):
    policy = find(stack, rules.BUCKET_POLICY, "access_logs-policy")
    document = json.loads(policy["inputs"]["policy"])
    document["Statement"] = [s for s in document["Statement"] if s.get("Effect") != "Deny"]
    _set_policy(policy, document)
    found = rules.buckets_tls_only(stack)
    assert len(found) == 1 and "access-logs" in found[0].message


def test_versioning_suspended_or_missing_fails(stack):
    versioning = find(stack, rules.BUCKET_VERSIONING, "storage-artifacts")
    versioning["inputs"]["versioningConfiguration"] = {"status": "Suspended"}
    found = rules.buckets_versioned(stack)
    assert len(found) == 1 and "'Suspended', not 'Enabled'" in found[0].message
    stack.remove(versioning)
    assert "has no versioning" in messages(rules.buckets_versioned(stack))


def test_inline_bucket_settings_count_too():
    bucket = (
        "aws:s3/bucket:Bucket",
        "b",
        {
            "bucket": "data-lake-x-bronze",
            "serverSideEncryptionConfiguration": {
                "rule": {
                    "applyServerSideEncryptionByDefault": {
                        "sseAlgorithm": "aws:kms",
                        "kmsMasterKeyId": "arn:aws:kms:eu-west-1:1:key/k",
                    },
                    "bucketKeyEnabled": True,
                }
            },
            "versioning": {"enabled": True},
            "policy": json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": "*",
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    ],
                }
            ),
        },
    )
    assert rules.buckets_sse_kms([bucket]) == []
    assert rules.buckets_versioned([bucket]) == []
    assert rules.buckets_tls_only([bucket]) == []
    assert "no public access block" in messages(rules.buckets_block_public_access([bucket]))


# ---------------------------------------------------------------------------------------------
# Topics, queues, log groups


def test_unencrypted_topic_and_queue_fail(stack):
    topic = find(stack, rules.TOPIC)
    del topic["inputs"]["kmsMasterKeyId"]
    assert "is not encrypted at rest" in messages(rules.sns_topic_encrypted(topic["type"], topic["inputs"]))
    queue = find(stack, rules.QUEUE)
    queue["inputs"].pop("sqsManagedSseEnabled", None)
    queue["inputs"].pop("kmsMasterKeyId", None)
    found = rules.sqs_queue_encrypted(queue["type"], queue["inputs"])
    assert len(found) == 1 and "sqs_managed_sse_enabled" in found[0] and queue["inputs"]["name"] in found[0]
    queue["inputs"]["kmsMasterKeyId"] = "alias/data"
    assert rules.sqs_queue_encrypted(queue["type"], queue["inputs"]) == []


def test_log_group_without_retention_fails(stack):
    group = find(stack, rules.LOG_GROUP)
    group["inputs"].pop("retentionInDays")
    assert "keeps logs forever" in messages(rules.log_group_retention(group["type"], group["inputs"]))
    group["inputs"]["retentionInDays"] = 42
    assert "not a value CloudWatch Logs accepts" in messages(rules.log_group_retention(group["type"], group["inputs"]))


# ---------------------------------------------------------------------------------------------
# IAM


STAR_GET_OBJECT = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}


def test_resource_star_beyond_the_exceptions_fails(stack):
    policy = find(stack, rules.ROLE_POLICY, "runner-sales_etl")
    assert rules.iam_no_wildcard_resource(policy["type"], policy["inputs"]) == []  # its logs:* "*" is allowed
    document = json.loads(policy["inputs"]["policy"])
    document["Statement"].append(STAR_GET_OBJECT)
    _set_policy(policy, document)
    found = rules.iam_no_wildcard_resource(policy["type"], policy["inputs"])
    assert len(found) == 1 and "s3:GetObject" in found[0] and "WILDCARD_RESOURCE_EXCEPTIONS" in found[0]


def test_resource_star_in_a_queue_policy_fails(stack):
    policy = find(stack, "aws:sqs/queuePolicy:QueuePolicy")
    document = json.loads(policy["inputs"]["policy"])
    document["Statement"][0]["Resource"] = "*"
    _set_policy(policy, document)
    assert "sqs:SendMessage" in messages(rules.iam_no_wildcard_resource(policy["type"], policy["inputs"]))


def _edit_job_policy(stack, job: str, statement: dict[str, Any]) -> dict[str, Any]:
    policy = find(stack, rules.ROLE_POLICY, f"job-{job}-role-policy")
    document = json.loads(policy["inputs"]["policy"])
    document["Statement"].append(statement)
    _set_policy(policy, document)
    return policy


def _bucket(stack, purpose: str) -> str:
    return find(stack, rules.BUCKET, f"storage-{purpose}")["inputs"]["bucket"]


def test_job_role_reading_another_jobs_prefix_fails(stack):
    bronze = _bucket(stack, "bronze")
    policy = _edit_job_policy(
        stack,
        "sales_etl",
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bronze}/products/*"},
    )
    found = rules.glue_job_roles_scoped(stack)
    assert len(found) == 1 and found[0].resource == policy["name"]
    assert "the input prefix of Glue job" in found[0].message and "product_catalog" in found[0].message


def test_job_role_writing_bronze_fails(stack):
    bronze = _bucket(stack, "bronze")
    _edit_job_policy(
        stack,
        "product_catalog",
        {"Effect": "Allow", "Action": "s3:DeleteObject", "Resource": f"arn:aws:s3:::{bronze}/products/*"},
    )
    assert "jobs never modify bronze" in messages(rules.glue_job_roles_scoped(stack))


def test_job_role_writing_another_dataset_fails(stack):
    silver = _bucket(stack, "silver")
    _edit_job_policy(
        stack,
        "product_catalog",
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{silver}/sales/*"},
    )
    text = messages(rules.glue_job_roles_scoped(stack))
    assert "writes several datasets (products, sales)" in text
    assert "writable by the roles of several Glue jobs" in text and "the dataset of Glue job" in text


def test_maintenance_role_may_touch_only_the_tables_it_maintains(stack):
    silver, bronze = _bucket(stack, "silver"), _bucket(stack, "bronze")
    assert rules.glue_job_roles_scoped(stack) == []  # every table's location, no owner conflict
    _edit_job_policy(
        stack,
        "table_maintenance",
        {"Effect": "Allow", "Action": "s3:DeleteObject", "Resource": f"arn:aws:s3:::{silver}/_ledger/sales_etl/*"},
    )
    _edit_job_policy(
        stack,
        "table_maintenance",
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bronze}/sales/*"},
    )
    text = messages(rules.glue_job_roles_scoped(stack))
    assert "_ledger/sales_etl/*: not the location of a table it maintains" in text
    assert "the maintenance job touches no bronze object" in text


def test_job_role_acting_on_a_whole_bucket_or_reading_others_code_fails(stack):
    silver, artifacts = _bucket(stack, "silver"), _bucket(stack, "artifacts")
    _edit_job_policy(
        stack,
        "customer_import",
        {"Effect": "Allow", "Action": "s3:PutBucketPolicy", "Resource": f"arn:aws:s3:::{silver}"},
    )
    _edit_job_policy(
        stack,
        "customer_import",
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{artifacts}/glue/jobs/sales_etl/*"},
    )
    text = messages(rules.glue_job_roles_scoped(stack))
    assert "the whole bucket" in text and "outside its own code, temp and Data Docs folders" in text


def test_job_role_writing_data_docs_outside_its_stacks_prefix_fails(stack):
    """The job's `--data_docs_prefix` of the artifacts bucket is its own; another stack's, or
    the whole Data Docs root, is not."""
    artifacts = _bucket(stack, "artifacts")
    env = "prod" if "prod" in artifacts else "dev"
    other = "dev" if env == "prod" else "prod"
    assert rules.glue_job_roles_scoped(stack) == []  # the stack's own grant passes
    for resource in (f"data-docs/{other}/*", "data-docs/*"):
        _edit_job_policy(
            stack,
            "sales_etl",
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{artifacts}/{resource}"},
        )
    text = messages(rules.glue_job_roles_scoped(stack))
    assert f"s3://{artifacts}/data-docs/{other}/*: outside its own code, temp and Data Docs folders" in text
    assert f"s3://{artifacts}/data-docs/*: outside its own code, temp and Data Docs folders" in text
    assert f"data-docs/{env}/" in text  # the message names the job's own folders


def test_job_role_listing_its_buckets_only_under_a_prefix_fails(stack):
    """Today's shape before the fix: ListBucket only with an s3:prefix condition."""
    assert rules.glue_job_roles_list_their_buckets(stack) == []
    policy = find(stack, rules.ROLE_POLICY, "job-sales_etl-role-policy")
    document = json.loads(policy["inputs"]["policy"])
    for statement in document["Statement"]:
        if statement.get("Action") == "s3:ListBucket":
            statement["Condition"] = {"StringLike": {"s3:prefix": ["sales/*"]}}
    _set_policy(policy, document)
    text = messages(rules.glue_job_roles_list_their_buckets(stack))
    assert text.count("may not s3:ListBucket") == 3, text  # bronze, silver, artifacts
    assert "403, not 404" in text


def test_job_role_on_a_foreign_bucket_fails(stack):
    _edit_job_policy(
        stack,
        "inventory_sync",
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::someone-elses-bucket/*"},
    )
    assert "none of the job's data or artifact buckets" in messages(rules.glue_job_roles_scoped(stack))


def test_gold_job_may_read_its_silver_source_and_upstream_runs_only(stack):
    assert rules.glue_job_roles_scoped(stack) == []
    silver = _bucket(stack, "silver")
    _edit_job_policy(
        stack,
        "sales_daily",
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{silver}/products/*"},
    )
    assert "the dataset of Glue job" in messages(rules.glue_job_roles_scoped(stack))


def _edit_runner_policy(stack, job: str, edit) -> dict[str, Any]:
    policy = find(stack, rules.ROLE_POLICY, f"runner-{job}-role-policy")
    document = json.loads(policy["inputs"]["policy"])
    edit(document)
    _set_policy(policy, document)
    return policy


def test_runner_role_acting_on_another_job_fails(stack):
    other = find(stack, rules.GLUE_JOB, "product_catalog")["inputs"]["name"]

    def add_other(document):
        document["Statement"][0]["Resource"] = [
            document["Statement"][0]["Resource"],
            f"arn:aws:glue:eu-west-1:123456789012:job/{other}",
        ]

    policy = _edit_runner_policy(stack, "sales_etl", add_other)
    found = rules.runner_roles_scoped(stack)
    assert len(found) == 1 and found[0].resource == policy["name"] and other in found[0].message


def test_runner_role_on_every_job_fails(stack):
    def star(document):
        document["Statement"][0]["Resource"] = "*"

    _edit_runner_policy(stack, "customer_import", star)
    text = messages(rules.runner_roles_scoped(stack))
    assert "on '*'" in text and "may not glue:StartJobRun" in text


def test_runner_starting_two_jobs_fails(stack):
    machine = find(stack, rules.STATE_MACHINE, "runner-sales_etl")
    definition = json.loads(machine["inputs"]["definition"])
    second = copy.deepcopy(definition["States"]["StartGlueJobRun"])
    second["Parameters"]["JobName"] = "someone-elses-job"
    definition["States"]["Second"] = second
    machine["inputs"]["definition"] = json.dumps(definition)
    assert "starts exactly one Glue job" in messages(rules.runner_roles_scoped(stack))


# ---------------------------------------------------------------------------------------------
# Triggers


def test_event_target_and_schedule_without_dlq_or_retry_fail(stack):
    target = find(stack, rules.EVENT_TARGET, "s3-sales_file_trigger")
    del target["inputs"]["deadLetterConfig"]
    del target["inputs"]["retryPolicy"]
    found = rules.targets_have_dlq_and_retry(target["type"], target["inputs"])
    assert len(found) == 2 and "no dead-letter queue" in found[0] and "no explicit retry policy" in found[1]
    schedule = find(stack, rules.SCHEDULE)
    del schedule["inputs"]["target"]["deadLetterConfig"]
    assert "schedule target has no dead-letter queue" in messages(
        rules.targets_have_dlq_and_retry(schedule["type"], schedule["inputs"])
    )


def test_targeting_a_glue_job_directly_fails(stack):
    job_arn = "arn:aws:glue:eu-west-1:123456789012:job/" + find(stack, rules.GLUE_JOB, "sales_etl")["inputs"]["name"]
    target = find(stack, rules.EVENT_TARGET, "s3-sales_file_trigger")
    target["inputs"]["arn"] = job_arn
    assert "EventBridge cannot target a Glue job" in messages(
        rules.no_direct_glue_targets(target["type"], target["inputs"])
    )
    schedule = find(stack, rules.SCHEDULE)
    schedule["inputs"]["target"]["arn"] = "arn:aws:scheduler:::aws-sdk:glue:startJobRun"
    assert rules.no_direct_glue_targets(schedule["type"], schedule["inputs"])
    assert {v.resource for v in rules.nothing_targets_glue(stack)} == {target["name"], schedule["name"]}


def test_stack_rule_catches_glue_targets_through_dependencies():
    job = ("aws:glue/job:Job", "job", {"name": "j"})
    target = rules.StackResource(
        "aws:cloudwatch/eventTarget:EventTarget",
        "t",
        {"arn": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"},
        None,
        {"arn": ["job"]},
    )
    found = rules.nothing_targets_glue([job, target])
    assert len(found) == 1 and "targets Glue job job directly" in found[0].message


# ---------------------------------------------------------------------------------------------
# Unknown values and the pulumi-policy wrappers


UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def test_unknown_policy_document_cannot_be_decided():
    with pytest.raises(rules.UnknownValue):
        rules.iam_no_wildcard_resource(rules.ROLE_POLICY, {"policy": UNKNOWN, "role": "r"})


def test_pack_registers_every_rule_with_unique_names():
    names = [p.name for p in pack.policies()]
    assert names == [*rules.RESOURCE_RULES, *rules.STACK_RULES] and len(set(names)) == len(names)


def test_resource_policy_wrapper_reports_violations():
    from pulumi_policy import ResourceValidationArgs, ResourceValidationPolicy
    from pulumi_policy.proxy import unknown_checking_proxy

    policy = next(p for p in pack.policies() if p.name == "sqs-queues-encrypted")
    assert isinstance(policy, ResourceValidationPolicy)
    reported = []
    args = ResourceValidationArgs(rules.QUEUE, unknown_checking_proxy({"name": "q"}), "urn:q", "q", None, None, {}, {})
    policy.validate(args, lambda message, urn=None: reported.append(message))
    assert len(reported) == 1 and "'q' is not encrypted" in reported[0]


def test_resource_policy_wrapper_turns_unknowns_into_the_preview_advisory():
    from pulumi_policy import ResourceValidationArgs
    from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

    policy = next(p for p in pack.policies() if p.name == "iam-no-wildcard-resource")
    args = ResourceValidationArgs(
        rules.ROLE_POLICY, unknown_checking_proxy({"policy": UNKNOWN}), "urn:p", "p", None, None, {}, {}
    )
    with pytest.raises(UnknownValueError):
        policy.validate(args, lambda message, urn=None: None)


def test_stack_policy_wrapper_reports_with_the_resources_urn(stack):
    from pulumi_policy import PolicyResource, StackValidationArgs, StackValidationPolicy
    from pulumi_policy.proxy import unknown_checking_proxy

    find(stack, rules.BUCKET_VERSIONING, "storage-gold")["inputs"]["versioningConfiguration"]["status"] = "Suspended"
    by_name: dict[str, PolicyResource] = {}
    for r in stack:
        by_name[r["name"]] = PolicyResource(
            r["type"], unknown_checking_proxy(r["inputs"]), f"urn:{r['name']}", r["name"], None, None, None, [], {}
        )
    for r in stack:
        by_name[r["name"]].parent = by_name.get(r["parent"]) if r["parent"] else None
    policy = next(p for p in pack.policies() if p.name == "s3-buckets-versioned")
    assert isinstance(policy, StackValidationPolicy)
    reported = []
    policy.validate(StackValidationArgs(list(by_name.values())), lambda m, urn=None: reported.append((m, urn)))
    assert len(reported) == 1 and "Suspended" in reported[0][0] and reported[0][1].endswith("storage-gold-versioning")


def test_stack_rules_accept_plain_tuples():
    resources = [("aws:sqs/queue:Queue", "q", {"name": "q", "sqsManagedSseEnabled": True})]
    assert all(found == [] for found in rules.check_resources(resources).values())


# ---------------------------------------------------------------------------------------------
# The pack's files


def test_pack_project_files():
    project = yaml.safe_load((POLICY_DIR / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["name"] == "python" and project["version"]
    # The pack runs in the project's virtualenv, where the project (with `checks`) is installed.
    assert (POLICY_DIR / project["runtime"]["options"]["virtualenv"]).resolve() == REPO / ".venv"
    pins = dict(
        line.split("==")
        for line in (POLICY_DIR / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    )
    lock = (REPO / "requirements.lock").read_text()
    for package, pinned in pins.items():
        assert f"\n{package}=={pinned} " in lock, f"{package}=={pinned} differs from requirements.lock"
    assert "pulumi-policy" in pins


# ---------------------------------------------------------------------------------------------
# End to end: the pack as the Pulumi CLI runs it (`python -m pulumi.policy <engine> policy`),
# spoken to over its gRPC analyzer protocol on the loopback interface.


@pytest.fixture(scope="module")
def analyzer():
    import subprocess
    import threading

    grpc = pytest.importorskip("grpc")
    from pulumi.runtime.proto import analyzer_pb2_grpc

    # From the pack's folder, as the CLI runs it: `checks` comes from the virtualenv, not from a
    # repository root on the import path.
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:1", str(POLICY_DIR)],
        cwd=POLICY_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port: list[str] = []
        reader = threading.Thread(target=lambda: port.append(process.stdout.readline().strip()), daemon=True)
        reader.start()
        reader.join(timeout=60)
        assert port and port[0].isdigit(), (
            f"policy pack did not start: {process.stderr.read() if process.poll() is not None else 'no port'}"
        )
        channel = grpc.insecure_channel(f"127.0.0.1:{port[0]}")
        grpc.channel_ready_future(channel).result(timeout=30)
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
        channel.close()
    finally:
        process.kill()
        process.wait(timeout=30)


def _struct(values: dict[str, Any]):
    from google.protobuf import struct_pb2

    struct = struct_pb2.Struct()
    struct.update(values)
    return struct


def _analyze_stack(analyzer, resources):
    from pulumi.runtime.proto import analyzer_pb2

    request = analyzer_pb2.AnalyzeStackRequest(
        resources=[
            analyzer_pb2.AnalyzerResource(
                type=r["type"],
                properties=_struct(r["inputs"]),
                urn=f"urn:{r['name']}",
                name=r["name"],
                parent=f"urn:{r['parent']}" if r["parent"] else "",
            )
            for r in resources
        ]
    )
    return analyzer.AnalyzeStack(request, timeout=120).diagnostics


def test_pack_serves_every_rule_over_the_analyzer_protocol(analyzer):
    from google.protobuf import empty_pb2

    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
    assert info.name == "data-lake-policies"
    assert [p.name for p in info.policies] == [*rules.RESOURCE_RULES, *rules.STACK_RULES]


def test_pack_passes_the_dev_stack_over_the_protocol(analyzer):
    from pulumi.runtime.proto import analyzer_pb2

    resources = list(synthesized("dev"))
    diagnostics = []
    for r in resources:
        request = analyzer_pb2.AnalyzeRequest(
            type=r["type"], properties=_struct(r["inputs"]), urn=f"urn:{r['name']}", name=r["name"]
        )
        diagnostics += [(d.policyName, r["name"]) for d in analyzer.Analyze(request, timeout=60).diagnostics]
    assert [d for d in diagnostics if not _known(*d)] == []
    assert _analyze_stack(analyzer, resources) == []


def test_pack_reports_stack_violations_and_preview_unknowns_over_the_protocol(analyzer):
    resources = copy.deepcopy(list(synthesized("dev")))
    find(resources, rules.BUCKET_VERSIONING, "storage-gold")["inputs"]["versioningConfiguration"]["status"] = (
        "Suspended"
    )
    find(resources, rules.ROLE_POLICY, "runner-sales_etl")["inputs"]["policy"] = UNKNOWN
    diagnostics = _analyze_stack(analyzer, resources)
    versioning = [d for d in diagnostics if d.policyName == "s3-buckets-versioned"]
    assert len(versioning) == 1 and versioning[0].urn.endswith("storage-gold-versioning")
    assert "'Suspended', not 'Enabled'" in versioning[0].message
    runner = [d for d in diagnostics if d.policyName == "runner-roles-scoped"]
    assert (
        len(runner) == 1
        and "can't run policy 'runner-roles-scoped'" in runner[0].message
        and "unknown" in runner[0].message
    )


def test_iceberg_rules_reject_a_job_without_iceberg_and_a_role_on_every_table(stack):
    job = find(stack, rules.GLUE_JOB, "job-sales_daily")
    del job["inputs"]["defaultArguments"]["--datalake-formats"]
    _edit_job_policy(stack, "sales_daily", {"Effect": "Allow", "Action": "glue:UpdateTable", "Resource": "*"})
    found = run_all(stack)
    assert "--datalake-formats iceberg" in messages(found["glue-jobs-load-iceberg"])
    assert "glue:UpdateTable on '*'" in messages(found["glue-catalog-grants-scoped"])
    assert found["iceberg-catalog-tables"] == []
