"""EventBridge event patterns and schedule expressions, through the contract's own validators
(`data_platform.contract.events`, `data_platform.contract.schedules`): what the local runtime
matches and fires is what AWS would accept."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from checks.resources import Finding, Resource, check_values, contains_unknown, show
from data_platform.contract.events import validate_pattern
from data_platform.contract.schedules import validate_expression

EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"


def check_event_patterns(resources: Iterable[Resource]) -> list[Finding]:
    def judge(_resource: Resource, pattern: Any) -> list[str]:
        try:
            validate_pattern(pattern if isinstance(pattern, str) else json.dumps(pattern))
        except ValueError as error:
            return [f"EventBridge would refuse it: {error}"]
        return []

    return check_values(
        "event-pattern",
        resources,
        {EVENT_RULE: "eventPattern"},
        judge,
        unknown="pattern holds an unknown value; not validated",
    )


SCHEDULE_SOURCES: Mapping[str, tuple[str, str]] = {
    # Pulumi type -> (input holding the expression, service for validate_expression)
    "aws:scheduler/schedule:Schedule": ("scheduleExpression", "scheduler"),
    EVENT_RULE: ("scheduleExpression", "events-rule"),
}


def check_schedule_expressions(resources: Iterable[Resource]) -> list[Finding]:
    def judge(resource: Resource, expression: Any) -> list[str]:
        if not isinstance(expression, str) or contains_unknown(expression):
            return [f"expression is unknown or not text: {show(expression)}"]
        service = SCHEDULE_SOURCES[str(resource.get("type"))][1]
        try:
            validate_expression(expression, service=service)
        except ValueError as error:
            return [f"{service} would refuse {expression!r}: {error}"]
        return []

    keys = {type_token: key for type_token, (key, _service) in SCHEDULE_SOURCES.items()}
    return check_values("schedule", resources, keys, judge)
