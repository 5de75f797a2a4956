"""The data-lake policy pack: `pulumi preview --policy-pack policy`.

Registers the pure rules of `datalake_policies` with pulumi-policy. Resource rules see one
resource's inputs; stack rules see every resource (pulumi-aws v7 keeps bucket encryption,
public access, versioning and policy in separate resources, so those are stack rules).

Where its imports come from: the Pulumi CLI runs this folder with `runpy`, so
`datalake_policies` (beside this file) is importable as is; the deploy checks it shares with
the tests (the top-level `checks` package) and pulumi-policy come from the project's
virtualenv, which `PulumiPolicy.yaml` names (`virtualenv: ../.venv`): `make setup` creates it
from requirements.lock and installs the project into it (editable), `checks` included. See
README.md in this folder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import datalake_policies as rules
from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError


def plain(value: Any) -> Any:
    """Props as plain dicts/lists. pulumi-policy hands them over as read-only Mapping and
    Sequence views that raise UnknownValueError on an unknown value; the rules handle unknowns
    themselves, so an unknown becomes its sentinel string again (the error carries it)."""
    if isinstance(value, Mapping):
        return {key: plain(_item(value, key)) for key in value}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [plain(_item(value, index)) for index in range(len(value))]
    return value


def _item(container: Any, key: Any) -> Any:
    try:
        return container[key]
    except UnknownValueError as unknown:
        return unknown.unknown_type_sentinel


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

    return ResourceValidationPolicy(
        name=name, description=description, validate=validate, enforcement_level=EnforcementLevel.MANDATORY
    )


def stack_policy(name: str, description: str, rule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        urns = {r.name: r.urn for r in args.resources}
        stack = [
            rules.StackResource(
                r.resource_type,
                r.name,
                plain(r.props),
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

    return StackValidationPolicy(
        name=name, description=description, validate=validate, enforcement_level=EnforcementLevel.MANDATORY
    )


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
