"""Deploy fidelity: would AWS accept what the Pulumi program sends it?

Pure checks over synthesized resources, one dict per resource in the shape
`data_platform.synth.synthesize` returns::

    {"type": "aws:glue/job:Job", "name": "<logical name>", "parent": "<parent name>" | None,
     "inputs": {...camelCase inputs as Pulumi sends them to the provider...}}

What is checked (each function returns a list of `Finding`; empty means clean):

* `check_api_constraints`  - every mapped resource's inputs, translated to the request of the
  AWS API call that creates it, against that operation's botocore input shape: required
  members, enums, min/max lengths and counts, regex patterns, numeric ranges and types.
  Every Pulumi type is either mapped (`API_MAPPINGS`) or listed with a reason in
  `NOT_API_CHECKED`; `unmapped_types` names the rest (a test keeps it empty).
* `check_event_patterns` / `check_schedule_expressions` - EventBridge patterns and
  cron/rate/at expressions through the project's own validators.
* `check_state_machines`   - every Step Functions definition through statelint.
* `check_iam_documents`    - identity and resource policies through parliament; trust and KMS
  key policies, which parliament cannot judge, through structural checks (see `iam_documents`).
* `check_wildcard_resources` - no `Allow` statement with `Resource: "*"` (or an ARN that is
  "*" in effect) unless every action is in `WILDCARD_RESOURCE_EXCEPTIONS`.
* `check_unknowns`         - values Pulumi could not resolve (unknown under mocks/preview).

This module imports only the standard library at import time (botocore, regex, statelint and
parliament are imported on first use), so the policy pack in `policy/` can share it.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

Resource = Mapping[str, Any]

# --------------------------------------------------------------------------------------------
# Findings


@dataclass(frozen=True)
class Finding:
    check: str       # "api", "event-pattern", "schedule", "statelint", "parliament", "iam", "wildcard", "unknown", ...
    type: str        # Pulumi type token
    name: str        # Pulumi logical name
    path: str        # where in the resource (input path or API member path)
    message: str

    def __str__(self) -> str:
        where = f" {self.path}:" if self.path else ""
        return f"[{self.check}] {self.type} '{self.name}':{where} {self.message}"


def _finding(check: str, resource: Resource, path: str, message: str) -> Finding:
    return Finding(check, str(resource.get("type", "?")), str(resource.get("name", "?")), path, message)


def _inputs(resource: Resource) -> Mapping[str, Any]:
    inputs = resource.get("inputs")
    return inputs if isinstance(inputs, Mapping) else {}


# --------------------------------------------------------------------------------------------
# Unknown values: what Pulumi could not resolve (outputs of resources not yet created, under
# mocks that return no value for them, or during `pulumi preview`).

# pulumi.runtime.rpc.UNKNOWN (the Python SDK's sentinel for an unknown output in serialized
# inputs) and the pulumi_policy proxy sentinels (pulumi_policy/proxy.py), one per value type.
# tests/test_fidelity.py asserts these equal the installed SDKs' constants.
PULUMI_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
POLICY_UNKNOWNS = frozenset({
    "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",  # boolean
    "3eeb2bf0-c639-47a8-9e75-3b44932eb421",  # number
    "04da6b54-80e4-46f7-96ec-b56ff0331ba9",  # string
    "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",  # array
    "030794c1-ac77-496b-92df-f27374a8bd58",  # asset
    "e48ece36-62e2-4504-bad9-02848725956a",  # archive
    "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",  # object
})
UNKNOWN_SENTINELS = frozenset({PULUMI_UNKNOWN, *POLICY_UNKNOWNS})


def is_unknown(value: Any) -> bool:
    return isinstance(value, str) and value in UNKNOWN_SENTINELS


def contains_unknown(value: Any) -> bool:
    """True when `value` is unknown or an unknown hides inside it (also inside JSON strings,
    where an unresolved ARN interpolated into a policy document ends up)."""
    if isinstance(value, str):
        return any(sentinel in value for sentinel in UNKNOWN_SENTINELS)
    if isinstance(value, Mapping):
        return any(contains_unknown(k) or contains_unknown(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(contains_unknown(v) for v in value)
    return False


def unknown_paths(value: Any, path: str = "") -> list[str]:
    if isinstance(value, str):
        return [path or "."] if contains_unknown(value) else []
    if isinstance(value, Mapping):
        found = []
        for key, item in value.items():
            found += unknown_paths(item, f"{path}.{key}" if path else str(key))
        return found
    if isinstance(value, (list, tuple)):
        found = []
        for index, item in enumerate(value):
            found += unknown_paths(item, f"{path}[{index}]")
        return found
    return []


def check_unknowns(resources: Iterable[Resource]) -> list[Finding]:
    """Every input value Pulumi could not resolve. Such a value is not checked by the other
    checks (they report it too, where they meet it): the finding says so."""
    findings = []
    for resource in resources:
        for path in unknown_paths(_inputs(resource)):
            findings.append(_finding("unknown", resource, path, "value is unknown (unresolved Output); not checked"))
    return findings


# --------------------------------------------------------------------------------------------
# A generic validator over botocore input shapes.
#
# botocore's own ParamValidator checks types, required members and `min`, but not `max`,
# `pattern` or `enum`; this walk checks all of them. Patterns are the service models' Java
# regular expressions; AWS validates the whole value (Java `Matcher.matches()`), so they are
# applied with fullmatch, after translating Java's UTF-16 surrogate-pair ranges to code points.
# Numbers: Pulumi's wire format carries every number as a double, so an integral float is
# accepted where the API wants an integer.


_SURROGATE_PAIR = re.compile(r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})", re.IGNORECASE)


def python_pattern(java_pattern: str) -> str:
    """A Java regex from a service model, as a pattern for the `regex` module."""

    def code_point(match: re.Match[str]) -> str:
        high, low = int(match.group(1), 16), int(match.group(2), 16)
        return f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08X}"

    return _SURROGATE_PAIR.sub(code_point, java_pattern)


@lru_cache(maxsize=None)
def _compiled(java_pattern: str):
    import regex  # supports \p{L}, \p{N}, \p{Z}, \p{P} like Java

    return regex.compile(python_pattern(java_pattern))


@lru_cache(maxsize=None)
def _service_model(service: str):
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def operation_input_shape(service: str, operation: str):
    return _service_model(service).operation_model(operation).input_shape


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _show(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def validate_shape(shape, value: Any, path: str = "") -> list[tuple[str, str]]:
    """Problems (member path, message) of `value` against a botocore `Shape`."""
    problems: list[tuple[str, str]] = []
    where = path or "(request)"
    if value is None:
        return problems
    if is_unknown(value):
        return [(where, "value is unknown (unresolved Output); its constraints are not checked")]
    meta = shape.metadata
    kind = shape.type_name
    if getattr(shape, "is_document_type", False):
        # A JSON document (e.g. an Iceberg field type): any JSON value, nothing else.
        if isinstance(value, NotJson):
            return [(where, f"{_show(value.text)} is not JSON; {shape.name} is a JSON document")]
        return []
    if kind == "structure":
        if not isinstance(value, Mapping):
            return [(where, f"must be an object ({shape.name}), got {_show(value)}")]
        for member in shape.required_members:
            if value.get(member) is None:
                problems.append((f"{path}.{member}" if path else member, f"required member of {shape.name} is missing"))
        for key, item in value.items():
            child = f"{path}.{key}" if path else key
            if key not in shape.members:
                problems.append((child, f"not a member of {shape.name} (members: {', '.join(shape.members)})"))
                continue
            problems += validate_shape(shape.members[key], item, child)
        return problems
    if kind == "list":
        if not isinstance(value, (list, tuple)):
            return [(where, f"must be a list ({shape.name}), got {_show(value)}")]
        problems += _check_size(meta, len(value), where, "entries")
        for index, item in enumerate(value):
            problems += validate_shape(shape.member, item, f"{path}[{index}]")
        return problems
    if kind == "map":
        if not isinstance(value, Mapping):
            return [(where, f"must be a map ({shape.name}), got {_show(value)}")]
        problems += _check_size(meta, len(value), where, "entries")
        for key, item in value.items():
            problems += [(p, f"key: {m}") for p, m in validate_shape(shape.key, key, f"{path}[{key!r}]")]
            problems += validate_shape(shape.value, item, f"{path}[{key!r}]")
        return problems
    if kind == "string":
        if not isinstance(value, str):
            return [(where, f"must be a string ({shape.name}), got {_show(value)}")]
        problems += _check_size(meta, len(value), where, "characters")
        enum = meta.get("enum")
        if enum and value not in enum:
            problems.append((where, f"{value!r} is not one of {shape.name}: {', '.join(enum)}"))
        pattern = meta.get("pattern")
        if pattern and not _compiled(pattern).fullmatch(value):
            problems.append((where, f"{_show(value)} does not match {shape.name} pattern {pattern}"))
        return problems
    if kind in ("integer", "long"):
        if not _is_number(value) or (isinstance(value, float) and not value.is_integer()):
            return [(where, f"must be an integer ({shape.name}), got {_show(value)}")]
        return _check_range(meta, value, where)
    if kind in ("double", "float"):
        if not _is_number(value):
            return [(where, f"must be a number ({shape.name}), got {_show(value)}")]
        return _check_range(meta, value, where)
    if kind == "boolean":
        if not isinstance(value, bool):
            return [(where, f"must be a boolean ({shape.name}), got {_show(value)}")]
        return problems
    if kind == "timestamp":
        from datetime import datetime

        if isinstance(value, datetime):
            return problems
        if not isinstance(value, str):
            return [(where, f"must be a timestamp ({shape.name}), got {_show(value)}")]
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            problems.append((where, f"{_show(value)} is not an ISO 8601 timestamp"))
        return problems
    if kind == "blob":
        if not isinstance(value, (str, bytes, bytearray)):
            return [(where, f"must be bytes ({shape.name}), got {_show(value)}")]
        return problems
    return [(where, f"shape type {kind!r} is not supported by this validator")]


def _check_size(meta: Mapping[str, Any], size: int, where: str, unit: str) -> list[tuple[str, str]]:
    problems = []
    if "min" in meta and size < meta["min"]:
        problems.append((where, f"has {size} {unit}; the API requires at least {meta['min']}"))
    if "max" in meta and size > meta["max"]:
        problems.append((where, f"has {size} {unit}; the API allows at most {meta['max']}"))
    return problems


def _check_range(meta: Mapping[str, Any], value: float, where: str) -> list[tuple[str, str]]:
    problems = []
    if "min" in meta and value < meta["min"]:
        problems.append((where, f"{value} is below the API minimum {meta['min']}"))
    if "max" in meta and value > meta["max"]:
        problems.append((where, f"{value} is above the API maximum {meta['max']}"))
    return problems


def validate_request(service: str, operation: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
    return validate_shape(operation_input_shape(service, operation), params)


# --------------------------------------------------------------------------------------------
# Pulumi inputs -> API request members.
#
# A field spec maps one Pulumi input (camelCase, as sent to the provider) to one API member.
# `fields` maps the inputs of a nested object (or of each object of a list); `convert` turns
# the value into the API's form (tag maps into tag lists, numbers into attribute strings);
# `into` places the member inside API structures (e.g. CreateTable's TableInput).
# `Skip(reason)` marks an input that this API call does not carry (the provider sends it with
# another call, or uses it itself); its value is not API-checked, and the reason says why.


@dataclass(frozen=True)
class To:
    api: str
    fields: Mapping[str, Spec] | None = None
    convert: Callable[[Any], Any] | None = None
    into: tuple[str, ...] = ()


@dataclass(frozen=True)
class Skip:
    reason: str


Spec = str | To | Skip


@dataclass(frozen=True)
class ApiMapping:
    service: str
    operation: str
    fields: Mapping[str, Spec]
    # Turns the mapped members into the request (e.g. PutTargets wraps the target in a list).
    wrap: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    # Required request members the provider fills in when the input is absent (autonaming),
    # by member path; their absence is not a finding.
    provider_filled: Mapping[str, str] = field(default_factory=dict)
    note: str = ""


# Inputs every pulumi-aws v7 resource may carry that are not sent in the request body.
COMMON_SKIPS: Mapping[str, Skip] = {
    "region": Skip("pulumi-aws v7 per-resource region: selects the API endpoint, not a request member"),
    "namePrefix": Skip("provider-side autonaming; the platform sets deterministic names"),
    "tagsAll": Skip("computed by the provider from tags and default tags"),
}


def _tag_list(key: str = "Key", value: str = "Value") -> Callable[[Any], Any]:
    def convert(tags: Any) -> Any:
        if isinstance(tags, Mapping):
            return [{key: k, value: v} for k, v in tags.items()]
        return tags
    return convert


def _attribute(value: Any) -> Any:
    """SQS/SNS attribute values are strings on the wire; Pulumi's numbers and booleans become
    their string form as the provider sends them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if _is_number(value):
        return str(value)
    return value


