"""DataCatalog: the environment's Glue database and one table per silver/gold dataset, with
partition projection so Athena can query new partitions without crawlers or MSCK REPAIR."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from data_platform.config import PlatformConfig

PARQUET_INPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"

# Earliest date partition Athena projects; older partitions would be invisible to queries.
PROJECTION_DATE_START = "2020-01-01"

# Spark `typeName()` -> Hive/Athena DDL type, for types without parameters.
_SIMPLE_TYPES = {
    "string": "string",
    "varchar": "string",
    "char": "string",
    "integer": "int",
    "long": "bigint",
    "short": "smallint",
    "byte": "tinyint",
    "double": "double",
    "float": "float",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamp",
    "timestamp_ntz": "timestamp",
    "binary": "binary",
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str


@dataclass(frozen=True)
class TableSchema:
    """A dataset's columns in Hive types; partition keys are not repeated in `columns`."""

    columns: tuple[Column, ...]
    partition_keys: tuple[Column, ...] = ()


def hive_type(data_type: Any) -> str:
    """Map a pyspark DataType (duck-typed: no pyspark import here) to its Hive/Athena type."""
    name = data_type.typeName()
    if name in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[name]
    if name == "decimal":
        return f"decimal({data_type.precision},{data_type.scale})"
    if name == "array":
        return f"array<{hive_type(data_type.elementType)}>"
    if name == "map":
        return f"map<{hive_type(data_type.keyType)},{hive_type(data_type.valueType)}>"
    if name == "struct":
        return "struct<" + ",".join(f"{f.name}:{hive_type(f.dataType)}" for f in data_type.fields) + ">"
    raise ValueError(f"Spark type {data_type!r} has no Hive equivalent for the Glue catalog; "
                     "use a supported type in the job's schema")


def table_schema(schema: Any, partition_columns: Sequence[str]) -> TableSchema:
    """A job's declared Spark schema as a catalog table (partition columns moved to keys)."""
    by_name = {f.name: f for f in schema.fields}
    missing = [c for c in partition_columns if c not in by_name]
    if missing:
        raise ValueError(f"partition column(s) {', '.join(missing)} are not in the schema")
    columns = tuple(Column(f.name, hive_type(f.dataType)) for f in schema.fields if f.name not in partition_columns)
    keys = tuple(Column(c, hive_type(by_name[c].dataType)) for c in partition_columns)
    return TableSchema(columns=columns, partition_keys=keys)


def table_location(bucket: str, dataset: str) -> str:
    return f"s3://{bucket}/{dataset}/"


def projection_parameters(bucket: str, dataset: str, partition_keys: Sequence[Column]) -> dict[str, str]:
    """Athena partition projection for date partition keys (Hive-style `col=value` folders).

    Only date keys can be projected without knowing their values in advance; a table with
    another partition key type gets no projection (register its partitions instead).
    """
    if not partition_keys or any(key.type != "date" for key in partition_keys):
        return {}
    parameters = {"projection.enabled": "true"}
    for key in partition_keys:
        parameters.update({
            f"projection.{key.name}.type": "date",
            f"projection.{key.name}.format": "yyyy-MM-dd",
            f"projection.{key.name}.range": f"{PROJECTION_DATE_START},NOW",
            f"projection.{key.name}.interval": "1",
            f"projection.{key.name}.interval.unit": "DAYS",
        })
    folders = "/".join(f"{key.name}=${{{key.name}}}" for key in partition_keys)
    parameters["storage.location.template"] = f"{table_location(bucket, dataset)}{folders}/"
    return parameters


def table_parameters(bucket: str, dataset: str, schema: TableSchema) -> dict[str, str]:
    return {
        "classification": "parquet",
        "EXTERNAL": "TRUE",
        "parquet.compression": "SNAPPY",
        **projection_parameters(bucket, dataset, schema.partition_keys),
    }


@dataclass(frozen=True)
class DataCatalogArgs:
    config: PlatformConfig
    tables: Mapping[str, TableSchema]  # job -> its dataset's schema


class DataCatalog(pulumi.ComponentResource):
    database_name: pulumi.Output[str]
    table_names: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: DataCatalogArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("datalake:catalog:DataCatalog", name, None, opts)
        self._base = name
        self._cfg = args.config

        database = aws.glue.CatalogDatabase(
            f"{name}-database",
            name=self._cfg.names.glue_database(),
            description=f"{self._cfg.names.base}: silver and gold datasets of the data lake",
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.table_names = {job: self._create_table(database, job, args.tables[job]).name for job in self._datasets()}
        self.database_name = database.name
        self.register_outputs({"database_name": self.database_name, "table_names": self.table_names})

    def _datasets(self) -> list[str]:
        jobs = list(self._cfg.dataset_jobs)
        seen: dict[tuple[str, str], str] = {}
        for job in jobs:
            job_cfg = self._cfg.jobs[job]
            where = (self._cfg.output_bucket(job), job_cfg.dataset)
            if where in seen:
                raise ValueError(f"jobs {seen[where]} and {job} both write dataset {job_cfg.dataset}; "
                                 "one table per dataset")
            seen[where] = job
        return jobs

    def _create_table(self, database: aws.glue.CatalogDatabase, job: str, schema: TableSchema) -> aws.glue.CatalogTable:
        dataset = self._cfg.jobs[job].dataset
        bucket = self._cfg.output_bucket(job)
        return aws.glue.CatalogTable(
            f"{self._base}-{dataset}",
            name=dataset,
            database_name=database.name,
            description=f"{self._cfg.jobs[job].layer.value} dataset written by {job}",
            table_type="EXTERNAL_TABLE",
            parameters=table_parameters(bucket, dataset, schema),
            partition_keys=[{"name": c.name, "type": c.type} for c in schema.partition_keys],
            storage_descriptor={
                "location": table_location(bucket, dataset),
                "input_format": PARQUET_INPUT_FORMAT,
                "output_format": PARQUET_OUTPUT_FORMAT,
                "ser_de_info": {
                    "name": "parquet",
                    "serialization_library": PARQUET_SERDE,
                    "parameters": {"serialization.format": "1"},
                },
                "columns": [{"name": c.name, "type": c.type} for c in schema.columns],
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
