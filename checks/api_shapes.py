"""Would AWS accept the request? Each resource's inputs, translated to the request of the API
call that creates it (`api_mappings`), against that operation's botocore input shape.

botocore's own ParamValidator checks types, required members and `min`, but not `max`,
`pattern` or `enum`; `validate_shape` checks all of them. Patterns are the service models' Java
regular expressions; AWS validates the whole value (Java `Matcher.matches()`), so they are
applied with fullmatch, after translating Java's UTF-16 surrogate-pair ranges to code points.
Numbers: Pulumi's wire format carries every number as a double, so an integral float is
accepted where the API wants an integer.

botocore and regex are imported on first use, so importing this module costs nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from typing import Any

from checks.api_mappings import (
    API_MAPPINGS,
    COMMON_SKIPS,
    COMPONENT_REASON,
    NOT_API_CHECKED,
    ApiMapping,
    NotJson,
    Skip,
    Spec,
    To,
    is_number,
)
from checks.resources import Finding, Resource, finding, inputs_of, is_component_type, is_unknown, show
from data_platform.contract.naming import check_name

Problems = list[tuple[str, str]]  # (member path, message)

# --------------------------------------------------------------------------------------------
# A generic validator over botocore input shapes.


_SURROGATE_PAIR = re.compile(r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})", re.IGNORECASE)


def python_pattern(java_pattern: str) -> str:
    """A Java regex from a service model, as a pattern for the `regex` module."""

    def code_point(match: re.Match[str]) -> str:
        high, low = int(match.group(1), 16), int(match.group(2), 16)
        return f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08X}"

    return _SURROGATE_PAIR.sub(code_point, java_pattern)


@cache
def _compiled(java_pattern: str):
    import regex  # supports \p{L}, \p{N}, \p{Z}, \p{P} like Java

    return regex.compile(python_pattern(java_pattern))


@cache
def _service_model(service: str):
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def operation_input_shape(service: str, operation: str):
    return _service_model(service).operation_model(operation).input_shape


def _child(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _wrong_type(where: str, what: str, shape: Any, value: Any) -> Problems:
    return [(where, f"must be {what} ({shape.name}), got {show(value)}")]


def validate_shape(shape, value: Any, path: str = "") -> Problems:
    """Problems (member path, message) of `value` against a botocore `Shape`."""
    where = path or "(request)"
    if value is None:
        return []
    if is_unknown(value):
        return [(where, "value is unknown (unresolved Output); its constraints are not checked")]
    if getattr(shape, "is_document_type", False):
        # A JSON document (e.g. an Iceberg field type): any JSON value, nothing else.
        if isinstance(value, NotJson):
            return [(where, f"{show(value.text)} is not JSON; {shape.name} is a JSON document")]
        return []
    validator = _VALIDATORS.get(shape.type_name)
    if validator is None:
        return [(where, f"shape type {shape.type_name!r} is not supported by this validator")]
    return validator(shape, value, path, where)


def _structure(shape: Any, value: Any, path: str, where: str) -> Problems:
    if not isinstance(value, Mapping):
        return _wrong_type(where, "an object", shape, value)
    problems = [
        (_child(path, member), f"required member of {shape.name} is missing")
        for member in shape.required_members
        if value.get(member) is None
    ]
    for key, item in value.items():
        if key not in shape.members:
            problems.append((_child(path, key), f"not a member of {shape.name} (members: {', '.join(shape.members)})"))
            continue
        problems += validate_shape(shape.members[key], item, _child(path, key))
    return problems


def _list(shape: Any, value: Any, path: str, where: str) -> Problems:
    if not isinstance(value, (list, tuple)):
        return _wrong_type(where, "a list", shape, value)
    problems = _check_size(shape.metadata, len(value), where, "entries")
    for index, item in enumerate(value):
        problems += validate_shape(shape.member, item, f"{path}[{index}]")
    return problems


def _map(shape: Any, value: Any, path: str, where: str) -> Problems:
    if not isinstance(value, Mapping):
        return _wrong_type(where, "a map", shape, value)
    problems = _check_size(shape.metadata, len(value), where, "entries")
    for key, item in value.items():
        problems += [(p, f"key: {m}") for p, m in validate_shape(shape.key, key, f"{path}[{key!r}]")]
        problems += validate_shape(shape.value, item, f"{path}[{key!r}]")
    return problems


def _string(shape: Any, value: Any, path: str, where: str) -> Problems:
    if not isinstance(value, str):
        return _wrong_type(where, "a string", shape, value)
    meta = shape.metadata
    problems = _check_size(meta, len(value), where, "characters")
    enum = meta.get("enum")
    if enum and value not in enum:
        problems.append((where, f"{value!r} is not one of {shape.name}: {', '.join(enum)}"))
    pattern = meta.get("pattern")
    if pattern and not _compiled(pattern).fullmatch(value):
        problems.append((where, f"{show(value)} does not match {shape.name} pattern {pattern}"))
    return problems


def _integer(shape: Any, value: Any, path: str, where: str) -> Problems:
    if not is_number(value) or (isinstance(value, float) and not value.is_integer()):
        return _wrong_type(where, "an integer", shape, value)
    return _check_range(shape.metadata, value, where)


def _number(shape: Any, value: Any, path: str, where: str) -> Problems:
    if not is_number(value):
        return _wrong_type(where, "a number", shape, value)
    return _check_range(shape.metadata, value, where)


def _boolean(shape: Any, value: Any, path: str, where: str) -> Problems:
    return [] if isinstance(value, bool) else _wrong_type(where, "a boolean", shape, value)


def _timestamp(shape: Any, value: Any, path: str, where: str) -> Problems:
    from datetime import datetime

    if isinstance(value, datetime):
        return []
    if not isinstance(value, str):
        return _wrong_type(where, "a timestamp", shape, value)
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return [(where, f"{show(value)} is not an ISO 8601 timestamp")]
    return []


def _blob(shape: Any, value: Any, path: str, where: str) -> Problems:
    return [] if isinstance(value, (str, bytes, bytearray)) else _wrong_type(where, "bytes", shape, value)


_VALIDATORS: Mapping[str, Callable[[Any, Any, str, str], Problems]] = {
    "structure": _structure,
    "list": _list,
    "map": _map,
    "string": _string,
    "integer": _integer,
    "long": _integer,
    "double": _number,
    "float": _number,
    "boolean": _boolean,
    "timestamp": _timestamp,
    "blob": _blob,
}


def _limits(
    meta: Mapping[str, Any], measured: float, where: str, *, below: Callable[[Any], str], above: Callable[[Any], str]
) -> Problems:
    """The shape's `min` and `max` (of a length, a count or a number), each in its own words."""
    problems = []
    if "min" in meta and measured < meta["min"]:
        problems.append((where, below(meta["min"])))
    if "max" in meta and measured > meta["max"]:
        problems.append((where, above(meta["max"])))
    return problems