def _topic_attribute(value: Any) -> Any:
    """SNS attribute values are strings: documents as JSON text, numbers and flags as text."""
    if isinstance(value, (Mapping, list)):
        return json.dumps(value)
    return _attribute(value)


def _json_text(value: Any) -> Any:
    """A JSON document may arrive as an object (e.g. a PolicyDocument input); the API takes text."""
    return value if isinstance(value, str) or value is None else json.dumps(value)


@dataclass(frozen=True)
class NotJson:
    """Text that should have held a JSON document and does not (reported by validate_shape)."""

    text: str


def _json_document(value: Any) -> Any:
    """A document input Pulumi takes as JSON text (the provider decodes it); the API takes the value."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return NotJson(value)


def _log_destinations(value: Any) -> Any:
    # Pulumi takes one log group ARN ("...:log-group:name:*"); the API a list of destinations.
    if isinstance(value, str):
        return [{"cloudWatchLogsLogGroup": {"logGroupArn": value}}]
    return value


def _wrap_target(members: dict[str, Any]) -> dict[str, Any]:
    request = {key: members.pop(key) for key in ("Rule", "EventBusName") if key in members}
    request["Targets"] = [members]
    return request


_GLUE_JOB = ApiMapping("glue", "CreateJob", {
    "name": "Name",
    "roleArn": "Role",
    "description": "Description",
    "command": To("Command", {"name": "Name", "scriptLocation": "ScriptLocation",
                              "pythonVersion": "PythonVersion", "runtime": "Runtime"}),
    "defaultArguments": "DefaultArguments",
    "nonOverridableArguments": "NonOverridableArguments",
    "connections": To("Connections", convert=lambda v: {"Connections": v}),
    "executionProperty": To("ExecutionProperty", {"maxConcurrentRuns": "MaxConcurrentRuns"}),
    "notificationProperty": To("NotificationProperty", {"notifyDelayAfter": "NotifyDelayAfter"}),
    "maxRetries": "MaxRetries",
    "timeout": "Timeout",
    "maxCapacity": "MaxCapacity",
    "securityConfiguration": "SecurityConfiguration",
    "glueVersion": "GlueVersion",
    "workerType": "WorkerType",
    "numberOfWorkers": "NumberOfWorkers",
    "executionClass": "ExecutionClass",
    "jobMode": "JobMode",
    "jobRunQueuingEnabled": "JobRunQueuingEnabled",
    "maintenanceWindow": "MaintenanceWindow",
    "sourceControlDetails": To("SourceControlDetails", {
        "provider": "Provider", "repository": "Repository", "owner": "Owner", "branch": "Branch",
        "folder": "Folder", "lastCommitId": "LastCommitId", "authStrategy": "AuthStrategy",
        "authToken": "AuthToken"}),
    "tags": "Tags",
})

_EVENT_RULE = ApiMapping("events", "PutRule", {
    "name": "Name",
    "description": "Description",
    "eventPattern": To("EventPattern", convert=_json_text),
    "scheduleExpression": "ScheduleExpression",
    "roleArn": "RoleArn",
    "eventBusName": "EventBusName",
    "state": "State",
    "isEnabled": Skip("deprecated pulumi-aws flag the provider turns into State"),
    "forceDestroy": Skip("provider-side: delete managed rules' targets on destroy"),
    "tags": To("Tags", convert=_tag_list()),
})

_EVENT_TARGET = ApiMapping("events", "PutTargets", {
    "rule": "Rule",
    "eventBusName": "EventBusName",
    "targetId": "Id",
    "arn": "Arn",
    "roleArn": "RoleArn",
    "input": "Input",
    "inputPath": "InputPath",
    "inputTransformer": To("InputTransformer", {"inputPaths": "InputPathsMap", "inputTemplate": "InputTemplate"}),
    "retryPolicy": To("RetryPolicy", {"maximumEventAgeInSeconds": "MaximumEventAgeInSeconds",
                                      "maximumRetryAttempts": "MaximumRetryAttempts"}),
    "deadLetterConfig": To("DeadLetterConfig", {"arn": "Arn"}),
    "sqsTarget": To("SqsParameters", {"messageGroupId": "MessageGroupId"}),
    "kinesisTarget": To("KinesisParameters", {"partitionKeyPath": "PartitionKeyPath"}),
    "runCommandTargets": To("RunCommandParameters", {"key": "Key", "values": "Values"},
                            convert=lambda v: {"RunCommandTargets": v}),
    "httpTarget": To("HttpParameters", {"headerParameters": "HeaderParameters",
                                        "pathParameterValues": "PathParameterValues",
                                        "queryStringParameters": "QueryStringParameters"}),
    "appsyncTarget": To("AppSyncParameters", {"graphqlOperation": "GraphQLOperation"}),
    "batchTarget": To("BatchParameters", {"jobDefinition": "JobDefinition", "jobName": "JobName",
                                          "arraySize": Skip("nested ArrayProperties.Size, not API-checked"),
                                          "jobAttempts": Skip("nested RetryStrategy.Attempts, not API-checked")}),
    "ecsTarget": Skip("ECS targets are not used by this platform; not API-checked"),
    "redshiftTarget": Skip("Redshift targets are not used by this platform; not API-checked"),
    "sagemakerPipelineTarget": Skip("SageMaker targets are not used by this platform; not API-checked"),
    "forceDestroy": Skip("provider-side: remove managed rules' targets on destroy"),
}, wrap=_wrap_target, provider_filled={"Targets[0].Id": "pulumi-aws generates a target id when targetId is absent"})

_SCHEDULE = ApiMapping("scheduler", "CreateSchedule", {
    "name": "Name",
    "groupName": "GroupName",
    "description": "Description",
    "scheduleExpression": "ScheduleExpression",
    "scheduleExpressionTimezone": "ScheduleExpressionTimezone",
    "startDate": "StartDate",
    "endDate": "EndDate",
    "state": "State",
    "kmsKeyArn": "KmsKeyArn",
    "actionAfterCompletion": "ActionAfterCompletion",
    "flexibleTimeWindow": To("FlexibleTimeWindow", {"mode": "Mode", "maximumWindowInMinutes": "MaximumWindowInMinutes"}),
    "target": To("Target", {
        "arn": "Arn",
        "roleArn": "RoleArn",
        "input": "Input",
        "deadLetterConfig": To("DeadLetterConfig", {"arn": "Arn"}),
        "retryPolicy": To("RetryPolicy", {"maximumEventAgeInSeconds": "MaximumEventAgeInSeconds",
                                          "maximumRetryAttempts": "MaximumRetryAttempts"}),
        "sqsParameters": To("SqsParameters", {"messageGroupId": "MessageGroupId"}),
        "kinesisParameters": To("KinesisParameters", {"partitionKey": "PartitionKey"}),
        "eventbridgeParameters": To("EventBridgeParameters", {"detailType": "DetailType", "source": "Source"}),
        "ecsParameters": Skip("ECS targets are not used by this platform; not API-checked"),
        "sagemakerPipelineParameters": Skip("SageMaker targets are not used by this platform; not API-checked"),
    }),
})

_STATE_MACHINE = ApiMapping("stepfunctions", "CreateStateMachine", {
    "name": "name",
    "definition": To("definition", convert=_json_text),
    "roleArn": "roleArn",
    "type": "type",
    "publish": "publish",
    "loggingConfiguration": To("loggingConfiguration", {
        "level": "level", "includeExecutionData": "includeExecutionData",
        "logDestination": To("destinations", convert=_log_destinations)}),
    "tracingConfiguration": To("tracingConfiguration", {"enabled": "enabled"}),
    "encryptionConfiguration": To("encryptionConfiguration", {
        "type": "type", "kmsKeyId": "kmsKeyId", "kmsDataKeyReusePeriodSeconds": "kmsDataKeyReusePeriodSeconds"}),
    "tags": To("tags", convert=_tag_list("key", "value")),
})

_QUEUE_ATTRIBUTES: Mapping[str, Spec] = {
    "policy": To("Policy", convert=_json_text, into=("Attributes",)),
    "visibilityTimeoutSeconds": To("VisibilityTimeout", convert=_attribute, into=("Attributes",)),
    "maxMessageSize": To("MaximumMessageSize", convert=_attribute, into=("Attributes",)),
    "messageRetentionSeconds": To("MessageRetentionPeriod", convert=_attribute, into=("Attributes",)),
    "delaySeconds": To("DelaySeconds", convert=_attribute, into=("Attributes",)),
    "receiveWaitTimeSeconds": To("ReceiveMessageWaitTimeSeconds", convert=_attribute, into=("Attributes",)),
    "redrivePolicy": To("RedrivePolicy", convert=_json_text, into=("Attributes",)),
    "redriveAllowPolicy": To("RedriveAllowPolicy", convert=_json_text, into=("Attributes",)),
    "fifoQueue": To("FifoQueue", convert=_attribute, into=("Attributes",)),
    "contentBasedDeduplication": To("ContentBasedDeduplication", convert=_attribute, into=("Attributes",)),
    "kmsMasterKeyId": To("KmsMasterKeyId", into=("Attributes",)),
    "kmsDataKeyReusePeriodSeconds": To("KmsDataKeyReusePeriodSeconds", convert=_attribute, into=("Attributes",)),
    "deduplicationScope": To("DeduplicationScope", into=("Attributes",)),
    "fifoThroughputLimit": To("FifoThroughputLimit", into=("Attributes",)),
    "sqsManagedSseEnabled": To("SqsManagedSseEnabled", convert=_attribute, into=("Attributes",)),
}

_QUEUE = ApiMapping("sqs", "CreateQueue", {
    "name": "QueueName",
    **_QUEUE_ATTRIBUTES,
    "tags": "tags",
}, note="attribute values are strings in the model; their ranges are prose-only (see QUEUE_ATTRIBUTE_RANGES)")

_TOPIC_ATTRIBUTE_NAMES = {
    "displayName": "DisplayName", "policy": "Policy", "deliveryPolicy": "DeliveryPolicy",
    "kmsMasterKeyId": "KmsMasterKeyId", "signatureVersion": "SignatureVersion", "tracingConfig": "TracingConfig",
    "fifoTopic": "FifoTopic", "contentBasedDeduplication": "ContentBasedDeduplication",
    "archivePolicy": "ArchivePolicy", "fifoThroughputScope": "FifoThroughputScope",
    "applicationSuccessFeedbackRoleArn": "ApplicationSuccessFeedbackRoleArn",
    "applicationSuccessFeedbackSampleRate": "ApplicationSuccessFeedbackSampleRate",
    "applicationFailureFeedbackRoleArn": "ApplicationFailureFeedbackRoleArn",
    "httpSuccessFeedbackRoleArn": "HTTPSuccessFeedbackRoleArn",
    "httpSuccessFeedbackSampleRate": "HTTPSuccessFeedbackSampleRate",
    "httpFailureFeedbackRoleArn": "HTTPFailureFeedbackRoleArn",
    "lambdaSuccessFeedbackRoleArn": "LambdaSuccessFeedbackRoleArn",
    "lambdaSuccessFeedbackSampleRate": "LambdaSuccessFeedbackSampleRate",
    "lambdaFailureFeedbackRoleArn": "LambdaFailureFeedbackRoleArn",
    "sqsSuccessFeedbackRoleArn": "SQSSuccessFeedbackRoleArn",
    "sqsSuccessFeedbackSampleRate": "SQSSuccessFeedbackSampleRate",
    "sqsFailureFeedbackRoleArn": "SQSFailureFeedbackRoleArn",
    "firehoseSuccessFeedbackRoleArn": "FirehoseSuccessFeedbackRoleArn",
    "firehoseSuccessFeedbackSampleRate": "FirehoseSuccessFeedbackSampleRate",
    "firehoseFailureFeedbackRoleArn": "FirehoseFailureFeedbackRoleArn",
}

_TOPIC = ApiMapping("sns", "CreateTopic", {
    "name": "Name",
    **{pulumi: To(api, convert=_topic_attribute, into=("Attributes",))
       for pulumi, api in _TOPIC_ATTRIBUTE_NAMES.items()},
    "maximumMessageSize": Skip("not a CreateTopic attribute in this botocore model; set by the provider afterwards"),
    "tags": To("Tags", convert=_tag_list()),
})

_METRIC_FIELDS: Mapping[str, Spec] = {
    "metricName": "MetricName", "namespace": "Namespace", "period": "Period", "stat": "Stat", "unit": "Unit",
    "dimensions": To("Dimensions", convert=lambda d: [{"Name": k, "Value": v} for k, v in d.items()]
                     if isinstance(d, Mapping) else d),
}


def _metric_stat(query: dict[str, Any]) -> dict[str, Any]:
    # Pulumi: metricQuery.metric {metricName, namespace, period, stat, unit, dimensions};
    # API: MetricDataQuery.MetricStat {Metric {Namespace, MetricName, Dimensions}, Period, Stat, Unit}.
    metric = query.pop("MetricStat", None)
    if isinstance(metric, Mapping):
        inner = {k: metric[k] for k in ("Namespace", "MetricName", "Dimensions") if k in metric}
        stat = {k: metric[k] for k in ("Period", "Stat", "Unit") if k in metric}
        query["MetricStat"] = {"Metric": inner, **stat}
    return query


_ALARM = ApiMapping("cloudwatch", "PutMetricAlarm", {
    "name": "AlarmName",
    "alarmDescription": "AlarmDescription",
    "actionsEnabled": "ActionsEnabled",
    "alarmActions": "AlarmActions",
    "okActions": "OKActions",
    "insufficientDataActions": "InsufficientDataActions",
    "metricName": "MetricName",
    "namespace": "Namespace",
    "statistic": "Statistic",
    "extendedStatistic": "ExtendedStatistic",
    "dimensions": To("Dimensions", convert=lambda d: [{"Name": k, "Value": v} for k, v in d.items()]
                     if isinstance(d, Mapping) else d),
    "period": "Period",
    "unit": "Unit",
    "evaluationPeriods": "EvaluationPeriods",
    "datapointsToAlarm": "DatapointsToAlarm",
    "threshold": "Threshold",
    "comparisonOperator": "ComparisonOperator",
    "treatMissingData": "TreatMissingData",
    "evaluateLowSampleCountPercentiles": "EvaluateLowSampleCountPercentile",
    "thresholdMetricId": "ThresholdMetricId",
    "evaluationInterval": "EvaluationInterval",
    "metricQueries": To("Metrics", {
        "id": "Id", "expression": "Expression", "label": "Label", "returnData": "ReturnData",
        "period": "Period", "accountId": "AccountId",
        "metric": To("MetricStat", _METRIC_FIELDS),
    }, convert=lambda queries: [_metric_stat(dict(q)) for q in queries] if isinstance(queries, list) else queries),
    "evaluationCriteria": Skip("PromQL alarms are not used by this platform; not API-checked"),
    "evaluationWindow": Skip("wall-clock windows are not used by this platform; not API-checked"),
    "warmUpConfiguration": Skip("warm-up configuration is not used by this platform; not API-checked"),
    "tags": To("Tags", convert=_tag_list()),
})

_COLUMN: Mapping[str, Spec] = {"name": "Name", "type": "Type", "comment": "Comment", "parameters": "Parameters"}

_CATALOG_TABLE = ApiMapping("glue", "CreateTable", {
    "catalogId": "CatalogId",
    "databaseName": "DatabaseName",
    "name": To("Name", into=("TableInput",)),
    "description": To("Description", into=("TableInput",)),
    "owner": To("Owner", into=("TableInput",)),
    "retention": To("Retention", into=("TableInput",)),
    "tableType": To("TableType", into=("TableInput",)),
    "parameters": To("Parameters", into=("TableInput",)),
    "viewOriginalText": To("ViewOriginalText", into=("TableInput",)),
    "viewExpandedText": To("ViewExpandedText", into=("TableInput",)),
    "partitionKeys": To("PartitionKeys", _COLUMN, into=("TableInput",)),
    "storageDescriptor": To("StorageDescriptor", {
        "location": "Location",
        "additionalLocations": "AdditionalLocations",
        "inputFormat": "InputFormat",
        "outputFormat": "OutputFormat",
        "compressed": "Compressed",
        "numberOfBuckets": "NumberOfBuckets",
        "bucketColumns": "BucketColumns",
        "parameters": "Parameters",
        "storedAsSubDirectories": "StoredAsSubDirectories",
        "columns": To("Columns", _COLUMN),
        "serDeInfo": To("SerdeInfo", {"name": "Name", "serializationLibrary": "SerializationLibrary",
                                      "parameters": "Parameters"}),
        "sortColumns": To("SortColumns", {"column": "Column", "sortOrder": "SortOrder"}),
        "skewedInfo": To("SkewedInfo", {"skewedColumnNames": "SkewedColumnNames",
                                        "skewedColumnValues": "SkewedColumnValues",
                                        "skewedColumnValueLocationMaps": "SkewedColumnValueLocationMaps"}),
        "schemaReference": Skip("Schema Registry references are not used by this platform; not API-checked"),
    }, into=("TableInput",)),
    "targetTable": To("TargetTable", {"catalogId": "CatalogId", "databaseName": "DatabaseName", "name": "Name",
                                      "region": "Region"}, into=("TableInput",)),
    "partitionIndices": To("PartitionIndexes", {"keys": "Keys", "indexName": "IndexName",
                                                "indexStatus": Skip("output-only status")}),
    "openTableFormatInput": To("OpenTableFormatInput", {"icebergInput": To("IcebergInput", {
        "metadataOperation": "MetadataOperation",
        "version": "Version",
        "icebergTableInput": To("CreateIcebergTableInput", {
            "location": "Location",
            "schema": To("Schema", {
                "schemaId": "SchemaId", "identifierFieldIds": "IdentifierFieldIds", "type": "Type",
                "fields": To("Fields", {"id": "Id", "name": "Name", "required": "Required", "doc": "Doc",
                                        "type": To("Type", convert=_json_document),
                                        "initialDefault": To("InitialDefault", convert=_json_document),
                                        "writeDefault": To("WriteDefault", convert=_json_document)}),
            }),
            "partitionSpec": To("PartitionSpec", {
                "specId": "SpecId",
                "fields": To("Fields", {"sourceId": "SourceId", "fieldId": "FieldId", "name": "Name",
                                        "transform": "Transform"}),
            }),
            "sortOrder": To("WriteOrder", {
                "orderId": "OrderId",
                "fields": To("Fields", {"sourceId": "SourceId", "transform": "Transform", "direction": "Direction",
                                        "nullOrder": "NullOrder"}),
            }),
            "properties": "Properties",
        }),
    })}),
    "viewDefinition": Skip("multi-dialect views are not used by this platform; not API-checked"),
})

_CATALOG_DATABASE = ApiMapping("glue", "CreateDatabase", {
    "catalogId": "CatalogId",
    "name": To("Name", into=("DatabaseInput",)),
    "description": To("Description", into=("DatabaseInput",)),
    "locationUri": To("LocationUri", into=("DatabaseInput",)),
    "parameters": To("Parameters", into=("DatabaseInput",)),
    "createTableDefaultPermissions": To("CreateTableDefaultPermissions", {
        "permissions": "Permissions",
        "principal": To("Principal", {"dataLakePrincipalIdentifier": "DataLakePrincipalIdentifier"}),
    }, into=("DatabaseInput",)),
    "targetDatabase": To("TargetDatabase", {"catalogId": "CatalogId", "databaseName": "DatabaseName",
                                            "region": "Region"}, into=("DatabaseInput",)),
    "federatedDatabase": To("FederatedDatabase", {"identifier": "Identifier", "connectionName": "ConnectionName"},
                            into=("DatabaseInput",)),
    "tags": "Tags",
})

_ROLE = ApiMapping("iam", "CreateRole", {
    "name": "RoleName",
    "assumeRolePolicy": To("AssumeRolePolicyDocument", convert=_json_text),
    "description": "Description",
    "path": "Path",
    "maxSessionDuration": "MaxSessionDuration",
    "permissionsBoundary": "PermissionsBoundary",
    "tags": To("Tags", convert=_tag_list()),
    "inlinePolicies": Skip("sent with PutRolePolicy per policy; checked as identity policies by check_iam_documents"),
    "managedPolicyArns": Skip("sent with AttachRolePolicy per ARN"),
    "forceDetachPolicies": Skip("provider-side: detach policies before deleting the role"),
})

_BUCKET = ApiMapping("s3", "CreateBucket", {
    "bucket": "Bucket",
    "objectLockEnabled": "ObjectLockEnabledForBucket",
    "bucketNamespace": "BucketNamespace",
    "acl": "ACL",
    "forceDestroy": Skip("provider-side: empty the bucket before deleting it"),
    "bucketPrefix": Skip("provider-side autonaming; the platform sets deterministic names"),
    "tags": Skip("sent with PutBucketTagging, not CreateBucket"),
    # Deprecated inline settings (pulumi-aws v7 moved each to its own resource and API call).
    "serverSideEncryptionConfiguration": Skip("deprecated inline setting; sent with PutBucketEncryption"),
    "versioning": Skip("deprecated inline setting; sent with PutBucketVersioning"),
    "logging": Skip("deprecated inline setting; sent with PutBucketLogging"),
    "lifecycleRules": Skip("deprecated inline setting; sent with PutBucketLifecycleConfiguration"),
    "policy": Skip("deprecated inline setting; sent with PutBucketPolicy (checked by check_iam_documents)"),
    "corsRules": Skip("deprecated inline setting; sent with PutBucketCors"),
    "website": Skip("deprecated inline setting; sent with PutBucketWebsite"),
    "grants": Skip("deprecated inline setting; sent with PutBucketAcl"),
    "replicationConfiguration": Skip("deprecated inline setting; sent with PutBucketReplication"),
    "objectLockConfiguration": Skip("deprecated inline setting; sent with PutObjectLockConfiguration"),
    "accelerationStatus": Skip("deprecated inline setting; sent with PutBucketAccelerateConfiguration"),
    "requestPayer": Skip("deprecated inline setting; sent with PutBucketRequestPayment"),
}, note="S3's model states no bucket-name pattern; data_platform.contract.naming checks names from the S3 user guide")

_LOG_GROUP = ApiMapping("logs", "CreateLogGroup", {
    "name": "logGroupName",
    "kmsKeyId": "kmsKeyId",
    "logGroupClass": "logGroupClass",
    "deletionProtectionEnabled": "deletionProtectionEnabled",
    "tags": "tags",
    "retentionInDays": Skip("sent with PutRetentionPolicy; its allowed values are checked by check_log_retention"),
    "skipDestroy": Skip("provider-side: keep the log group on destroy"),
})

_KMS_KEY = ApiMapping("kms", "CreateKey", {
    "description": "Description",
    "keyUsage": "KeyUsage",
    "customerMasterKeySpec": "KeySpec",
    "policy": To("Policy", convert=_json_text),
    "bypassPolicyLockoutSafetyCheck": "BypassPolicyLockoutSafetyCheck",
    "customKeyStoreId": "CustomKeyStoreId",
    "xksKeyId": "XksKeyId",
    "multiRegion": "MultiRegion",
    "tags": To("Tags", convert=_tag_list("TagKey", "TagValue")),
    "enableKeyRotation": Skip("sent with EnableKeyRotation"),
    "rotationPeriodInDays": Skip("sent with EnableKeyRotation; range checked by check_kms_rotation"),
    "deletionWindowInDays": Skip("sent with ScheduleKeyDeletion on destroy"),
    "isEnabled": Skip("sent with EnableKey/DisableKey"),
})

# Secondary resources the platform is expected to declare (pulumi-aws v7 splits bucket settings
# into their own resources). Each maps to its own API call.

_KMS_ALIAS = ApiMapping("kms", "CreateAlias", {
    "name": "AliasName",
    "targetKeyId": "TargetKeyId",
})

_ROLE_POLICY = ApiMapping("iam", "PutRolePolicy", {
    "role": "RoleName",
    "name": "PolicyName",
    "policy": To("PolicyDocument", convert=_json_text),
}, provider_filled={"PolicyName": "pulumi-aws generates a policy name when name is absent"})

_IAM_POLICY = ApiMapping("iam", "CreatePolicy", {
    "name": "PolicyName",
    "path": "Path",
    "description": "Description",
    "policy": To("PolicyDocument", convert=_json_text),
    "tags": To("Tags", convert=_tag_list()),
    "delayAfterPolicyCreationInMs": Skip("provider-side: wait for IAM propagation"),
}, provider_filled={"PolicyName": "pulumi-aws generates a policy name when name is absent"})

_ROLE_POLICY_ATTACHMENT = ApiMapping("iam", "AttachRolePolicy", {
    "role": "RoleName",
    "policyArn": "PolicyArn",
})

_BUCKET_SSE = ApiMapping("s3", "PutBucketEncryption", {
    "bucket": "Bucket",
    "expectedBucketOwner": "ExpectedBucketOwner",
    "rules": To("Rules", {
        "applyServerSideEncryptionByDefault": To("ApplyServerSideEncryptionByDefault", {
            "sseAlgorithm": "SSEAlgorithm", "kmsMasterKeyId": "KMSMasterKeyID"}),
        "bucketKeyEnabled": "BucketKeyEnabled",
        "blockedEncryptionTypes": To("BlockedEncryptionTypes", convert=lambda types: {"EncryptionType": types}),
    }, into=("ServerSideEncryptionConfiguration",)),
})

_BUCKET_PAB = ApiMapping("s3", "PutPublicAccessBlock", {
    "bucket": "Bucket",
    "blockPublicAcls": To("BlockPublicAcls", into=("PublicAccessBlockConfiguration",)),
    "ignorePublicAcls": To("IgnorePublicAcls", into=("PublicAccessBlockConfiguration",)),
    "blockPublicPolicy": To("BlockPublicPolicy", into=("PublicAccessBlockConfiguration",)),
    "restrictPublicBuckets": To("RestrictPublicBuckets", into=("PublicAccessBlockConfiguration",)),
    "skipDestroy": Skip("provider-side: keep the setting on destroy"),
})

_BUCKET_VERSIONING = ApiMapping("s3", "PutBucketVersioning", {
    "bucket": "Bucket",
    "expectedBucketOwner": "ExpectedBucketOwner",
    "mfa": "MFA",
    "versioningConfiguration": To("VersioningConfiguration", {"status": "Status", "mfaDelete": "MFADelete"}),
})

_BUCKET_POLICY = ApiMapping("s3", "PutBucketPolicy", {
    "bucket": "Bucket",
    "policy": To("Policy", convert=_json_text),
})

_BUCKET_OWNERSHIP = ApiMapping("s3", "PutBucketOwnershipControls", {
    "bucket": "Bucket",
    "rule": To("Rules", {"objectOwnership": "ObjectOwnership"}, convert=lambda rule: [rule],
               into=("OwnershipControls",)),
})

_BUCKET_LOGGING = ApiMapping("s3", "PutBucketLogging", {
    "bucket": "Bucket",
    "expectedBucketOwner": "ExpectedBucketOwner",
    "targetBucket": To("TargetBucket", into=("BucketLoggingStatus", "LoggingEnabled")),
    "targetPrefix": To("TargetPrefix", into=("BucketLoggingStatus", "LoggingEnabled")),
    "targetObjectKeyFormat": To("TargetObjectKeyFormat", {
        "simplePrefix": To("SimplePrefix", convert=lambda v: v or {}),
        "partitionedPrefix": To("PartitionedPrefix", {"partitionDateSource": "PartitionDateSource"}),
    }, into=("BucketLoggingStatus", "LoggingEnabled")),
    "targetGrants": Skip("ACL grants are not used by this platform (bucket owner enforced); not API-checked"),
})


_BUCKET_LIFECYCLE = ApiMapping("s3", "PutBucketLifecycleConfiguration", {
    "bucket": "Bucket",
    "expectedBucketOwner": "ExpectedBucketOwner",
    "transitionDefaultMinimumObjectSize": "TransitionDefaultMinimumObjectSize",
    "timeouts": Skip("provider-side: how long to wait for the configuration to propagate"),
    "rules": To("Rules", {
        "id": "ID",
        "status": "Status",
        "prefix": "Prefix",
        "filter": To("Filter", {
            "prefix": "Prefix",
            "objectSizeGreaterThan": "ObjectSizeGreaterThan",
            "objectSizeLessThan": "ObjectSizeLessThan",
            "tag": To("Tag", {"key": "Key", "value": "Value"}),
            "and": To("And", {"prefix": "Prefix", "objectSizeGreaterThan": "ObjectSizeGreaterThan",
                              "objectSizeLessThan": "ObjectSizeLessThan",
                              "tags": To("Tags", convert=_tag_list())}),
        }),
        "expiration": To("Expiration", {"days": "Days", "date": "Date",
                                        "expiredObjectDeleteMarker": "ExpiredObjectDeleteMarker"}),
        "transitions": To("Transitions", {"days": "Days", "date": "Date", "storageClass": "StorageClass"}),
        "noncurrentVersionExpiration": To("NoncurrentVersionExpiration", {
            "noncurrentDays": "NoncurrentDays", "newerNoncurrentVersions": "NewerNoncurrentVersions"}),
        "noncurrentVersionTransitions": To("NoncurrentVersionTransitions", {
            "noncurrentDays": "NoncurrentDays", "newerNoncurrentVersions": "NewerNoncurrentVersions",
            "storageClass": "StorageClass"}),
        "abortIncompleteMultipartUpload": To("AbortIncompleteMultipartUpload", {
            "daysAfterInitiation": "DaysAfterInitiation"}),
    }, into=("LifecycleConfiguration",)),
})

_BUCKET_NOTIFICATION = ApiMapping("s3", "PutBucketNotificationConfiguration", {
    "bucket": "Bucket",
    "eventbridge": To("EventBridgeConfiguration", convert=lambda on: {} if on else None,
                      into=("NotificationConfiguration",)),
    "queues": Skip("SQS notifications are not used by this platform (EventBridge is); not API-checked"),
    "topics": Skip("SNS notifications are not used by this platform (EventBridge is); not API-checked"),
    "lambdaFunctions": Skip("Lambda notifications are not used by this platform; not API-checked"),
}, wrap=lambda m: {**m, "NotificationConfiguration": m.get("NotificationConfiguration", {})})

_BUCKET_OBJECT = ApiMapping("s3", "PutObject", {
    "bucket": "Bucket",
    "key": "Key",
    "contentType": "ContentType",
    "contentEncoding": "ContentEncoding",
    "contentLanguage": "ContentLanguage",
    "contentDisposition": "ContentDisposition",
    "cacheControl": "CacheControl",
    "serverSideEncryption": "ServerSideEncryption",
    "kmsKeyId": "SSEKMSKeyId",
    "bucketKeyEnabled": "BucketKeyEnabled",
    "storageClass": "StorageClass",
    "acl": "ACL",
    "metadata": "Metadata",
    "checksumAlgorithm": "ChecksumAlgorithm",
    "objectLockLegalHoldStatus": "ObjectLockLegalHoldStatus",
    "objectLockMode": "ObjectLockMode",
    "objectLockRetainUntilDate": "ObjectLockRetainUntilDate",
    "websiteRedirect": "WebsiteRedirectLocation",
    "source": Skip("a Pulumi asset; the provider streams its bytes as the Body"),
    "content": Skip("sent as the Body"),
    "contentBase64": Skip("sent as the Body"),
    "sourceHash": Skip("provider-side: change detection only"),
    "etag": Skip("provider-side: change detection only"),
    "forceDestroy": Skip("provider-side: delete all versions on destroy"),
    "overrideProvider": Skip("provider-side configuration"),
    "tags": Skip("sent as the x-amz-tagging header, not a body member"),
})

_QUEUE_POLICY = ApiMapping("sqs", "SetQueueAttributes", {
    "queueUrl": "QueueUrl",
    "policy": To("Policy", convert=_json_text, into=("Attributes",)),
})

_REDRIVE_POLICY = ApiMapping("sqs", "SetQueueAttributes", {
    "queueUrl": "QueueUrl",
    "redrivePolicy": To("RedrivePolicy", convert=_json_text, into=("Attributes",)),
})

_TOPIC_POLICY = ApiMapping("sns", "SetTopicAttributes", {
    "arn": "TopicArn",
    "policy": To("AttributeValue", convert=_json_text),
}, wrap=lambda m: {**m, "AttributeName": "Policy"})

_TOPIC_SUBSCRIPTION = ApiMapping("sns", "Subscribe", {
    "topic": "TopicArn",
    "protocol": "Protocol",
    "endpoint": "Endpoint",
    "filterPolicy": To("FilterPolicy", convert=_json_text, into=("Attributes",)),
    "filterPolicyScope": To("FilterPolicyScope", into=("Attributes",)),
    "rawMessageDelivery": To("RawMessageDelivery", convert=_attribute, into=("Attributes",)),
    "redrivePolicy": To("RedrivePolicy", convert=_json_text, into=("Attributes",)),
    "deliveryPolicy": To("DeliveryPolicy", convert=_json_text, into=("Attributes",)),
    "subscriptionRoleArn": To("SubscriptionRoleArn", into=("Attributes",)),
    "replayPolicy": To("ReplayPolicy", convert=_json_text, into=("Attributes",)),
    "confirmationTimeoutInMinutes": Skip("provider-side: how long to wait for confirmation"),
    "endpointAutoConfirms": Skip("provider-side: whether the endpoint confirms by itself"),
}, wrap=lambda m: {**m, "ReturnSubscriptionArn": True})

_GLUE_SECURITY_CONFIGURATION = ApiMapping("glue", "CreateSecurityConfiguration", {
    "name": "Name",
    "encryptionConfiguration": To("EncryptionConfiguration", {
        # Pulumi takes one S3 encryption block; the API a list of them.
        "s3Encryption": To("S3Encryption", {"s3EncryptionMode": "S3EncryptionMode", "kmsKeyArn": "KmsKeyArn"},
                           convert=lambda block: [block] if isinstance(block, Mapping) else block),
        "cloudwatchEncryption": To("CloudWatchEncryption", {"cloudwatchEncryptionMode": "CloudWatchEncryptionMode",
                                                            "kmsKeyArn": "KmsKeyArn"}),
        "jobBookmarksEncryption": To("JobBookmarksEncryption", {
            "jobBookmarksEncryptionMode": "JobBookmarksEncryptionMode", "kmsKeyArn": "KmsKeyArn"}),
    }),
})

_SCHEDULE_GROUP = ApiMapping("scheduler", "CreateScheduleGroup", {
    "name": "Name",
    "tags": To("Tags", convert=_tag_list()),
})

API_MAPPINGS: dict[str, ApiMapping] = {
    "aws:glue/job:Job": _GLUE_JOB,
    "aws:cloudwatch/eventRule:EventRule": _EVENT_RULE,
    "aws:cloudwatch/eventTarget:EventTarget": _EVENT_TARGET,
    "aws:scheduler/schedule:Schedule": _SCHEDULE,
    "aws:sfn/stateMachine:StateMachine": _STATE_MACHINE,
    "aws:sqs/queue:Queue": _QUEUE,
    "aws:sns/topic:Topic": _TOPIC,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _ALARM,
    "aws:glue/catalogTable:CatalogTable": _CATALOG_TABLE,
    "aws:glue/catalogDatabase:CatalogDatabase": _CATALOG_DATABASE,
    "aws:iam/role:Role": _ROLE,
    "aws:s3/bucket:Bucket": _BUCKET,
    "aws:cloudwatch/logGroup:LogGroup": _LOG_GROUP,
    "aws:kms/key:Key": _KMS_KEY,
    "aws:kms/alias:Alias": _KMS_ALIAS,
    "aws:iam/rolePolicy:RolePolicy": _ROLE_POLICY,
    "aws:iam/policy:Policy": _IAM_POLICY,
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": _ROLE_POLICY_ATTACHMENT,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": _BUCKET_SSE,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": _BUCKET_PAB,
    "aws:s3/bucketVersioning:BucketVersioning": _BUCKET_VERSIONING,
    "aws:s3/bucketPolicy:BucketPolicy": _BUCKET_POLICY,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": _BUCKET_OWNERSHIP,
    "aws:s3/bucketLogging:BucketLogging": _BUCKET_LOGGING,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": _BUCKET_LIFECYCLE,
    "aws:s3/bucketNotification:BucketNotification": _BUCKET_NOTIFICATION,
    "aws:s3/bucketObjectv2:BucketObjectv2": _BUCKET_OBJECT,
    "aws:sqs/queuePolicy:QueuePolicy": _QUEUE_POLICY,
    "aws:sqs/redrivePolicy:RedrivePolicy": _REDRIVE_POLICY,
    "aws:sns/topicPolicy:TopicPolicy": _TOPIC_POLICY,
    "aws:sns/topicSubscription:TopicSubscription": _TOPIC_SUBSCRIPTION,
    "aws:scheduler/scheduleGroup:ScheduleGroup": _SCHEDULE_GROUP,
    "aws:glue/securityConfiguration:SecurityConfiguration": _GLUE_SECURITY_CONFIGURATION,
}

# Types that may appear in the synth output and are deliberately not API-checked, with why.
# A type neither here nor in API_MAPPINGS is reported by `unmapped_types` (a test fails).
NOT_API_CHECKED: dict[str, str] = {
    "pulumi:pulumi:Stack": "the stack itself: no cloud API call",
    "pulumi:providers:aws": "a provider instance (region, default tags): configuration, no cloud API call",
    "aws:s3/bucketObject:BucketObject": "legacy object resource; the platform uploads with BucketObjectv2",
}
# Component resources (`<package>:<module>:<Type>` with a package other than aws/pulumi) only
# group children; they make no API call of their own. `is_component_type` recognises them.
COMPONENT_REASON = "component resource: groups children, makes no cloud API call"


def is_component_type(type_token: str) -> bool:
    package = type_token.split(":", 1)[0]
    return package not in ("aws", "pulumi")


def not_api_checked_reason(type_token: str) -> str | None:
    if type_token in NOT_API_CHECKED:
        return NOT_API_CHECKED[type_token]
    if is_component_type(type_token):
        return COMPONENT_REASON
    return None


def unmapped_types(resources: Iterable[Resource]) -> list[str]:
    """Types neither API-checked nor listed (with a reason) as not API-checked."""
    return sorted({str(r.get("type")) for r in resources
                   if r.get("type") not in API_MAPPINGS and not_api_checked_reason(str(r.get("type"))) is None})


def to_request(mapping: ApiMapping, inputs: Mapping[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Translate Pulumi inputs into the API request. Returns (request, problems) where problems
    name inputs the mapping does not know (so nothing is skipped silently)."""
    problems: list[tuple[str, str]] = []
    fields = {**COMMON_SKIPS, **mapping.fields}
    members = _map_object(fields, inputs, "", problems)
    request = mapping.wrap(members) if mapping.wrap else members
    return request, problems


