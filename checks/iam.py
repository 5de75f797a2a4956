"""IAM documents: identity and resource policies through parliament, trust and KMS key policies
through structural checks, the `Resource: "*"` audit and the confused-deputy conditions.

parliament is imported on first use, so importing this module costs nothing.
"""

from __future__ import annotations

import fnmatch
import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from checks.resources import Finding, Resource, as_list, contains_unknown, finding, inputs_of, of_type

# --------------------------------------------------------------------------------------------
# IAM documents.


@dataclass(frozen=True)
class PolicyDocument:
    resource: Resource
    path: str  # input path, e.g. "policy", "assumeRolePolicy", "inlinePolicies[0].policy"
    kind: str  # "identity" | "resource" | "trust" | "key"
    text: Any  # the document as sent (JSON text, or an object)

    @property
    def label(self) -> str:
        return f"{self.resource.get('type')} '{self.resource.get('name')}' {self.path}"


# Which documents parliament judges. Parliament lints *identity* policies. It also handles
# resource policies whose statements name specific resources (S3 bucket, SQS queue and SNS
# topic policies here). It cannot judge:
#  - trust policies (assumeRolePolicy): AWS forbids a Resource element in them, and parliament
#    reports every statement without one as MALFORMED;
#  - KMS key policies: there `"Resource": "*"` means "this key" (the only value AWS documents),
#    which parliament reports as RESOURCE_STAR.
# Those two kinds get structural checks instead (`_check_trust_policy`, `_check_key_policy`),
# which still use parliament's IAM definition to reject unknown actions.
PARLIAMENT_KINDS = frozenset({"identity", "resource"})

POLICY_LOCATIONS: Mapping[str, tuple[tuple[str, str], ...]] = {
    "aws:iam/role:Role": (("assumeRolePolicy", "trust"), ("inlinePolicies[].policy", "identity")),
    "aws:iam/rolePolicy:RolePolicy": (("policy", "identity"),),
    "aws:iam/policy:Policy": (("policy", "identity"),),
    "aws:s3/bucketPolicy:BucketPolicy": (("policy", "resource"),),
    "aws:s3/bucket:Bucket": (("policy", "resource"),),
    "aws:sqs/queuePolicy:QueuePolicy": (("policy", "resource"),),
    "aws:sqs/queue:Queue": (("policy", "resource"),),
    "aws:sns/topicPolicy:TopicPolicy": (("policy", "resource"),),
    "aws:sns/topic:Topic": (("policy", "resource"),),
    "aws:kms/key:Key": (("policy", "key"),),
}


def iam_documents(resources: Iterable[Resource]) -> list[PolicyDocument]:
    documents = []
    for resource in resources:
        inputs = inputs_of(resource)
        for path, kind in POLICY_LOCATIONS.get(str(resource.get("type")), ()):
            if path == "inlinePolicies[].policy":
                for index, inline in enumerate(inputs.get("inlinePolicies") or []):
                    if isinstance(inline, Mapping) and inline.get("policy") is not None:
                        documents.append(
                            PolicyDocument(resource, f"inlinePolicies[{index}].policy", kind, inline["policy"])
                        )
            elif inputs.get(path) is not None:
                documents.append(PolicyDocument(resource, path, kind, inputs[path]))
    return documents


def parse_document(text: Any) -> dict[str, Any]:
    """A policy document as an object (raises ValueError when it is not one)."""
    document = json.loads(text) if isinstance(text, str) else text
    if not isinstance(document, Mapping):
        raise ValueError(f"policy document must be a JSON object, got {type(document).__name__}")
    return dict(document)