def _check_size(meta: Mapping[str, Any], size: int, where: str, unit: str) -> Problems:
    return _limits(
        meta,
        size,
        where,
        below=lambda low: f"has {size} {unit}; the API requires at least {low}",
        above=lambda high: f"has {size} {unit}; the API allows at most {high}",
    )


def _check_range(meta: Mapping[str, Any], value: float, where: str) -> Problems:
    return _limits(
        meta,
        value,
        where,
        below=lambda low: f"{value} is below the API minimum {low}",
        above=lambda high: f"{value} is above the API maximum {high}",
    )


def validate_request(service: str, operation: str, params: Mapping[str, Any]) -> Problems:
    return validate_shape(operation_input_shape(service, operation), params)


# --------------------------------------------------------------------------------------------
# Coverage: every type is mapped or listed with a reason.


def not_api_checked_reason(type_token: str) -> str | None:
    if type_token in NOT_API_CHECKED:
        return NOT_API_CHECKED[type_token]
    if is_component_type(type_token):
        return COMPONENT_REASON
    return None


def unmapped_types(resources: Iterable[Resource]) -> list[str]:
    """Types neither API-checked nor listed (with a reason) as not API-checked."""
    return sorted(
        {
            str(r.get("type"))
            for r in resources
            if r.get("type") not in API_MAPPINGS and not_api_checked_reason(str(r.get("type"))) is None
        }
    )


# --------------------------------------------------------------------------------------------
# Pulumi inputs -> API request, and the check.


def to_request(mapping: ApiMapping, inputs: Mapping[str, Any]) -> tuple[dict[str, Any], Problems]:
    """Translate Pulumi inputs into the API request. Returns (request, problems) where problems
    name inputs the mapping does not know (so nothing is skipped silently)."""
    problems: Problems = []
    fields = {**COMMON_SKIPS, **mapping.fields}
    members = _map_object(fields, inputs, "", problems)
    request = mapping.wrap(members) if mapping.wrap else members
    return request, problems


def _map_object(fields: Mapping[str, Spec], value: Mapping[str, Any], path: str, problems: Problems) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        where = _child(path, key)
        spec = fields.get(key)
        if spec is None:
            problems.append((where, "input has no API mapping in checks.api_mappings; map it or mark it Skip(reason)"))
            continue
        if isinstance(spec, Skip) or item is None:
            continue
        if isinstance(spec, str):
            spec = To(spec)
        item = _map_value(spec, item, where, problems)
        if item is None:
            continue
        target = out
        for part in spec.into:
            target = target.setdefault(part, {})
        target[spec.api] = item
    return out


