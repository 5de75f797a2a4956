"""Where a key of a YAML document is: line and column for every config problem.

PyYAML's composer keeps the start of every node (`Node.start_mark`); this walks the composed
document once and answers for a problem path as `ConfigError` prints it
(`config.data-lake:platform.jobs.sales_etl.schedule`, `...s3_rules.x.filters[0]`). A path that
goes deeper than the document (a required key that is missing) points at the deepest key
that exists, which is where the missing key belongs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@dataclass(frozen=True)
class Position:
    line: int  # 1-based, as editors count
    column: int  # 1-based

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}"


def path_parts(path: str) -> list[str | int]:
    """`a.b[0].c` -> ['a', 'b', 0, 'c']."""
    return [int(index) if index else name for name, index in _PART.findall(path)]


class YamlPositions:
    """The positions of the keys and items of one YAML text."""

    def __init__(self, text: str) -> None:
        self._root = yaml.compose(text)

    def find(self, path: str) -> Position | None:
        node, position = self._root, None
        for part in path_parts(path):
            found = _child(node, part)
            if found is None:
                break
            position, node = found
        return position


def _child(node: yaml.Node | None, part: str | int) -> tuple[Position, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == part:
                return _position(key), value
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        item = node.value[part]
        return _position(item), item
    return None


def _position(node: yaml.Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)
