"""Deploy checks: would AWS accept what the Pulumi program sends it, and does it behave as the
stack means it to? Pure checks over synthesized resources (`data_platform.synth.synthesize`),
used by the policy pack (`policy/`) and the tests; the product never imports them.

- `resources`     the resource shape, `Finding`, unknown values, the loop every check shares
- `api_mappings`  Pulumi inputs -> the request of the AWS API call that creates the resource
- `api_shapes`    that request against the operation's botocore input shape (+ prose limits)
- `patterns`      EventBridge event patterns and schedule expressions (the contract's validators)
- `iam`           policy documents: parliament, trust and key policies, `Resource: "*"`,
                  confused-deputy conditions
- `names`         unique physical names; replace-safe names
- `runners`       state machines through statelint; one alert per failed run; retries per error
- `glue`          Glue 5.0 logging; Iceberg tables, their Spark catalog and catalog grants

At import time every module uses the standard library and the contract only (botocore, regex,
statelint and parliament are imported on first use).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from checks import glue, iam, names, patterns, runners
from checks.api_shapes import check_api_constraints, unmapped_types
from checks.resources import Finding, Resource, check_unknowns

Check = Callable[[Iterable[Resource]], list[Finding]]

# Each request as AWS would judge it.
API_CHECKS: Mapping[str, Check] = {
    "api": check_api_constraints,
    "event-patterns": patterns.check_event_patterns,
    "schedules": patterns.check_schedule_expressions,
    "state-machines": runners.check_state_machines,
    "iam": iam.check_iam_documents,
    "wildcard": iam.check_wildcard_resources,
    "unknowns": check_unknowns,
}

# How AWS behaves once the resources exist, across resources.
BEHAVIOUR_CHECKS: Mapping[str, Check] = {
    "unique-names": names.check_unique_names,
    "replace-safe": names.check_replace_safe_names,
    "confused-deputy": iam.check_confused_deputy,
    "glue-logging": glue.check_glue_logging,
    "alerts": runners.check_alerts_per_run,
    "runner-retries": runners.check_runner_retries,
    "iceberg-tables": glue.check_iceberg_tables,
    "glue-iceberg": glue.check_glue_iceberg,
    "catalog-grants": glue.check_catalog_grants,
}

CHECKS: Mapping[str, Check] = {**API_CHECKS, **BEHAVIOUR_CHECKS}


def check_all(resources: list[Resource]) -> list[Finding]:
    findings = [
        Finding("coverage", type_token, "*", "", "type is neither API-checked nor listed in NOT_API_CHECKED")
        for type_token in unmapped_types(resources)
    ]
    for check in CHECKS.values():
        findings += check(resources)
    return findings
