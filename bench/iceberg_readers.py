"""Reading the lake's Iceberg tables without Spark: DuckDB with its Iceberg extension.

DuckDB normally downloads extensions at `LOAD`; the `duckdb-ext-iceberg` and `duckdb-ext-avro`
wheels (pinned in requirements.lock, built for the pinned DuckDB) carry them instead, so a
machine without access to DuckDB's extension repository reads Iceberg tables too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import duckdb


def extension_directory() -> Path:
    """The folder holding `v<duckdb version>/<platform>/*.duckdb_extension` from the wheels."""
    import duckdb_ext  # namespace package of the duckdb-ext-* wheels

    return Path(next(iter(duckdb_ext.__path__))) / "extensions"


@contextlib.contextmanager
def duckdb_connection() -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection with `iceberg_scan(<metadata.json>)` available, nothing downloaded."""
    connection = duckdb.connect(
        config={"extension_directory": str(extension_directory()), "autoinstall_known_extensions": "false"}
    )
    try:
        connection.execute("LOAD iceberg")
        yield connection
    finally:
        connection.close()
