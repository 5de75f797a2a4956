"""The local runtime's records, typed from where they are made to where they are printed.

A run's life: the runner calls the job function, which returns the job's summary (etl's
`RunSummary.to_dict()`), or decides a failure itself (no slot, a crash); either becomes a
`JobOutcome`. The run history stores it with the run's trigger and attempts and reads it back
as a `RunRecord`, which the CLI prints as a table row and, with `--json`, as `to_dict()`.
States are the contract's enums (`RunState`, `ErrorKind`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from data_platform.contract.runs import SUCCESSFUL_RUN_STATES, ErrorKind, RunState


@dataclass(frozen=True)
class JobOutcome:
    """How one attempt of a run ended."""

    state: RunState
    rows_read: int | None = None
    rows_written: int | None = None
    rows_quarantined: int | None = None
    quarantine_path: str | None = None
    # What the run committed: `<database>.<dataset>@<snapshot id>` (empty when nothing changed).
    outputs: tuple[str, ...] = ()
    rules_failed: Mapping[str, Any] = field(default_factory=dict)
    warnings: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    error_kind: ErrorKind | None = None
    # The run's stages as the job timed them: {"name", "seconds", "rows"} (etl.progress).
    stages: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def from_summary(cls, summary: Mapping[str, Any]) -> JobOutcome:
        """The job's summary (`RunSummary.to_dict()`-shaped; a summary without a state failed)."""
        kind = summary.get("error_kind")
        return cls(
            state=RunState(summary.get("state") or RunState.FAILED),
            rows_read=summary.get("rows_read"),
            rows_written=summary.get("rows_written"),
            rows_quarantined=summary.get("rows_quarantined"),
            quarantine_path=summary.get("quarantine_path"),
            outputs=tuple(summary.get("outputs") or ()),
            rules_failed=dict(summary.get("rules_failed") or {}),
            warnings=dict(summary.get("warnings") or {}),
            error=summary.get("error"),
            error_kind=ErrorKind(kind) if kind else None,
            stages=tuple(summary.get("stages") or ()),
        )

    @classmethod
    def failure(cls, error: str, kind: ErrorKind = ErrorKind.INTERNAL) -> JobOutcome:
        """A failure the runner decided (no row was read or written)."""
        return cls(state=RunState.FAILED, error=error, error_kind=kind)

    @property
    def retryable(self) -> bool:
        """A transient failure (a lost executor, a crash): the runner re-runs it. A data-quality
        or input failure would fail the same way again."""
        return self.state is RunState.FAILED and self.error_kind is ErrorKind.INTERNAL


@dataclass(frozen=True)
class RunRecord:
    """One run as the run history holds it: its trigger, its state and what it did."""

    run_id: str
    job: str
    glue_job: str
    env: str
    trigger_source: str
    trigger_name: str
    source_bucket: str
    source_key: str
    upstream_job: str
    upstream_run_id: str
    event_id: str
    state: RunState
    started_at: str
    ended_at: str | None
    rows_read: int | None
    rows_written: int | None
    rows_quarantined: int | None
    quarantine_path: str | None
    outputs: list[str] | None
    rules_failed: dict[str, Any] | None
    warnings: dict[str, Any] | None
    error: str | None
    error_kind: ErrorKind | None
    attempts: int
    stages: list[dict[str, Any]] | None

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> RunRecord:
        """From the history's columns (JSON columns decoded)."""
        kind = values["error_kind"]
        return cls(
            **{
                **{name: values[name] for name in RUN_FIELDS},
                "state": RunState(values["state"]),
                "error_kind": ErrorKind(kind) if kind else None,
            }
        )

    @property
    def failed(self) -> bool:
        return self.state is RunState.FAILED

    @property
    def succeeded(self) -> bool:
        return self.state in SUCCESSFUL_RUN_STATES

    def to_dict(self) -> dict[str, Any]:
        """Every field as plain JSON values (`lake runs --json`)."""
        values = {name: getattr(self, name) for name in RUN_FIELDS}
        values["state"] = self.state.value
        values["error_kind"] = self.error_kind.value if self.error_kind else None
        return values


RUN_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(RunRecord))


@dataclass(frozen=True)
class AlertRecord:
    """One message of the alerts outbox (the local twin of the SNS alert topic)."""

    id: int
    created_at: str
    topic: str
    subject: str
    message: str
    job: str
    run_id: str
    state: str

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in ALERT_FIELDS}


ALERT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(AlertRecord))
