"""Fault injection for the tests: a local runner that refuses slots and fails attempts on cue.

The product's runner has no test hooks; `FaultyRunner` overrides the two seams a real failure
takes (`LocalRunner._try_slot`: Glue refused to start the run; `_one_attempt`: the attempt
failed), and tests hand it to `LocalLake(runner=...)`. For the CLI in a subprocess,
`python -m tests.support.faulty_lake` builds the same `lake` with this runner, planned by the
`LAKE_FAULT` environment variable, comma-separated `kind:job:count`:

- `transient:sales_etl:1` - the first attempt of `sales_etl` in this process fails with a
  transient internal error before the job is called (the runner re-runs it, as Glue would);
- `concurrency:sales_etl:3` - the first 3 slot requests of `sales_etl` in this process are
  refused as if the job were at its concurrency limit (the runner's retry handles them).

Counts are per process, across runs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from data_platform.local.records import JobOutcome
from data_platform.local.runner import LocalRunner, RunRequest

FAULT_ENV = "LAKE_FAULT"
REPO = Path(__file__).resolve().parents[2]


class FaultSpecError(ValueError):
    pass


@dataclass
class FaultPlan:
    """Parsed `LAKE_FAULT`; remaining counts per (kind, job), consumed as faults fire."""

    remaining: dict[tuple[str, str], int] = field(default_factory=dict)

    KINDS = ("transient", "concurrency")

    @classmethod
    def parse(cls, spec: str | None) -> FaultPlan:
        plan = cls()
        for item in filter(None, (part.strip() for part in (spec or "").split(","))):
            parts = item.split(":")
            if len(parts) != 3 or parts[0] not in cls.KINDS or not parts[2].isdigit():
                raise FaultSpecError(
                    f"{FAULT_ENV} item '{item}' is malformed; use kind:job:count with kind one of "
                    f"{', '.join(cls.KINDS)}, e.g. transient:sales_etl:1"
                )
            plan.remaining[(parts[0], parts[1])] = int(parts[2])
        return plan

    @classmethod
    def from_env(cls) -> FaultPlan:
        return cls.parse(os.environ.get(FAULT_ENV))

    def take(self, kind: str, job: str) -> bool:
        left = self.remaining.get((kind, job), 0)
        if left <= 0:
            return False
        self.remaining[(kind, job)] = left - 1
        return True


class FaultyRunner(LocalRunner):
    """The local runner, with slot refusals and failed attempts as `faults` plans them."""

    def __init__(self, *args: Any, faults: FaultPlan | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.faults = faults if faults is not None else FaultPlan.from_env()

    def _try_slot(self, request: RunRequest) -> bool:
        if self.faults.take("concurrency", request.job):
            return False
        return super()._try_slot(request)

    def _one_attempt(self, request: RunRequest, attempt: int) -> JobOutcome:
        if self.faults.take("transient", request.job):
            return JobOutcome.failure(f"{FAULT_ENV}: injected transient failure of {request.job} (attempt {attempt})")
        return super()._one_attempt(request, attempt)


def lake_command(env: Mapping[str, str], lake: Path) -> tuple[list[str], dict[str, str]]:
    """How a test runs `lake` in a subprocess: the installed command, or - when `env` plans
    faults - the same CLI through `tests.support.faulty_lake` (with the repository on the
    import path, whatever the working directory)."""
    env = dict(env)
    if not env.get(FAULT_ENV):
        env.pop(FAULT_ENV, None)
        return ([str(lake)] if lake.exists() else [sys.executable, "-m", "data_platform.cli"]), env
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    return [sys.executable, "-m", "tests.support.faulty_lake"], env
