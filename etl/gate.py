"""The gate a run's rows pass twice (etl.quality runs the rules): the raw checks on the rows
as read, and the quality gate on the typed rows. What it decides goes into the run's summary.

- Passed: the rows go on; rows a `drop` rule stopped go to quarantine with the rules they
  broke, and the summary counts them.
- Failed (a `fail` rule broke, or the drops passed the job's threshold): nothing is written;
  the whole input goes to quarantine, each row tagged with the row rules it breaks, and the
  run fails with the gate's reason as a `data_quality` error.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from data_platform.contract.runs import RunState
from etl.base import ROW_SEQ, RunSummary, one_line
from etl.quality import FAILED_RULES_COLUMN, Action, GateResult, Rule, run_gate
from etl.quarantine import Quarantine


class Gate:
    """The two checks of one run."""

    def __init__(self, *, job: str, max_drop_ratio: float, quarantine: Quarantine, summary: RunSummary) -> None:
        self.job = job
        self.max_drop_ratio = max_drop_ratio
        self.quarantine = quarantine
        self.summary = summary
        # The check whose validation went to quarantine with the rows (the run's Data Docs).
        self.quarantined: GateResult | None = None

    def check_raw(self, raw: DataFrame, rules: Sequence[Rule]) -> GateResult:
        """The raw rules on the rows as read (they count the rows the run read)."""
        gate = run_gate(raw, rules, suite_name=f"{self.job}.raw", max_drop_ratio=self.max_drop_ratio)
        self.summary.rows_read = gate.rows_in
        self._note(gate)
        if not gate.ok:
            self._fail(raw.drop(ROW_SEQ), gate, rules)
        return gate

    def check_quality(self, typed: DataFrame, rules: Sequence[Rule], *, expected_rows: int | None = None) -> GateResult:
        """The quality rules on the typed rows; when it passes, `passed` (or `typed` itself, if
        None) is what the run loads. `expected_rows`: see etl.quality.run_gate."""
        gate = run_gate(
            typed,
            rules,
            suite_name=f"{self.job}.quality",
            max_drop_ratio=self.max_drop_ratio,
            expected_rows=expected_rows,
        )
        self._note(gate)
        if not gate.ok:
            self._fail(typed, gate, rules)
        elif gate.quarantined is not None:
            self._quarantine_dropped(gate, gate.quarantined)
        return gate

    def _note(self, gate: GateResult) -> None:
        summary = self.summary
        summary.rules_failed.update({k: v for k, v in gate.failed_rules.items() if k not in gate.warnings})
        summary.warnings.update(gate.warnings)

    def _quarantine_dropped(self, gate: GateResult, dropped: DataFrame) -> None:
        summary = self.summary
        try:  # the gate may have cached the quarantined rows as it counted them
            if gate.rows_quarantined:
                summary.rows_quarantined = gate.rows_quarantined
                summary.quarantine_path = self.quarantine.write_rows(
                    dropped, gate, reason=None, source_keys=summary.source_keys
                )
                self.quarantined = gate
        finally:
            dropped.unpersist()

    def _fail(self, whole_input: DataFrame, gate: GateResult, rules: Sequence[Rule]) -> None:
        """The whole input goes to quarantine; each row is tagged with the row rules it breaks
        (a row breaking none was stopped by the table-level verdict in validation.json)."""
        summary = self.summary
        summary.state, summary.error_kind = RunState.FAILED, "data_quality"
        summary.error = one_line(gate.reason or "quality gate failed")
        summary.rows_quarantined = gate.rows_in
        broken = [
            (r.name, predicate) for r in rules
            if r.name in gate.failed_rules and r.action is not Action.WARN
            and (predicate := r.row_predicate()) is not None
        ]  # fmt: skip
        flags = [F.when(~predicate, F.lit(name)) for name, predicate in broken]
        tags = F.array_compact(F.array(*flags)) if flags else F.array().cast("array<string>")
        tagged = whole_input.withColumn(FAILED_RULES_COLUMN, tags)
        summary.quarantine_path = self.quarantine.write_rows(
            tagged, gate, reason=summary.error, source_keys=summary.source_keys
        )
        self.quarantined = gate
