"""Deploy checks of AWS behaviour that no API input shape shows.

`data_platform.fidelity` checks each request against its operation's shape; the rules here
look across resources, at how AWS behaves once they exist:

* `check_unique_names`    - two resources of one type never share a physical name (the
  second CreateRole/CreateQueue would fail, and one trigger would replace the other).
* `check_replace_safe_names` - a resource that AWS cannot update in place and that carries a
  fixed name must be replaced delete-first, or its name must change with its inputs.
* `check_confused_deputy` - a resource policy that lets an AWS service principal use the KMS
  key, publish to a topic or send to a queue carries `aws:SourceAccount`, and
  `aws:SourceArn` where the service sets it.

Each returns `fidelity.Finding`s (empty means clean). Like `fidelity`, this module imports
only the standard library, so the policy pack in `policy/` can use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from data_platform.fidelity import (
    Finding,
    Resource,
    _finding,
    _inputs,
    as_list,
    contains_unknown,
    iam_documents,
    is_component_type,
    parse_document,
    statements,
)

# --------------------------------------------------------------------------------------------
# Unique physical names

# The inputs that together name a resource where AWS keeps it unique; a type not listed is
# named by its `name` input (or, for S3's per-bucket settings, by its `bucket`).
NAME_SCOPES: Mapping[str, tuple[str, ...]] = {
    "aws:iam/rolePolicy:RolePolicy": ("role", "name"),
    "aws:cloudwatch/eventTarget:EventTarget": ("eventBusName", "rule", "targetId"),
    "aws:s3/bucketObjectv2:BucketObjectv2": ("bucket", "key"),
    "aws:scheduler/schedule:Schedule": ("groupName", "name"),
    "aws:glue/catalogTable:CatalogTable": ("catalogId", "databaseName", "name"),
    "aws:sns/topicSubscription:TopicSubscription": ("topic", "protocol", "endpoint"),
    "aws:sqs/queuePolicy:QueuePolicy": ("queueUrl",),
    "aws:sns/topicPolicy:TopicPolicy": ("arn",),
    "aws:kms/alias:Alias": ("name",),
}


def physical_identity(resource: Resource) -> tuple[str, ...] | None:
    """The values AWS keeps unique for this resource's type, or None when it has none here
    (components, providers, resources whose name AWS generates, unresolved values)."""
    type_token = str(resource.get("type"))
    if is_component_type(type_token) or type_token.startswith("pulumi:"):
        return None
    inputs = _inputs(resource)
    keys = NAME_SCOPES.get(type_token) or (("name",) if "name" in inputs else ("bucket",))
    values = tuple(inputs.get(key) for key in keys)
    if all(value is None for value in values) or contains_unknown(list(values)):
        return None
    return tuple("" if value is None else str(value) for value in values)


def check_unique_names(resources: Iterable[Resource]) -> list[Finding]:
    seen: dict[tuple[str, tuple[str, ...]], Resource] = {}
    findings = []
    for resource in resources:
        identity = physical_identity(resource)
        if identity is None:
            continue
        first = seen.setdefault((str(resource.get("type")), identity), resource)
        if first is not resource:
            findings.append(_finding("unique-names", resource, "name", (
                f"physical name {'/'.join(identity)!r} is also the name of '{first.get('name')}'; AWS would "
                "refuse the second (e.g. EntityAlreadyExists) - give each its own config key")))
    return findings


CHECKS: Mapping[str, Any] = {
    "unique-names": check_unique_names,
}
