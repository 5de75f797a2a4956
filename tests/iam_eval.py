"""A small evaluator of IAM policies for one AWS account, as the tests need it.

Why our own: no maintained Python library evaluates a request *with its request context*
against IAM policies. policyuniverse, parliament and policy_sentry parse, lint or generate
policies; moto's IAM enforcement passes no `s3:prefix`/`s3:delimiter` context, so a
prefix-conditioned `s3:ListBucket` looks allowed (or denied) regardless of the request. This
module implements what the stack's documents use, as AWS documents it, and
`tests/test_iam_eval.py` checks it against AWS's own examples first:

* Decision: an applicable explicit `Deny` wins; else an applicable `Allow` (identity policy or,
  in the same account, resource policy); else the implicit deny.
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_AccessPolicyLanguage_Interplay.html
* `Action`/`NotAction` match case-insensitively, `Resource`/`NotResource` case-sensitively, both
  with the wildcards `*` and `?`; `${key}` policy variables take the request context's value.
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html
* `Condition`: every operator and every key must match (AND); the values of one key match if
  any does (OR). A key absent from the request context makes the condition false, except for
  the negated operators (true) and `...IfExists` (true); `Null` tests presence.
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html

An operator it does not know raises `UnsupportedCondition` rather than guessing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Any

ContextValue = str | Sequence[str]


class Decision(StrEnum):
    ALLOW = "Allow"
    EXPLICIT_DENY = "ExplicitDeny"
    IMPLICIT_DENY = "ImplicitDeny"


class UnsupportedCondition(ValueError):
    pass


@dataclass(frozen=True)
class Request:
    action: str  # e.g. "s3:ListBucket"
    resource: str  # an ARN
    context: Mapping[str, ContextValue] = field(default_factory=dict)  # condition keys of the request
    principal: str = ""  # the caller's ARN, for resource policies that name it

    def value(self, key: str) -> list[str] | None:
        for name, value in self.context.items():
            if name.lower() == key.lower():  # condition key names are case-insensitive
                return [value] if isinstance(value, str) else list(value)
        return None


@cache
def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def _variables(text: str, request: Request) -> str:
    def value(match: re.Match[str]) -> str:
        found = request.value(match.group(1))
        return found[0] if found else match.group(0)

    return re.sub(r"\$\{([^}]+)\}", value, text)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _matches(patterns: Iterable[str], value: str, *, ignore_case: bool, request: Request) -> bool:
    return any(_wildcard(_variables(str(p), request), ignore_case).match(value) for p in patterns)


def _string_test(operator: str, policy_value: str, request_value: str, request: Request) -> bool:
    policy_value = _variables(policy_value, request)
    if operator == "StringEquals":
        return request_value == policy_value
    if operator == "StringEqualsIgnoreCase":
        return request_value.lower() == policy_value.lower()
    if operator in ("StringLike", "ArnLike"):
        return bool(_wildcard(policy_value, False).match(request_value))
    if operator == "ArnEquals":
        return request_value == policy_value
    if operator == "Bool":
        return request_value.lower() == policy_value.lower()
    if operator.startswith("Numeric"):
        compare = {
            "NumericEquals": float.__eq__,
            "NumericLessThan": float.__lt__,
            "NumericLessThanEquals": float.__le__,
            "NumericGreaterThan": float.__gt__,
            "NumericGreaterThanEquals": float.__ge__,
        }.get(operator)
        if compare is None:
            raise UnsupportedCondition(operator)
        return compare(float(request_value), float(policy_value))
    raise UnsupportedCondition(operator)


_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
    "NumericNotEquals": "NumericEquals",
}


def _condition_holds(operator: str, key: str, policy_values: Any, request: Request) -> bool:
    values = [str(v).lower() if isinstance(v, bool) else str(v) for v in _as_list(policy_values)]
    present = request.value(key)
    if operator == "Null":
        # "true": the key must be absent; "false": present.
        return (present is None) == (values[0].lower() == "true")
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    if base.startswith(("ForAnyValue:", "ForAllValues:")):
        raise UnsupportedCondition(operator)
    if present is None:
        return if_exists or base in _NEGATED
    if base in _NEGATED:
        positive = _NEGATED[base]
        return not any(_string_test(positive, v, r, request) for v in values for r in present)
    return any(_string_test(base, v, r, request) for v in values for r in present)


def _conditions_hold(condition: Mapping[str, Mapping[str, Any]] | None, request: Request) -> bool:
    return all(
        _condition_holds(operator, key, values, request)
        for operator, keys in (condition or {}).items()
        for key, values in keys.items()
    )


def _principal_matches(principal: Any, request: Request) -> bool:
    if principal is None:  # an identity policy: it applies to its holder
        return True
    if principal == "*":
        return True
    if isinstance(principal, Mapping):
        aws = [str(p) for p in _as_list(principal.get("AWS"))]
        return "*" in aws or request.principal in aws
    return False


def statement_applies(statement: Mapping[str, Any], request: Request) -> bool:
    if not _principal_matches(statement.get("Principal"), request):
        return False
    if "Action" in statement:
        if not _matches(_as_list(statement["Action"]), request.action, ignore_case=True, request=request):
            return False
    elif _matches(_as_list(statement.get("NotAction")), request.action, ignore_case=True, request=request):
        return False
    if "Resource" in statement:
        if not _matches(_as_list(statement["Resource"]), request.resource, ignore_case=False, request=request):
            return False
    elif "NotResource" in statement:
        if _matches(_as_list(statement["NotResource"]), request.resource, ignore_case=False, request=request):
            return False
    return _conditions_hold(statement.get("Condition"), request)


def _statements(document: Mapping[str, Any] | str) -> list[Mapping[str, Any]]:
    parsed = json.loads(document) if isinstance(document, str) else document
    return [s for s in _as_list(parsed.get("Statement"))]


def evaluate(request: Request, policies: Iterable[Mapping[str, Any] | str]) -> Decision:
    """The decision for `request` under every policy that applies to it (identity policies of
    the caller and resource policies of the resource, all in one account)."""
    applicable = [s for document in policies for s in _statements(document) if statement_applies(s, request)]
    if any(s.get("Effect") == "Deny" for s in applicable):
        return Decision.EXPLICIT_DENY
    if any(s.get("Effect") == "Allow" for s in applicable):
        return Decision.ALLOW
    return Decision.IMPLICIT_DENY