def _map_value(spec: To, item: Any, where: str, problems: Problems) -> Any:
    if spec.fields is not None and not is_unknown(item):
        if isinstance(item, Mapping):
            item = _map_object(spec.fields, item, where, problems)
        elif isinstance(item, (list, tuple)):
            item = [
                _map_object(spec.fields, element, f"{where}[{i}]", problems)
                if isinstance(element, Mapping)
                else element
                for i, element in enumerate(item)
            ]
    if spec.convert is not None and not is_unknown(item):
        item = spec.convert(item)
    return item


def check_api_constraints(resources: Iterable[Resource]) -> list[Finding]:
    """Each mapped resource's request against its operation's botocore input shape."""
    findings: list[Finding] = []
    for resource in resources:
        mapping = API_MAPPINGS.get(str(resource.get("type")))
        if mapping is None:
            continue
        request, problems = to_request(mapping, inputs_of(resource))
        api = f"{mapping.service} {mapping.operation}"
        for path, message in problems:
            findings.append(finding("api", resource, path, message))
        for path, message in validate_request(mapping.service, mapping.operation, request):
            if message.startswith("required member") and path in mapping.provider_filled:
                continue
            findings.append(finding("api", resource, path, f"{api}: {message}"))
        findings += [
            finding("api", resource, path, message)
            for check in SUPPLEMENTARY_CHECKS.get(str(resource.get("type")), ())
            for path, message in check(inputs_of(resource), request)
        ]
    return findings


# --------------------------------------------------------------------------------------------
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
LOG_RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
)
KMS_ROTATION_DAYS = (90, 2560)  # EnableKeyRotation RotationPeriodInDays (in the model)
KMS_DELETION_WINDOW_DAYS = (7, 30)  # ScheduleKeyDeletion PendingWindowInDays (in the model)

Supplementary = Callable[[Mapping[str, Any], Mapping[str, Any]], Problems]  # (inputs, request) -> problems


def _queue_attribute_ranges(inputs: Mapping[str, Any], request: Mapping[str, Any]) -> Problems:
    problems = []
    for name, value in (request.get("Attributes") or {}).items():
        if name in QUEUE_ATTRIBUTE_RANGES and isinstance(value, str) and not is_unknown(value):
            low, high = QUEUE_ATTRIBUTE_RANGES[name]
            if not value.isdigit() or not low <= int(value) <= high:
                problems.append(
                    (f"Attributes.{name}", f"sqs: {name} must be an integer from {low} to {high}, got {value!r}")
                )
    return problems


def _log_retention(inputs: Mapping[str, Any], request: Mapping[str, Any]) -> Problems:
    days = inputs.get("retentionInDays")
    if days is None or is_unknown(days) or days in LOG_RETENTION_DAYS:
        return []
    return [
        (
            "retentionInDays",
            f"logs PutRetentionPolicy: {days} is not an allowed retention "
            f"({', '.join(map(str, sorted(LOG_RETENTION_DAYS)))})",
        )
    ]


def _kms_key_periods(inputs: Mapping[str, Any], request: Mapping[str, Any]) -> Problems:
    problems = []
    for key, (low, high), api in (
        ("rotationPeriodInDays", KMS_ROTATION_DAYS, "EnableKeyRotation"),
        ("deletionWindowInDays", KMS_DELETION_WINDOW_DAYS, "ScheduleKeyDeletion"),
    ):
        value = inputs.get(key)
        if value is not None and not is_unknown(value) and not (is_number(value) and low <= value <= high):
            problems.append((key, f"kms {api}: {value!r} is outside {low}..{high}"))
    return problems


def _name_rule(member: str, kind: str, api: str) -> Supplementary:
    def check(inputs: Mapping[str, Any], request: Mapping[str, Any]) -> Problems:
        value = request.get(member)
        if isinstance(value, str) and not is_unknown(value) and (issue := check_name(kind, value)):
            return [(member, f"{api}: {issue}")]
        return []

    return check


def _rule_has_a_trigger(inputs: Mapping[str, Any], request: Mapping[str, Any]) -> Problems:
    if inputs.get("eventPattern") or inputs.get("scheduleExpression"):
        return []
    return [("", "events PutRule: needs an eventPattern or a scheduleExpression")]


SUPPLEMENTARY_CHECKS: Mapping[str, tuple[Supplementary, ...]] = {
    "aws:sqs/queue:Queue": (_queue_attribute_ranges, _name_rule("QueueName", "sqs_queue", "sqs CreateQueue")),
    "aws:sqs/queuePolicy:QueuePolicy": (_queue_attribute_ranges,),
    "aws:sqs/redrivePolicy:RedrivePolicy": (_queue_attribute_ranges,),
    "aws:sns/topic:Topic": (_name_rule("Name", "sns_topic", "sns CreateTopic"),),
    "aws:s3/bucket:Bucket": (_name_rule("Bucket", "s3_bucket", "s3 CreateBucket"),),
    "aws:cloudwatch/logGroup:LogGroup": (_log_retention,),
    "aws:kms/key:Key": (_kms_key_periods,),
    "aws:cloudwatch/eventRule:EventRule": (_rule_has_a_trigger,),
}