def statements(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    found = document.get("Statement", [])
    found = [found] if isinstance(found, Mapping) else list(found or [])
    return [dict(s) for s in found if isinstance(s, Mapping)]


def _import_parliament():
    """Import parliament 1.6.4, which reads its data files with `pkg_resources` at import time.
    setuptools 82 removed `pkg_resources` (the lock pins setuptools 84), so provide the one
    function parliament uses, only while importing it, when the real module is absent."""
    if "parliament" in sys.modules:
        return sys.modules["parliament"]
    try:
        import pkg_resources  # noqa: F401

        shim = None
    except ImportError:
        import importlib.resources
        import types

        shim = types.ModuleType("pkg_resources")
        shim.resource_filename = lambda package, resource: str(importlib.resources.files(package) / resource)
        sys.modules["pkg_resources"] = shim
    try:
        import parliament
    finally:
        if shim is not None and sys.modules.get("pkg_resources") is shim:
            del sys.modules["pkg_resources"]
    return parliament


def parliament_findings(text: Any) -> list[str]:
    """Every parliament finding for one policy document, whatever its severity."""
    parliament = _import_parliament()
    document = text if isinstance(text, str) else json.dumps(text)
    policy = parliament.analyze_policy_string(document, include_community_auditors=False)
    results = []
    for raw in policy.findings:
        found = parliament.enhance_finding(raw)
        detail = found.detail if isinstance(found.detail, str) else json.dumps(found.detail, default=str)
        results.append(f"{found.issue} ({found.severity}): {found.title}: {detail}")
    return results


def _unknown_actions(document: Mapping[str, Any]) -> list[str]:
    parliament = _import_parliament()
    problems = []
    for statement in statements(document):
        for action in as_list(statement.get("Action")) + as_list(statement.get("NotAction")):
            try:
                parliament.expand_action(str(action))
            except Exception as error:  # noqa: BLE001 - parliament raises bare Exceptions for unknown actions
                problems.append(f"unknown action {action!r}: {error}")
    return problems


def _check_trust_policy(document: Mapping[str, Any]) -> list[str]:
    problems = []
    if document.get("Version") != "2012-10-17":
        problems.append(f"Version must be '2012-10-17', got {document.get('Version')!r}")
    body = statements(document)
    if not body:
        problems.append("trust policy has no statements")
    for index, statement in enumerate(body):
        where = f"Statement[{index}]"
        if "Resource" in statement or "NotResource" in statement:
            problems.append(f"{where}: a trust policy must not have Resource/NotResource")
        if statement.get("Effect") not in ("Allow", "Deny"):
            problems.append(f"{where}: Effect must be Allow or Deny")
        principal = statement.get("Principal")
        if statement.get("Effect") == "Allow":
            if principal in (None, "*") or (isinstance(principal, Mapping) and "*" in as_list(principal.get("AWS"))):
                problems.append(f"{where}: an Allow in a trust policy must name its principal (not '*')")
            actions = as_list(statement.get("Action"))
            if not actions or any(not str(a).startswith("sts:") for a in actions):
                problems.append(f"{where}: a trust policy allows only sts: actions, got {actions}")
            for service in as_list(principal.get("Service")) if isinstance(principal, Mapping) else []:
                if not re.fullmatch(r"[a-z0-9.-]+\.amazonaws\.com(\.cn)?", str(service)):
                    problems.append(f"{where}: {service!r} is not an AWS service principal")
    return problems + _unknown_actions(document)


def _check_key_policy(document: Mapping[str, Any]) -> list[str]:
    problems = []
    if document.get("Version") != "2012-10-17":
        problems.append(f"Version must be '2012-10-17', got {document.get('Version')!r}")
    for index, statement in enumerate(statements(document)):
        if statement.get("Resource") != "*":
            problems.append(
                f"Statement[{index}]: in a key policy Resource must be '*' (this key), "
                f"got {statement.get('Resource')!r}"
            )
        if not statement.get("Principal"):
            problems.append(f"Statement[{index}]: a key policy statement needs a Principal")
    return problems + _unknown_actions(document)


def judge_documents(
    check: str,
    resources: Iterable[Resource],
    kinds: Iterable[str],
    judge: Callable[[PolicyDocument, dict[str, Any]], Iterable[Finding]],
    *,
    unknown: str | None = None,
    malformed: bool = True,
) -> list[Finding]:
    """For each policy document of one of `kinds`, the findings `judge(document, parsed)`
    returns. A document holding an unknown value is reported with `unknown` (or skipped);
    one that is not a policy document is reported (or, with `malformed=False`, left to
    `check_iam_documents`)."""
    findings = []
    for doc in iam_documents(resources):
        if doc.kind not in kinds:
            continue
        if contains_unknown(doc.text):
            if unknown is not None:
                findings.append(finding(check, doc.resource, doc.path, unknown))
            continue
        try:
            document = parse_document(doc.text)
        except ValueError as error:
            if malformed:
                findings.append(finding(check, doc.resource, doc.path, f"not a policy document: {error}"))
            continue
        findings += judge(doc, document)
    return findings


def check_iam_documents(resources: Iterable[Resource]) -> list[Finding]:
    """Parliament (no findings allowed) for identity and resource policies; structural checks
    for trust and key policies. Unknown values are reported, not linted."""
    structural = {"trust": _check_trust_policy, "key": _check_key_policy}

    def judge(doc: PolicyDocument, document: dict[str, Any]) -> list[Finding]:
        if doc.kind in PARLIAMENT_KINDS:
            return [finding("parliament", doc.resource, doc.path, m) for m in parliament_findings(document)]
        return [finding("iam", doc.resource, doc.path, m) for m in structural[doc.kind](document)]

    return judge_documents(
        "iam",
        resources,
        ("identity", "resource", "trust", "key"),
        judge,
        unknown="document holds an unknown value; not linted",
    )


# --------------------------------------------------------------------------------------------
# Resource "*" audit.

# Actions for which AWS offers no resource-level permission (the Service Authorization
# Reference lists no resource type for them), so an identity policy must use "Resource": "*".
# Only these may appear in an Allow statement with Resource "*". tests/test_checks.py checks
# each against parliament's copy of the Service Authorization Reference.
WILDCARD_RESOURCE_EXCEPTIONS: Mapping[str, str] = {
    # Glue jobs publish job metrics (--enable-metrics) and observability metrics with PutMetricData.
    "cloudwatch:PutMetricData": "CloudWatch has no metric resource type; restrict with the cloudwatch:namespace condition",
    # Step Functions logging to CloudWatch Logs: the vended-log delivery APIs have no resource type.
    "logs:CreateLogDelivery": "CloudWatch Logs vended-log delivery has no resource type (Step Functions logging)",
    "logs:GetLogDelivery": "CloudWatch Logs vended-log delivery has no resource type (Step Functions logging)",
    "logs:UpdateLogDelivery": "CloudWatch Logs vended-log delivery has no resource type (Step Functions logging)",
    "logs:DeleteLogDelivery": "CloudWatch Logs vended-log delivery has no resource type (Step Functions logging)",
    "logs:ListLogDeliveries": "CloudWatch Logs vended-log delivery has no resource type (Step Functions logging)",
    "logs:PutResourcePolicy": "account-level log resource policy; no resource type (Step Functions logging)",
    "logs:DescribeResourcePolicies": "account-level log resource policy; no resource type (Step Functions logging)",
    "logs:DescribeLogGroups": "lists log groups; no resource type (Step Functions logging)",
    # X-Ray tracing from Step Functions (tracingConfiguration.enabled).
    "xray:PutTraceSegments": "X-Ray has no resource type for trace ingestion",
    "xray:PutTelemetryRecords": "X-Ray has no resource type for telemetry ingestion",
    "xray:GetSamplingRules": "X-Ray sampling rules are read account-wide",
    "xray:GetSamplingTargets": "X-Ray sampling targets are read account-wide",
}


def _effectively_star(resource: Any) -> bool:
    text = str(resource)
    if text == "*":
        return True
    parts = text.split(":", 5)
    # arn:partition:service:region:account:resource, with everything after the service a wildcard
    return (
        len(parts) == 6 and parts[0] == "arn" and all(p in ("", "*") for p in parts[3:5]) and parts[5] in ("*", "*/*")
    )


def wildcard_violations(
    document: Mapping[str, Any], exceptions: Mapping[str, str] | Iterable[str] = WILDCARD_RESOURCE_EXCEPTIONS
) -> list[str]:
    """Allow statements granting Resource "*" (or NotResource) to actions outside `exceptions`."""
    allowed = {a.lower() for a in exceptions}
    problems = []
    for index, statement in enumerate(statements(document)):
        if statement.get("Effect") != "Allow":
            continue
        sid = f"Statement[{index}]" + (f" ({statement['Sid']})" if statement.get("Sid") else "")
        actions = [str(a) for a in as_list(statement.get("Action"))]
        if "NotResource" in statement:
            problems.append(f"{sid}: Allow with NotResource grants every other resource")
            continue
        if "NotAction" in statement:
            if any(_effectively_star(r) for r in as_list(statement.get("Resource"))):
                problems.append(f"{sid}: Allow with NotAction on Resource '*'")
            continue
        stars = [r for r in as_list(statement.get("Resource")) if _effectively_star(r)]
        if not stars:
            continue
        outside = [a for a in actions if a.lower() not in allowed]
        if outside:
            problems.append(
                f"{sid}: Resource {stars[0]!r} for {', '.join(outside)}; only actions without "
                "resource-level permissions may use it (WILDCARD_RESOURCE_EXCEPTIONS)"
            )
    return problems


def check_wildcard_resources(resources: Iterable[Resource]) -> list[Finding]:
    """Identity and resource policies (KMS key policies excepted: their "*" is the key itself;
    trust policies have no Resource)."""
    return judge_documents(
        "wildcard",
        resources,
        ("identity", "resource"),
        lambda doc, document: [finding("wildcard", doc.resource, doc.path, m) for m in wildcard_violations(document)],
        unknown="document holds an unknown value; not audited",
    )


# --------------------------------------------------------------------------------------------
# Confused deputy: service principals in resource and key policies

# Services that set aws:SourceArn when they act on behalf of one of our resources here. For
# CloudWatch Logs the log group's ARN comes as the KMS encryption context instead.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html
SOURCE_ARN_KEYS: Mapping[str, tuple[str, ...]] = {
    "events.amazonaws.com": ("aws:SourceArn",),
    "cloudwatch.amazonaws.com": ("aws:SourceArn",),
    "logging.s3.amazonaws.com": ("aws:SourceArn",),
    "logs": ("aws:SourceArn", "kms:EncryptionContext:aws:logs:arn"),
}
CONFUSED_DEPUTY_KINDS = frozenset({"resource", "key"})


def _condition_keys(statement: Mapping[str, Any]) -> set[str]:
    condition = statement.get("Condition") or {}
    return {key.lower() for keys in condition.values() if isinstance(keys, Mapping) for key in keys}


def _source_arn_keys(service: str) -> tuple[str, ...] | None:
    if service.startswith("logs.") and service.endswith(".amazonaws.com"):
        return SOURCE_ARN_KEYS["logs"]
    return SOURCE_ARN_KEYS.get(service)


def confused_deputy_problems(document: Mapping[str, Any]) -> list[str]:
    problems = []
    for index, statement in enumerate(statements(document)):
        principal = statement.get("Principal")
        services = as_list(principal.get("Service")) if isinstance(principal, Mapping) else []
        if statement.get("Effect") != "Allow" or not services:
            continue
        keys = _condition_keys(statement)
        sid = f"Statement[{index}]" + (f" ({statement['Sid']})" if statement.get("Sid") else "")
        for service in map(str, services):
            if "aws:sourceaccount" not in keys:
                problems.append(f"{sid}: {service} may act for any account: add an aws:SourceAccount condition")
            wanted = _source_arn_keys(service)
            if wanted and not any(k.lower() in keys for k in wanted):
                problems.append(f"{sid}: {service} sets aws:SourceArn; add a condition on it ({' or '.join(wanted)})")
    return problems


def check_confused_deputy(resources: Iterable[Resource]) -> list[Finding]:
    # Unknown and malformed documents are check_iam_documents's to report.
    return judge_documents(
        "confused-deputy",
        resources,
        CONFUSED_DEPUTY_KINDS,
        lambda doc, document: [
            finding("confused-deputy", doc.resource, doc.path, m) for m in confused_deputy_problems(document)
        ],
        malformed=False,
    )


# --------------------------------------------------------------------------------------------
# A role's own policies, as the Glue checks read them.


def role_documents(resources: list[Resource], role_arn: Any) -> list[Mapping[str, Any]]:
    """The known inline policies (RolePolicy resources) of the role `role_arn` names."""
    role_name = str(role_arn).rsplit("/", 1)[-1]
    documents = []
    for policy in of_type(resources, "aws:iam/rolePolicy:RolePolicy"):
        text = inputs_of(policy).get("policy")
        if str(inputs_of(policy).get("role")) == role_name and text and not contains_unknown(text):
            documents.append(parse_document(text))
    return documents


def allows(documents: Iterable[Mapping[str, Any]], action: str, resource: str) -> bool:
    """Does an Allow statement of `documents` grant `action` on `resource` (wildcards as IAM
    matches them)?"""
    for document in documents:
        for statement in statements(document):
            if statement.get("Effect") != "Allow":
                continue
            actions = [str(a).lower() for a in as_list(statement.get("Action"))]
            if not any(fnmatch.fnmatchcase(action.lower(), a) for a in actions):
                continue
            if any(fnmatch.fnmatchcase(resource, str(r)) for r in as_list(statement.get("Resource"))):
                return True
    return False
