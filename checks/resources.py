"""The resources the deploy checks judge, their findings, and what Pulumi could not resolve.

A resource is one dict in the shape `data_platform.synth.synthesize` returns::

    {"type": "aws:glue/job:Job", "name": "<logical name>", "parent": "<parent name>" | None,
     "inputs": {...camelCase inputs as Pulumi sends them to the provider...}}

Every check returns a list of `Finding` (empty means clean). Most checks judge one input of
the resources of some types; `check_values` is that loop, once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Resource = Mapping[str, Any]

# --------------------------------------------------------------------------------------------
# Findings


@dataclass(frozen=True)
class Finding:
    check: str  # "api", "event-pattern", "schedule", "statelint", "parliament", "iam", "wildcard", "unknown", ...
    type: str  # Pulumi type token
    name: str  # Pulumi logical name
    path: str  # where in the resource (input path or API member path)
    message: str

    def __str__(self) -> str:
        where = f" {self.path}:" if self.path else ""
        return f"[{self.check}] {self.type} '{self.name}':{where} {self.message}"


def finding(check: str, resource: Resource, path: str, message: str) -> Finding:
    return Finding(check, str(resource.get("type", "?")), str(resource.get("name", "?")), path, message)


def inputs_of(resource: Resource) -> Mapping[str, Any]:
    inputs = resource.get("inputs")
    return inputs if isinstance(inputs, Mapping) else {}


# --------------------------------------------------------------------------------------------
# Unknown values: what Pulumi could not resolve (outputs of resources not yet created, under
# mocks that return no value for them, or during `pulumi preview`).

# pulumi.runtime.rpc.UNKNOWN (the Python SDK's sentinel for an unknown output in serialized
# inputs) and the pulumi_policy proxy sentinels (pulumi_policy/proxy.py), one per value type.
# tests/test_checks.py asserts these equal the installed SDKs' constants.
PULUMI_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
POLICY_UNKNOWNS = frozenset(
    {
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",  # boolean
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",  # number
        "04da6b54-80e4-46f7-96ec-b56ff0331ba9",  # string
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",  # array
        "030794c1-ac77-496b-92df-f27374a8bd58",  # asset
        "e48ece36-62e2-4504-bad9-02848725956a",  # archive
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",  # object
    }
)
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
        for path in unknown_paths(inputs_of(resource)):
            findings.append(finding("unknown", resource, path, "value is unknown (unresolved Output); not checked"))
    return findings


# --------------------------------------------------------------------------------------------
# Selecting resources and judging one input of each


def of_type(resources: Iterable[Resource], *type_tokens: str) -> list[Resource]:
    return [r for r in resources if r.get("type") in type_tokens]


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def json_value(value: Any) -> Any:
    """An input Pulumi may carry as JSON text (a pattern, a definition) or as the object itself."""
    return json.loads(value) if isinstance(value, str) else value


def show(value: Any, limit: int = 80) -> str:
    """A value in a message, shortened."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def is_component_type(type_token: str) -> bool:
    """A component resource (`<package>:<module>:<Type>` with a package other than aws/pulumi):
    it only groups children and makes no API call of its own."""
    package = type_token.split(":", 1)[0]
    return package not in ("aws", "pulumi")


def check_values(
    check: str,
    resources: Iterable[Resource],
    keys: Mapping[str, str],
    judge: Callable[[Resource, Any], Iterable[str]],
    *,
    missing: str | None = None,
    unknown: str | None = None,
) -> list[Finding]:
    """For each resource of a type in `keys` (type -> the input to judge), the findings
    `judge(resource, value)` returns, each at that input. An absent input is skipped, or
    reported with `missing`; a value that holds an unknown is reported with `unknown` and not
    judged (without `unknown` it is judged as it is)."""
    findings = []
    for resource in resources:
        key = keys.get(str(resource.get("type")))
        if key is None:
            continue
        value = inputs_of(resource).get(key)
        if value is None:
            if missing is not None:
                findings.append(finding(check, resource, key, missing))
            continue
        if unknown is not None and contains_unknown(value):
            findings.append(finding(check, resource, key, unknown))
            continue
        findings += [finding(check, resource, key, message) for message in judge(resource, value)]
    return findings
