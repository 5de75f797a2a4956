"""A dataset's table as an Iceberg schema and partition spec (the JSON of the table spec), for
the Glue Data Catalog: the Pulumi catalog component declares each table with these, so Athena
sees the same table the jobs create (`etl.tables.table.create_table_sql`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import count
from typing import Any

from pyspark.sql.types import DataType, StructType

# Spark type name -> Iceberg primitive type. Spark's `timestamp` is a timestamp with time zone
# (an instant), which Iceberg calls `timestamptz` and Spark reads back as `timestamp`.
# https://iceberg.apache.org/spec/#primitive-types, https://iceberg.apache.org/docs/1.7.1/spark-getting-started/#spark-type-to-iceberg-type
_ICEBERG_PRIMITIVES = {
    "string": "string",
    "integer": "int",
    "long": "long",
    "float": "float",
    "double": "double",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamptz",
    "timestamp_ntz": "timestamp",
    "binary": "binary",
}
# Iceberg's own numbering when a table is created: the first partition field gets this id.
PARTITION_FIELD_ID_START = 1000


def iceberg_schema(schema: StructType) -> dict[str, Any]:
    """A dataset's Spark schema as an Iceberg schema (the JSON of the table spec), with field
    ids assigned as Iceberg does: each struct's fields first, then the types nested in them.

    Every field is optional, as `create_table_sql` creates them (its DDL has no NOT NULL), so a
    table made by the catalog reads back in Spark as exactly the spec's types. Types Iceberg
    has no equal for (Spark's byte, short, char, interval) are refused."""
    return {"type": "struct", "schema-id": 0, "fields": _iceberg_fields(schema, count(1).__next__)}


def _iceberg_fields(struct: StructType, next_id: Any) -> list[dict[str, Any]]:
    ids = [next_id() for _ in struct.fields]
    return [
        {"id": field_id, "name": f.name, "required": False, "type": _iceberg_type(f.dataType, next_id)}
        for field_id, f in zip(ids, struct.fields, strict=True)
    ]


def _iceberg_type(data_type: DataType, next_id: Any) -> Any:
    name = data_type.typeName()
    if name in _ICEBERG_PRIMITIVES:
        return _ICEBERG_PRIMITIVES[name]
    if name == "decimal":
        return f"decimal({data_type.precision},{data_type.scale})"  # type: ignore[attr-defined]
    if name == "struct":
        return {"type": "struct", "fields": _iceberg_fields(data_type, next_id)}  # type: ignore[arg-type]
    if name == "map":
        key_id, value_id = next_id(), next_id()
        return {
            "type": "map",
            "key-id": key_id,
            "key": _iceberg_type(data_type.keyType, next_id),  # type: ignore[attr-defined]
            "value-id": value_id,
            "value": _iceberg_type(data_type.valueType, next_id),  # type: ignore[attr-defined]
            "value-required": False,
        }
    if name == "array":
        element_id = next_id()
        return {
            "type": "list",
            "element-id": element_id,
            "element": _iceberg_type(data_type.elementType, next_id),  # type: ignore[attr-defined]
            "element-required": False,
        }
    raise ValueError(
        f"Spark type {data_type.simpleString()} has no Iceberg equal; use a supported type in the job's schema"
    )


def iceberg_partition_spec(schema: Mapping[str, Any], partition_columns: Sequence[str]) -> dict[str, Any]:
    """The identity partition spec on `partition_columns` (as `PARTITIONED BY (col)` makes it),
    for an Iceberg schema from `iceberg_schema`."""
    ids = {f["name"]: f["id"] for f in schema["fields"]}
    missing = [c for c in partition_columns if c not in ids]
    if missing:
        raise ValueError(f"partition column(s) {', '.join(missing)} are not in the schema")
    return {
        "spec-id": 0,
        "fields": [
            {
                "source-id": ids[column],
                "field-id": PARTITION_FIELD_ID_START + index,
                "name": column,
                "transform": "identity",
            }
            for index, column in enumerate(partition_columns)
        ],
    }
