from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Every `lake` the suite starts (and every process those start) runs its jobs in its own
# process: a warm engine would outlive the test that started it. tests/test_engine.py turns
# the engine on for its own commands and stops each engine it started.
os.environ["LAKE_ENGINE"] = "off"


@pytest.fixture(scope="session")
def spark():
    """One local SparkSession for the whole test run (JVM start is the slow part)."""
    from etl.session import local_spark

    session = local_spark("data-lake-tests")
    yield session
