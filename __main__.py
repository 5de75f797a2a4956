"""Pulumi entry point: typed config in, DataPlatform out. Wiring only; see data_platform/."""

import pulumi

from data_platform.config import CONFIG_KEY, CONFIG_NAMESPACE, StackConfig, parse_platform_config
from data_platform.program import build, stack_outputs

platform_config, warnings = parse_platform_config(
    pulumi.Config(CONFIG_NAMESPACE).require_object(CONFIG_KEY), source=f"Pulumi.{pulumi.get_stack()}.yaml"
)
for warning in warnings:
    pulumi.log.warn(str(warning))

stack = StackConfig(
    stack=pulumi.get_stack(),
    region=pulumi.Config("aws").get("region"),
    platform=platform_config,
    warnings=tuple(warnings),
)
platform = build(stack)

for output_name, value in stack_outputs(platform).items():
    pulumi.export(output_name, value)
