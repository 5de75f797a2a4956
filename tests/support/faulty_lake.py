"""`python -m tests.support.faulty_lake <lake arguments>`: the `lake` CLI whose lakes run jobs
through `FaultyRunner`, planned by `LAKE_FAULT` (see tests/support/faults.py).

The CLI builds each lake's runner as `LocalLake` does (`data_platform.local.lake.LocalRunner`);
here that name is the faulty subclass for this process only. Training runs (`lake watch`)
build their own runner in `data_platform.local.training` and get no faults, as before.
"""

from __future__ import annotations

from unittest import mock

from data_platform.cli.app import main
from tests.support.faults import FaultPlan, FaultyRunner


def run(argv: list[str] | None = None) -> int:
    plan = FaultPlan.from_env()  # one plan per process: counts run across the process's runs

    def faulty_runner(*args: object, **kwargs: object) -> FaultyRunner:
        return FaultyRunner(*args, faults=plan, **kwargs)

    with mock.patch("data_platform.local.lake.LocalRunner", faulty_runner):
        return main(argv)


if __name__ == "__main__":
    raise SystemExit(run())
