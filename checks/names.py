"""Physical names: two resources of one type never share one, and a resource AWS cannot update
in place with a fixed name is replaced delete-first."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from checks.resources import Finding, Resource, contains_unknown, finding, inputs_of, is_component_type

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
    inputs = inputs_of(resource)
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
            findings.append(
                finding(
                    "unique-names",
                    resource,
                    "name",
                    (
                        f"physical name {'/'.join(identity)!r} is also the name of '{first.get('name')}'; AWS would "
                        "refuse the second (e.g. EntityAlreadyExists) - give each its own config key"
                    ),
                )
            )
    return findings


# --------------------------------------------------------------------------------------------
# Replace-safe names

# Types AWS cannot update in place at all: any change replaces them, and with a fixed name the
# replacement's Create fails while the old one exists, unless it is deleted first.
REPLACED_NOT_UPDATED: Mapping[str, str] = {
    "aws:glue/securityConfiguration:SecurityConfiguration": (
        "Glue has Create/Get/DeleteSecurityConfiguration and no update "
        "(https://docs.aws.amazon.com/glue/latest/webapi/API_CreateSecurityConfiguration.html)"
    ),
}


def replace_only_resources(resources: Iterable[Resource]) -> list[Resource]:
    return [r for r in resources if r.get("type") in REPLACED_NOT_UPDATED]


def check_replace_safe_names(resources: Iterable[Resource]) -> list[Finding]:
    findings = []
    for resource in replace_only_resources(resources):
        name = inputs_of(resource).get("name")
        delete_first = bool((resource.get("options") or {}).get("deleteBeforeReplace"))
        if isinstance(name, str) and name and not delete_first:
            findings.append(
                finding(
                    "replace-safe",
                    resource,
                    "name",
                    (
                        f"fixed name {name!r} on a type AWS cannot update ({REPLACED_NOT_UPDATED[str(resource.get('type'))]}): "
                        "a change would create the replacement under the same name and fail; declare it with "
                        "delete_before_replace=True or derive the name from its inputs"
                    ),
                )
            )
    return findings
