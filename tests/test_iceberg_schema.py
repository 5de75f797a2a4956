"""The Iceberg schema the catalog declares for each dataset (`etl.tables.iceberg_schema`):
field ids and types as Iceberg assigns them, and a table made from it reads back in Spark as
exactly the job's declared schema (what `IcebergTable.ensure` compares)."""

from __future__ import annotations

import json

import pytest
from pyspark.sql import types as T

from etl.tables import iceberg_partition_spec, iceberg_schema


def test_primitive_types_and_ids_follow_the_column_order():
    schema = T.StructType(
        [
            T.StructField("id", T.StringType()),
            T.StructField("n", T.IntegerType()),
            T.StructField("big", T.LongType()),
            T.StructField("price", T.DecimalType(12, 2)),
            T.StructField("day", T.DateType()),
            T.StructField("at", T.TimestampType()),
            T.StructField("local", T.TimestampNTZType()),
            T.StructField("ok", T.BooleanType()),
            T.StructField("x", T.DoubleType()),
            T.StructField("raw", T.BinaryType()),
        ]
    )
    fields = iceberg_schema(schema)["fields"]
    assert [(f["id"], f["name"], f["type"]) for f in fields] == [
        (1, "id", "string"),
        (2, "n", "int"),
        (3, "big", "long"),
        (4, "price", "decimal(12,2)"),
        (5, "day", "date"),
        (6, "at", "timestamptz"),
        (7, "local", "timestamp"),
        (8, "ok", "boolean"),
        (9, "x", "double"),
        (10, "raw", "binary"),
    ]
    assert not any(f["required"] for f in fields)  # as create_table_sql makes them: no NOT NULL


def test_the_products_map_column_gets_ids_after_the_top_level_fields():
    from etl.jobs import REGISTRY

    schema = iceberg_schema(REGISTRY["product_catalog"].schema)
    top = len(schema["fields"])
    [attributes] = [f for f in schema["fields"] if f["name"] == "attributes"]
    assert attributes["type"] == {
        "type": "map",
        "key-id": top + 1,
        "key": "string",
        "value-id": top + 2,
        "value": "string",
        "value-required": False,
    }
    assert (schema["type"], schema["schema-id"]) == ("struct", 0)


def test_nested_structs_and_lists_are_numbered_breadth_first():
    inner = T.StructType([T.StructField("a", T.StringType()), T.StructField("b", T.ArrayType(T.LongType()))])
    schema = iceberg_schema(
        T.StructType([T.StructField("s", inner), T.StructField("tags", T.ArrayType(T.StringType()))])
    )
    s, tags = schema["fields"]
    assert (s["id"], tags["id"]) == (1, 2)
    assert [(f["id"], f["name"]) for f in s["type"]["fields"]] == [(3, "a"), (4, "b")]
    assert s["type"]["fields"][1]["type"] == {
        "type": "list",
        "element-id": 5,
        "element": "long",
        "element-required": False,
    }
    assert tags["type"]["element-id"] == 6


def test_types_iceberg_has_no_equal_for_are_refused():
    with pytest.raises(ValueError, match="smallint has no Iceberg equal"):
        iceberg_schema(T.StructType([T.StructField("s", T.ShortType())]))


def test_the_identity_partition_spec_names_the_partition_columns_by_field_id():
    from etl.jobs import REGISTRY

    schema = iceberg_schema(REGISTRY["sales_etl"].schema)
    order_date = next(f["id"] for f in schema["fields"] if f["name"] == "order_date")
    assert iceberg_partition_spec(schema, ["order_date"]) == {
        "spec-id": 0,
        "fields": [{"source-id": order_date, "field-id": 1000, "name": "order_date", "transform": "identity"}],
    }
    assert iceberg_partition_spec(schema, []) == {"spec-id": 0, "fields": []}
    with pytest.raises(ValueError, match="not in the schema"):
        iceberg_partition_spec(schema, ["missing"])


@pytest.mark.spark
@pytest.mark.parametrize("job", ["sales_etl", "product_catalog", "inventory_sync", "customer_import", "sales_daily"])
def test_a_table_created_from_the_declared_schema_is_the_one_the_job_expects(spark, tmp_path, job):
    """A table made by another engine from the Iceberg schema (pyiceberg here, Glue's CreateTable
    in the cloud) passes the job's own check and is partitioned as the job writes it."""
    from pyiceberg.catalog.sql import SqlCatalog
    from pyiceberg.partitioning import PartitionSpec
    from pyiceberg.schema import Schema

    from etl.catalog import CATALOG, prepare_local_catalog, pyiceberg_catalog_properties
    from etl.jobs import REGISTRY
    from etl.session import table_session
    from etl.tables import TABLE_PROPERTIES, DatasetSpec, IcebergTable

    job_class = REGISTRY[job]
    schema = iceberg_schema(job_class.schema)
    spec = DatasetSpec(
        database="data_lake_dev",
        dataset=job_class.dataset,
        location=str(tmp_path / "bucket" / job_class.dataset),
        schema=job_class.schema,
        key_columns=tuple(job_class.key_columns),
        partition_columns=tuple(job_class.partition_columns),
    )
    prepare_local_catalog(tmp_path)
    made = SqlCatalog(CATALOG, **pyiceberg_catalog_properties(tmp_path))
    made.create_namespace_if_not_exists(spec.database)
    made.create_table(
        f"{spec.database}.{spec.dataset}",
        Schema.model_validate_json(json.dumps(schema)),
        location=spec.location,
        partition_spec=PartitionSpec.model_validate(iceberg_partition_spec(schema, job_class.partition_columns)),
        properties={k: v for k, v in TABLE_PROPERTIES.items() if k != "format-version"},
    )
    made.engine.dispose()
    table = IcebergTable(table_session(spark, str(tmp_path)), spec)
    table.ensure()  # raises when a column's name or Spark type differs from the spec
    stored = table.read().schema
    assert [(f.name, f.dataType.simpleString()) for f in stored.fields] == [
        (f.name, f.dataType.simpleString()) for f in job_class.schema.fields
    ]
    ddl = table.spark.sql(f"SHOW CREATE TABLE {spec.identifier}").first()[0]
    partitioned = f"PARTITIONED BY ({', '.join(job_class.partition_columns)})"
    assert (partitioned in ddl) == bool(job_class.partition_columns), ddl