def _map_object(fields: Mapping[str, Spec], value: Mapping[str, Any], path: str,
                problems: list[tuple[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        where = f"{path}.{key}" if path else key
        spec = fields.get(key)
        if spec is None:
            problems.append((where, "input has no API mapping in data_platform.fidelity; map it or mark it Skip(reason)"))
            continue
        if isinstance(spec, Skip) or item is None:
            continue
        if isinstance(spec, str):
            spec = To(spec)
        if spec.fields is not None and not is_unknown(item):
            if isinstance(item, Mapping):
                item = _map_object(spec.fields, item, where, problems)
            elif isinstance(item, (list, tuple)):
                item = [_map_object(spec.fields, element, f"{where}[{i}]", problems) if isinstance(element, Mapping)
                        else element for i, element in enumerate(item)]
        if spec.convert is not None and not is_unknown(item):
            item = spec.convert(item)
        if item is None:
            continue
        target = out
        for part in spec.into:
            target = target.setdefault(part, {})
        target[spec.api] = item
    return out


def check_api_constraints(resources: Iterable[Resource]) -> list[Finding]:
    """Each mapped resource's request against its operation's botocore input shape."""
    findings: list[Finding] = []
    for resource in resources:
        mapping = API_MAPPINGS.get(str(resource.get("type")))
        if mapping is None:
            continue
        request, problems = to_request(mapping, _inputs(resource))
        api = f"{mapping.service} {mapping.operation}"
        for path, message in problems:
            findings.append(_finding("api", resource, path, message))
        for path, message in validate_request(mapping.service, mapping.operation, request):
            if message.startswith("required member") and path in mapping.provider_filled:
                continue
            findings.append(_finding("api", resource, path, f"{api}: {message}"))
        findings += _supplementary_checks(resource, mapping, request)
    return findings


# Constraints the API reference states in prose rather than in the model, for values the
# platform sets. Sources: SQS CreateQueue "Attributes" and CloudWatch Logs PutRetentionPolicy
# (also in botocore's documentation strings for those operations); queue, topic and bucket
# names through data_platform.contract.naming (CreateQueue, CreateTopic, the S3 bucket naming rules).
QUEUE_ATTRIBUTE_RANGES: Mapping[str, tuple[int, int]] = {
    "DelaySeconds": (0, 900),
    "MaximumMessageSize": (1024, 1048576),
    "MessageRetentionPeriod": (60, 1209600),
    "ReceiveMessageWaitTimeSeconds": (0, 20),
    "VisibilityTimeout": (0, 43200),
    "KmsDataKeyReusePeriodSeconds": (60, 86400),
}
LOG_RETENTION_DAYS = frozenset({1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                                2192, 2557, 2922, 3288, 3653})
KMS_ROTATION_DAYS = (90, 2560)  # EnableKeyRotation RotationPeriodInDays (in the model)
KMS_DELETION_WINDOW_DAYS = (7, 30)  # ScheduleKeyDeletion PendingWindowInDays (in the model)


def _supplementary_checks(resource: Resource, mapping: ApiMapping, request: Mapping[str, Any]) -> list[Finding]:
    findings = []
    inputs = _inputs(resource)
    if mapping.service == "sqs":
        for name, value in (request.get("Attributes") or {}).items():
            if name in QUEUE_ATTRIBUTE_RANGES and isinstance(value, str) and not is_unknown(value):
                low, high = QUEUE_ATTRIBUTE_RANGES[name]
                if not value.isdigit() or not low <= int(value) <= high:
                    findings.append(_finding("api", resource, f"Attributes.{name}",
                                             f"sqs: {name} must be an integer from {low} to {high}, got {value!r}"))
    if mapping is _LOG_GROUP and inputs.get("retentionInDays") is not None:
        days = inputs["retentionInDays"]
        if not is_unknown(days) and days not in LOG_RETENTION_DAYS:
            findings.append(_finding("api", resource, "retentionInDays",
                                     f"logs PutRetentionPolicy: {days} is not an allowed retention "
                                     f"({', '.join(map(str, sorted(LOG_RETENTION_DAYS)))})"))
    if mapping is _KMS_KEY:
        for key, (low, high), api in (("rotationPeriodInDays", KMS_ROTATION_DAYS, "EnableKeyRotation"),
                                      ("deletionWindowInDays", KMS_DELETION_WINDOW_DAYS, "ScheduleKeyDeletion")):
            value = inputs.get(key)
            if value is not None and not is_unknown(value) and not (_is_number(value) and low <= value <= high):
                findings.append(_finding("api", resource, key, f"kms {api}: {value!r} is outside {low}..{high}"))
    for api_mapping, member, kind in ((_QUEUE, "QueueName", "sqs_queue"), (_TOPIC, "Name", "sns_topic"),
                                      (_BUCKET, "Bucket", "s3_bucket")):
        value = request.get(member)
        if mapping is api_mapping and isinstance(value, str) and not is_unknown(value):
            from data_platform.contract.naming import check_name

            if issue := check_name(kind, value):
                findings.append(_finding("api", resource, member, f"{mapping.service} {mapping.operation}: {issue}"))
    if mapping is _EVENT_RULE and not inputs.get("eventPattern") and not inputs.get("scheduleExpression"):
        findings.append(_finding("api", resource, "", "events PutRule: needs an eventPattern or a scheduleExpression"))
    return findings


# --------------------------------------------------------------------------------------------
# Event patterns and schedule expressions, through the project's own validators.


def check_event_patterns(resources: Iterable[Resource]) -> list[Finding]:
    from data_platform.contract.events import validate_pattern

    findings = []
    for resource in resources:
        if resource.get("type") != "aws:cloudwatch/eventRule:EventRule":
            continue
        pattern = _inputs(resource).get("eventPattern")
        if pattern is None:
            continue
        if contains_unknown(pattern):
            findings.append(_finding("event-pattern", resource, "eventPattern", "pattern holds an unknown value; not validated"))
            continue
        try:
            validate_pattern(pattern if isinstance(pattern, str) else json.dumps(pattern))
        except ValueError as error:
            findings.append(_finding("event-pattern", resource, "eventPattern", f"EventBridge would refuse it: {error}"))
    return findings


SCHEDULE_SOURCES: Mapping[str, tuple[str, str]] = {
    # Pulumi type -> (input holding the expression, service for validate_expression)
    "aws:scheduler/schedule:Schedule": ("scheduleExpression", "scheduler"),
    "aws:cloudwatch/eventRule:EventRule": ("scheduleExpression", "events-rule"),
}


def check_schedule_expressions(resources: Iterable[Resource]) -> list[Finding]:
    from data_platform.contract.schedules import validate_expression

    findings = []
    for resource in resources:
        source = SCHEDULE_SOURCES.get(str(resource.get("type")))
        if source is None:
            continue
        key, service = source
        expression = _inputs(resource).get(key)
        if expression is None:
            continue
        if not isinstance(expression, str) or contains_unknown(expression):
            findings.append(_finding("schedule", resource, key, f"expression is unknown or not text: {_show(expression)}"))
            continue
        try:
            validate_expression(expression, service=service)
        except ValueError as error:
            findings.append(_finding("schedule", resource, key, f"{service} would refuse {expression!r}: {error}"))
    return findings


# --------------------------------------------------------------------------------------------
# Step Functions definitions through statelint.


def lint_state_machine(definition: Any) -> list[str]:
    """statelint's problems with an ASL definition (text or object); [] when clean."""
    from statelint.linter import Linter

    if isinstance(definition, str):
        try:
            parsed = json.loads(definition)
        except json.JSONDecodeError as error:
            return [f"definition is not JSON: {error}"]
    else:
        parsed = definition
    if not isinstance(parsed, dict):
        # statelint returns no problems for a non-object document; AWS refuses it.
        return [f"definition must be a JSON object, got {type(parsed).__name__}"]
    return list(Linter.validate(parsed))


def check_state_machines(resources: Iterable[Resource]) -> list[Finding]:
    findings = []
    for resource in resources:
        if resource.get("type") != "aws:sfn/stateMachine:StateMachine":
            continue
        definition = _inputs(resource).get("definition")
        if definition is None:
            findings.append(_finding("statelint", resource, "definition", "state machine has no definition"))
            continue
        if contains_unknown(definition):
            findings.append(_finding("statelint", resource, "definition",
                                     "definition holds an unknown value; linted with it in place"))
        for problem in lint_state_machine(definition):
            findings.append(_finding("statelint", resource, "definition", problem))
    return findings


# --------------------------------------------------------------------------------------------
# IAM documents.


@dataclass(frozen=True)
class PolicyDocument:
    resource: Resource
    path: str            # input path, e.g. "policy", "assumeRolePolicy", "inlinePolicies[0].policy"
    kind: str            # "identity" | "resource" | "trust" | "key"
    text: Any            # the document as sent (JSON text, or an object)

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
        inputs = _inputs(resource)
        for path, kind in POLICY_LOCATIONS.get(str(resource.get("type")), ()):
            if path == "inlinePolicies[].policy":
                for index, inline in enumerate(inputs.get("inlinePolicies") or []):
                    if isinstance(inline, Mapping) and inline.get("policy") is not None:
                        documents.append(PolicyDocument(resource, f"inlinePolicies[{index}].policy", kind, inline["policy"]))
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


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


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
    for finding in policy.findings:
        finding = parliament.enhance_finding(finding)
        detail = finding.detail if isinstance(finding.detail, str) else json.dumps(finding.detail, default=str)
        results.append(f"{finding.issue} ({finding.severity}): {finding.title}: {detail}")
    return results


def _unknown_actions(document: Mapping[str, Any]) -> list[str]:
    parliament = _import_parliament()
    problems = []
    for statement in statements(document):
        for action in as_list(statement.get("Action")) + as_list(statement.get("NotAction")):
            try:
                parliament.expand_action(str(action))
            except Exception as error:  # parliament raises bare Exceptions for unknown actions
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
            problems.append(f"Statement[{index}]: in a key policy Resource must be '*' (this key), "
                            f"got {statement.get('Resource')!r}")
        if not statement.get("Principal"):
            problems.append(f"Statement[{index}]: a key policy statement needs a Principal")
    return problems + _unknown_actions(document)


def check_iam_documents(resources: Iterable[Resource]) -> list[Finding]:
    """Parliament (no findings allowed) for identity and resource policies; structural checks
    for trust and key policies. Unknown values are reported, not linted."""
    findings = []
    for doc in iam_documents(resources):
        if contains_unknown(doc.text):
            findings.append(_finding("iam", doc.resource, doc.path, "document holds an unknown value; not linted"))
            continue
        try:
            document = parse_document(doc.text)
        except ValueError as error:
            findings.append(_finding("iam", doc.resource, doc.path, f"not a policy document: {error}"))
            continue
        if doc.kind in PARLIAMENT_KINDS:
            for message in parliament_findings(document):
                findings.append(_finding("parliament", doc.resource, doc.path, message))
        elif doc.kind == "trust":
            findings += [_finding("iam", doc.resource, doc.path, m) for m in _check_trust_policy(document)]
        elif doc.kind == "key":
            findings += [_finding("iam", doc.resource, doc.path, m) for m in _check_key_policy(document)]
    return findings


# --------------------------------------------------------------------------------------------
# Resource "*" audit.

# Actions for which AWS offers no resource-level permission (the Service Authorization
# Reference lists no resource type for them), so an identity policy must use "Resource": "*".
# Only these may appear in an Allow statement with Resource "*". tests/test_fidelity.py checks
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
    return len(parts) == 6 and parts[0] == "arn" and all(p in ("", "*") for p in parts[3:5]) and parts[5] in ("*", "*/*")


def wildcard_violations(document: Mapping[str, Any],
                        exceptions: Mapping[str, str] | Iterable[str] = WILDCARD_RESOURCE_EXCEPTIONS) -> list[str]:
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
            problems.append(f"{sid}: Resource {stars[0]!r} for {', '.join(outside)}; only actions without "
                            "resource-level permissions may use it (WILDCARD_RESOURCE_EXCEPTIONS)")
    return problems


def check_wildcard_resources(resources: Iterable[Resource]) -> list[Finding]:
    """Identity and resource policies (KMS key policies excepted: their "*" is the key itself;
    trust policies have no Resource)."""
    findings = []
    for doc in iam_documents(resources):
        if doc.kind not in ("identity", "resource"):
            continue
        if contains_unknown(doc.text):
            findings.append(_finding("wildcard", doc.resource, doc.path, "document holds an unknown value; not audited"))
            continue
        try:
            document = parse_document(doc.text)
        except ValueError as error:
            findings.append(_finding("wildcard", doc.resource, doc.path, f"not a policy document: {error}"))
            continue
        findings += [_finding("wildcard", doc.resource, doc.path, m) for m in wildcard_violations(document)]
    return findings


# --------------------------------------------------------------------------------------------


ALL_CHECKS: Mapping[str, Callable[[Iterable[Resource]], list[Finding]]] = {
    "api": check_api_constraints,
    "event-patterns": check_event_patterns,
    "schedules": check_schedule_expressions,
    "state-machines": check_state_machines,
    "iam": check_iam_documents,
    "wildcard": check_wildcard_resources,
    "unknowns": check_unknowns,
}


def check_all(resources: list[Resource]) -> list[Finding]:
    findings = []
    for type_token in unmapped_types(resources):
        findings.append(Finding("coverage", type_token, "*", "", "type is neither API-checked nor listed in NOT_API_CHECKED"))
    from data_platform.aws_rules import CHECKS as AWS_BEHAVIOUR_CHECKS  # they build on this module

    for check in (*ALL_CHECKS.values(), *AWS_BEHAVIOUR_CHECKS.values()):
        findings += check(resources)
    return findings
