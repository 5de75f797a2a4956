"""The data-lake policy pack: `pulumi preview --policy-pack policy`.

Registers the pure rules of `datalake_policies` with pulumi-policy. Resource rules see one
resource's inputs; stack rules see every resource (pulumi-aws v7 keeps bucket encryption,
public access, versioning and policy in separate resources, so those are stack rules).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

# The pack lives in the repository; its rules share data_platform.fidelity (stdlib-only).
_HERE = Path(__file__).resolve().parent
for path in (_HERE, _HERE.parent):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from pulumi_policy import (  # noqa: E402
    EnforcementLevel,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, _DictProxy, _ListProxy  # noqa: E402

import datalake_policies as rules  # noqa: E402


def plain(value: Any) -> Any:
    """Props as plain dicts/lists. pulumi-policy wraps them in proxies that raise on unknown
    values; the rules handle unknowns themselves (they see the sentinel strings)."""
    if isinstance(value, (_DictProxy, _ListProxy)):
        value = value["__target"]
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [plain(v) for v in value]
    return value


def _raise_unknown(policy: str, message: str) -> None:
    raise UnknownValueError(UNKNOWN_STRING_VALUE, [f"{policy}: {message}"])


def resource_policy(name: str, description: str, rule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        try:
            messages = rule(args.resource_type, plain(args.props))
        except rules.UnknownValue as unknown:
            _raise_unknown(name, str(unknown))
            return
        for message in messages:
            report_violation(message, None)

    return ResourceValidationPolicy(name=name, description=description, validate=validate,
                                    enforcement_level=EnforcementLevel.MANDATORY)


def stack_policy(name: str, description: str, rule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        urns = {r.name: r.urn for r in args.resources}
        stack = [
            rules.StackResource(
                r.resource_type, r.name, plain(r.props),
                r.parent.name if r.parent is not None else None,
                {prop: [d.name for d in deps] for prop, deps in r.property_dependencies.items()},
            )
            for r in args.resources
        ]
        unknown = []
        for violation in rule(stack):
            if violation.unknown:
                unknown.append(str(violation))
            else:
                report_violation(violation.message, urns.get(violation.resource) if violation.resource else None)
        if unknown:
            _raise_unknown(name, "; ".join(unknown))

    return StackValidationPolicy(name=name, description=description, validate=validate,
                                 enforcement_level=EnforcementLevel.MANDATORY)


def policies() -> list:
    return [
        *(resource_policy(name, description, rule) for name, (description, rule) in rules.RESOURCE_RULES.items()),
        *(stack_policy(name, description, rule) for name, (description, rule) in rules.STACK_RULES.items()),
    ]


if __name__ == "__main__":
    PolicyPack(
        name="data-lake-policies",
        enforcement_level=EnforcementLevel.MANDATORY,
        policies=policies(),
    )
