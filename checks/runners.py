"""The job runners (Step Functions state machines): their definitions through statelint, one
alert per failed run (the runner's execution status, never Glue's per-attempt job-state
events), and retries that fit the error (`data_platform.contract.runner_errors`).

statelint is imported on first use, so importing this module costs nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from checks.resources import (
    Finding,
    Resource,
    as_list,
    check_values,
    contains_unknown,
    finding,
    inputs_of,
    json_value,
    of_type,
)
from data_platform.contract.alerts import RUNNER_FAILURE_STATUSES
from data_platform.contract.runner_errors import PERMANENT_ERRORS, RUNNER_RETRY
from data_platform.contract.runs import GLUE_FAILURE_STATES

STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"

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
    def judge(_machine: Resource, definition: Any) -> list[str]:
        unknown = ["definition holds an unknown value; linted with it in place"] if contains_unknown(definition) else []
        return unknown + lint_state_machine(definition)

    return check_values(
        "statelint", resources, {STATE_MACHINE: "definition"}, judge, missing="state machine has no definition"
    )


# --------------------------------------------------------------------------------------------
# Alerts: one per failed run

EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
RUN_FAILURE_STATUSES = frozenset(str(status) for status in RUNNER_FAILURE_STATUSES)
GLUE_FAILURES = frozenset(str(state) for state in GLUE_FAILURE_STATES)


def _pattern(rule: Resource) -> Mapping[str, Any]:
    text = inputs_of(rule).get("eventPattern")
    if not text or contains_unknown(text):
        return {}
    parsed = json_value(text)
    return parsed if isinstance(parsed, Mapping) else {}


def _topic_rules(resources: list[Resource]) -> list[Resource]:
    """Event rules with a target on an SNS topic."""
    names = {
        str(inputs_of(t).get("rule"))
        for t in of_type(resources, EVENT_TARGET)
        if ":sns:" in str(inputs_of(t).get("arn", ""))
    }
    return [r for r in of_type(resources, EVENT_RULE) if str(inputs_of(r).get("name")) in names]


def check_alerts_per_run(resources: Iterable[Resource]) -> list[Finding]:
    resources = list(resources)
    findings = []
    machine_names = {str(inputs_of(m).get("name")) for m in of_type(resources, STATE_MACHINE)}
    covered: set[str] = set()
    for rule in _topic_rules(resources):
        pattern = _pattern(rule)
        detail = pattern.get("detail") or {}
        if "aws.glue" in as_list(pattern.get("source")) and set(as_list(detail.get("state"))) & GLUE_FAILURES:
            findings.append(
                finding(
                    "alerts",
                    rule,
                    "eventPattern",
                    (
                        "alerts on Glue job-state changes: the runner re-runs failed attempts, so this mails a failure that "
                        "then succeeds, and a permanent one once per attempt; alert on the runner's Step Functions "
                        f"Execution Status Change ({', '.join(RUNNER_FAILURE_STATUSES)}) instead"
                    ),
                )
            )
        if "aws.states" in as_list(pattern.get("source")):
            statuses = set(as_list(detail.get("status")))
            if not RUN_FAILURE_STATUSES <= statuses:
                findings.append(
                    finding(
                        "alerts",
                        rule,
                        "eventPattern.detail.status",
                        f"misses {sorted(RUN_FAILURE_STATUSES - statuses)}: such runs end unannounced",
                    )
                )
            covered |= {str(a).rsplit(":", 1)[-1] for a in as_list(detail.get("stateMachineArn"))}
    undecided = any(contains_unknown(inputs_of(t).get("arn")) for t in of_type(resources, EVENT_TARGET)) or any(
        contains_unknown(inputs_of(r).get("eventPattern")) for r in of_type(resources, EVENT_RULE)
    )
    if undecided:
        return findings  # during a first preview ARNs are unknown; `pulumi up` decides coverage
    for name in sorted(machine_names - covered):
        findings.append(
            Finding(
                "alerts",
                STATE_MACHINE,
                name,
                "",
                (f"no alert rule follows runner {name}'s execution status: its failed runs send no alert"),
            )
        )
    return findings


# --------------------------------------------------------------------------------------------
# Runner retries fit the error

LONG_WAIT_SECONDS = 3600


def _wait_seconds(retrier: Mapping[str, Any]) -> float:
    interval, rate = float(retrier.get("IntervalSeconds", 1)), float(retrier.get("BackoffRate", 2.0))
    cap = float(retrier.get("MaxDelaySeconds", float("inf")))
    return sum(min(interval * rate**i, cap) for i in range(int(retrier.get("MaxAttempts", 3))))


def retry_problems(retriers: list[Mapping[str, Any]]) -> list[str]:
    """What is wrong with one Task's Retry list, judged by data_platform.contract.runner_errors."""
    problems = []

    def first(error: str) -> Mapping[str, Any] | None:
        for retrier in retriers:
            names = as_list(retrier.get("ErrorEquals"))
            if error in names or "States.ALL" in names or ("States.TaskFailed" in names and error != "States.Timeout"):
                return retrier
        return None

    for error in PERMANENT_ERRORS:
        retrier = first(error)
        if retrier is not None and int(retrier.get("MaxAttempts", 3)) > 0:
            problems.append(
                f"{error} will not go away, but it is retried {retrier.get('MaxAttempts', 3)} times "
                f"(by {retrier.get('ErrorEquals')}); list it with MaxAttempts 0 first"
            )
    for retrier in retriers:
        if _wait_seconds(retrier) > LONG_WAIT_SECONDS:
            slow = [e for e in as_list(retrier.get("ErrorEquals")) if e not in RUNNER_RETRY.errors]
            if slow:
                problems.append(f"waits {_wait_seconds(retrier) / 3600:.1f} h on {slow}, which are not capacity errors")
    return problems


def check_runner_retries(resources: Iterable[Resource]) -> list[Finding]:
    findings = []
    for machine in of_type(resources, STATE_MACHINE):
        definition = inputs_of(machine).get("definition")
        if not definition or contains_unknown(definition):
            continue
        parsed = json_value(definition)
        for name, state in (parsed.get("States") or {}).items():
            if state.get("Type") == "Task" and "glue:startJobRun" in str(state.get("Resource", "")):
                findings += [
                    finding("runner-retries", machine, f"definition.States.{name}.Retry", m)
                    for m in retry_problems(list(state.get("Retry") or []))
                ]
    return findings
