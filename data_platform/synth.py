"""Synthesize a stack without the Pulumi CLI or an AWS account.

Runs the very program `pulumi up` runs (`data_platform.program.build`) under Pulumi's mocks
and returns every resource it declares, components included, in declaration order:

    {"type": "aws:s3/bucket:Bucket", "name": "data-lake-dev-storage-bronze",
     "parent": "data-lake-dev-storage", "inputs": {...fully resolved...},
     "options": {"deleteBeforeReplace": false, "ignoreChanges": [], "protect": false}}

How parents and order are captured: a stack transformation (run synchronously in every
Resource constructor, in declaration order) records each resource's type, name and parent
object; a recording MockMonitor receives the resolved inputs and the parent URN of each
registration. Both are keyed by the resource's path of (type, name) pairs from the stack
root, which is unique, and joined.

    python -m data_platform.synth --stack dev [--json] [--project-dir .]
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from data_platform.config import ConfigError, StackConfig, load_stack

ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"
PROJECT = "data-lake"

ResourcePath = tuple[tuple[str, str], ...]  # ((type, name), ...) from the stack root


# --------------------------------------------------------------------------------------------
# Mocks: plausible physical ids, names and ARNs.


@dataclass(frozen=True)
class _ArnFormat:
    service: str
    resource: str  # format with {name}; may use {group}, {database}
    regional: bool = True
    with_account: bool = True


_ARNS: dict[str, _ArnFormat] = {
    "aws:s3/bucket:Bucket": _ArnFormat("s3", "{name}", regional=False, with_account=False),
    "aws:kms/key:Key": _ArnFormat("kms", "key/{key_id}"),
    "aws:kms/alias:Alias": _ArnFormat("kms", "{name}"),
    "aws:iam/role:Role": _ArnFormat("iam", "role/{name}", regional=False),
    "aws:glue/job:Job": _ArnFormat("glue", "job/{name}"),
    "aws:glue/catalogDatabase:CatalogDatabase": _ArnFormat("glue", "database/{name}"),
    "aws:glue/catalogTable:CatalogTable": _ArnFormat("glue", "table/{database}/{name}"),
    "aws:sfn/stateMachine:StateMachine": _ArnFormat("states", "stateMachine:{name}"),
    "aws:cloudwatch/logGroup:LogGroup": _ArnFormat("logs", "log-group:{name}"),
    "aws:cloudwatch/eventRule:EventRule": _ArnFormat("events", "rule/{name}"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": _ArnFormat("cloudwatch", "alarm:{name}"),
    "aws:sqs/queue:Queue": _ArnFormat("sqs", "{name}"),
    "aws:sns/topic:Topic": _ArnFormat("sns", "{name}"),
    "aws:sns/topicSubscription:TopicSubscription": _ArnFormat("sns", "{topic_name}:{key_id}"),
    "aws:scheduler/scheduleGroup:ScheduleGroup": _ArnFormat("scheduler", "schedule-group/{name}"),
    "aws:scheduler/schedule:Schedule": _ArnFormat("scheduler", "schedule/{group}/{name}"),
}

# Where a resource type keeps its physical name among its inputs.
_NAME_INPUTS = ("name", "bucket")


class PlatformMocks(pulumi.runtime.Mocks):
    """Returns inputs plus the outputs the program reads (arn, name, url, key_id, ...)."""

    def __init__(self, region: str = DEFAULT_REGION, account_id: str = ACCOUNT_ID, partition: str = "aws") -> None:
        self.region = region
        self.account_id = account_id
        self.partition = partition

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if not args.custom and not args.typ.startswith("pulumi:providers:"):
            return f"{args.name}-id", dict(args.inputs)
        inputs = dict(args.inputs)
        name = next((inputs[k] for k in _NAME_INPUTS if isinstance(inputs.get(k), str)), args.name)
        outputs = {**inputs, "name": inputs.get("name", name)}
        key_id = str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{args.typ}/{args.name}"))
        physical_id = name
        fmt = _ARNS.get(args.typ)
        if fmt is not None:
            topic = str(inputs.get("topic", "")).rsplit(":", 1)[-1]
            resource = fmt.resource.format(
                name=name,
                key_id=key_id,
                group=inputs.get("groupName", "default"),
                database=inputs.get("databaseName", ""),
                topic_name=topic,
            )
            outputs["arn"] = self._arn(fmt, resource)
        if args.typ == "aws:kms/key:Key":
            outputs["keyId"] = key_id
            physical_id = key_id
        elif args.typ == "aws:sqs/queue:Queue":
            outputs["url"] = f"https://sqs.{self.region}.amazonaws.com/{self.account_id}/{name}"
            physical_id = outputs["url"]
        elif args.typ in ("aws:sfn/stateMachine:StateMachine", "aws:sns/topic:Topic"):
            physical_id = outputs["arn"]
        elif args.typ == "aws:s3/bucket:Bucket":
            outputs["bucket"] = name
        elif args.typ == "aws:iam/role:Role":
            outputs["uniqueId"] = "AROA" + key_id.replace("-", "")[:17].upper()
        return physical_id, outputs

    def _arn(self, fmt: _ArnFormat, resource: str) -> str:
        region = self.region if fmt.regional else ""
        account = self.account_id if fmt.with_account else ""
        return f"arn:{self.partition}:{fmt.service}:{region}:{account}:{resource}"

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return self._call_outputs(args), []  # the outputs, no check failures

    def _call_outputs(self, args: pulumi_mocks.MockCallArgs) -> dict[str, Any]:
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": self.account_id,
                "arn": f"arn:{self.partition}:iam::{self.account_id}:user/synth",
                "userId": "AIDASYNTH",
                "id": self.account_id,
            }
        if args.token == "aws:index/getRegion:getRegion":
            return {
                "region": self.region,
                "name": self.region,
                "id": self.region,
                "endpoint": f"{self.region}.amazonaws.com",
                "description": self.region,
            }
        if args.token == "aws:index/getPartition:getPartition":
            return {
                "partition": self.partition,
                "id": self.partition,
                "dnsSuffix": "amazonaws.com",
                "reverseDnsPrefix": "com.amazonaws",
            }
        return {}


# --------------------------------------------------------------------------------------------
# Recording: declaration order and parents (transformation) + resolved inputs (monitor).


@dataclass
class _Registration:
    path: ResourcePath
    custom: bool
    inputs: dict[str, Any]
    delete_before_replace: bool = False
    ignore_changes: tuple[str, ...] = ()
    protect: bool = False


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A MockMonitor that also keeps what every RegisterResource request carried."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: dict[ResourcePath, _Registration] = {}
        self._paths: dict[str, ResourcePath] = {}

    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            path = self._paths.get(request.parent, ()) + ((request.type, request.name),)
            self._paths[response.urn] = path
            inputs = rpc.deserialize_properties(request.object)
            self.registrations[path] = _Registration(
                path=path,
                custom=bool(request.custom),
                inputs=inputs,
                delete_before_replace=bool(request.deleteBeforeReplace),
                ignore_changes=tuple(request.ignoreChanges),
                protect=bool(request.protect),
            )
        return response


class DeclarationRecorder:
    """A stack transformation that records every resource as it is constructed."""

    def __init__(self) -> None:
        self.order: list[ResourcePath] = []
        self._paths: dict[int, ResourcePath] = {}

    def __call__(self, args: pulumi.ResourceTransformationArgs) -> None:
        parent = args.opts.parent if args.opts is not None else None
        parent_path = self._paths.get(id(parent), ()) if parent is not None else ()
        path = parent_path + ((args.type_, args.name),)
        self._paths[id(args.resource)] = path
        self.order.append(path)
        return None


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        # Sorted: the monitor receives protobuf structs, whose key order is not meaningful.
        return {str(k): _jsonable(v) for k, v in sorted(value.items(), key=lambda item: str(item[0]))}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, pulumi.FileAsset):
        return {"asset": "file", "path": Path(value.path).name}
    if isinstance(value, pulumi.StringAsset):
        return {"asset": "string", "text": value.text}
    if isinstance(value, pulumi.Resource):
        return {"resource": getattr(value, "_name", repr(value))}
    return repr(value)


def _run_program(
    program: Callable[[], None], mocks: PlatformMocks, stack: str
) -> tuple[DeclarationRecorder, RecordingMonitor]:
    monitor = RecordingMonitor(mocks)
    recorder = DeclarationRecorder()
    # Pulumi keeps one root stack per process context; start from a fresh one and leave none
    # behind, so synthesis can run repeatedly (dev, then prod) and beside mock-based tests.
    settings.ROOT.set(None)
    # Pulumi's runtime allocates some 80 objects per resource (outputs, futures, tasks), all
    # alive until the program ends: the cyclic GC would rescan them again and again to free
    # almost nothing; reference counting still frees the rest (bench/RESULTS.md, "Scale").
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
        pulumi.runtime.register_stack_transformation(recorder)
        settings.SETTINGS.rpc_manager.clear()
        settings.SETTINGS.outputs.clear()
        _sync_await(run_pulumi_func(program))
    finally:
        settings.ROOT.set(None)
        if gc_was_enabled:
            gc.enable()
    return recorder, monitor


def record(program: Callable[[], Any], *, stack: str = "synth", region: str = DEFAULT_REGION) -> list[dict[str, Any]]:
    """Run `program` (anything that declares resources) under mocks; return its resources."""

    def run() -> None:
        program()  # its return value (a component, say) is not the runtime's business

    recorder, monitor = _run_program(run, PlatformMocks(region=region), stack)
    resources = []
    for path in recorder.order:
        registration = monitor.registrations.get(path)
        if registration is None:
            raise RuntimeError(f"resource {path[-1][1]} ({path[-1][0]}) was declared but never registered")
        resources.append(
            {
                "type": path[-1][0],
                "name": path[-1][1],
                "parent": path[-2][1] if len(path) > 1 else None,
                "inputs": _jsonable(registration.inputs),
                # Resource options the deploy checks judge (e.g. replace-safe names).
                "options": {
                    "deleteBeforeReplace": registration.delete_before_replace,
                    "ignoreChanges": list(registration.ignore_changes),
                    "protect": registration.protect,
                },
            }
        )
    return resources


def synthesize(stack: StackConfig, **build_options: Any) -> list[dict[str, Any]]:
    """Every resource `program.build(stack)` declares, in declaration order (see module doc).

    `build_options` go to `program.build` (e.g. another `etl_dir`).
    """
    from data_platform.program import build, stack_outputs

    def program() -> None:
        for name, value in stack_outputs(build(stack, **build_options)).items():
            pulumi.export(name, value)

    return record(program, stack=stack.stack, region=stack.region or DEFAULT_REGION)


def render_tree(resources: Sequence[dict[str, Any]]) -> str:
    """An indented tree, children under their parent, in declaration order."""
    children: dict[str | None, list[dict[str, Any]]] = {}
    for resource in resources:
        children.setdefault(resource["parent"], []).append(resource)
    lines: list[str] = []

    def walk(parent: str | None, depth: int) -> None:
        for resource in children.get(parent, []):
            lines.append(f"{'  ' * depth}{resource['name']}  ({resource['type']})")
            walk(resource["name"], depth + 1)

    walk(None, 0)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m data_platform.synth", description="Synthesize a stack's resources under Pulumi mocks (no AWS)."
    )
    parser.add_argument("--stack", required=True, help="stack name, e.g. dev (reads Pulumi.<stack>.yaml)")
    parser.add_argument("--project-dir", default=".", help="directory holding Pulumi.<stack>.yaml")
    parser.add_argument("--json", action="store_true", help="print the resources as JSON instead of a tree")
    options = parser.parse_args(argv)
    try:
        stack = load_stack(options.stack, options.project_dir)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    resources = synthesize(stack)
    if options.json:
        print(json.dumps(resources, indent=2, sort_keys=False))
    else:
        print(render_tree(resources))
        print(f"\n{len(resources)} resources in stack {stack.stack}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
