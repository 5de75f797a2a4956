"""The vocabulary of a run, shared by every job and by the runners: `InputError` (an input a
job refuses), `RunSummary` (what a run reports), `JobContext` (what a run's steps share),
`ROW_SEQ`, and the two formats a summary's text uses.

`BaseGlueJob`, the class every job extends, is in `etl.job` (it builds on this module), and
can still be imported from here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pyspark.sql import SparkSession

from data_platform.contract.runs import SUCCESSFUL_RUN_STATES, RunState
from etl.args import JobArguments
from etl.storage import ObjectInfo, Storage

if TYPE_CHECKING:  # the name `__getattr__` below gives, for type checkers
    pass

ROW_SEQ = "_row_seq"  # position of a row in its source object (helper column, never stored)


class InputError(Exception):
    """The input cannot be read as this job's format; the message is one actionable line."""

    def __init__(self, message: str, source_key: str | None = None) -> None:
        super().__init__(message)
        self.source_key = source_key


@dataclass
class RunSummary:
    run_id: str
    job: str
    env: str
    trigger_source: str
    source_keys: list[str] = field(default_factory=list)
    state: RunState = RunState.FAILED
    rows_read: int = 0
    rows_written: int = 0
    rows_quarantined: int = 0
    quarantine_path: str | None = None
    # What the run committed: `<database>.<dataset>@<snapshot id>` (empty when nothing changed).
    outputs: list[str] = field(default_factory=list)
    rules_failed: dict[str, int] = field(default_factory=dict)
    warnings: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    error_kind: str | None = None  # data_quality | input | internal
    started_at: str = ""
    ended_at: str = ""
    # The run's stages, timed (etl.progress.StageClock): {"name", "seconds", "rows"}.
    stages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.state in SUCCESSFUL_RUN_STATES

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class JobContext:
    args: JobArguments
    spark: SparkSession
    storage: Storage
    run_id: str
    now: datetime
    source_prefix: str
    source_suffix: str
    inputs: list[ObjectInfo] = field(default_factory=list)
    rows_passed: int | None = None  # rows the quality gate let through (known before load)
    # Bounds of the first key column's non-null values in those rows, when the gate collected
    # them (etl.quality.GateResult.string_range); (None, None): every value null.
    first_key_range: tuple[Any, Any] | None = None
    # Set by a reader whose rows all come from one object: their `_source_key`, a constant the
    # held typed frame need not store (see BaseGlueJob._gate_transform_load).
    constant_source_key: str | None = None


def utc_timestamp(moment: datetime) -> str:
    """`2026-12-02T06:05:05Z`: how summaries and manifests write a moment."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def one_line(text: object, limit: int = 500) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def __getattr__(name: str) -> Any:
    # `from etl.base import BaseGlueJob` keeps working: etl.job imports this module, so this
    # one imports etl.job only when the name is asked for, never while either is loading.
    if name == "BaseGlueJob":
        from etl.job import BaseGlueJob

        return BaseGlueJob
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
