from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def spark():
    """One local SparkSession for the whole test run (JVM start is the slow part)."""
    from etl.session import local_spark

    session = local_spark("data-lake-tests")
    yield session
