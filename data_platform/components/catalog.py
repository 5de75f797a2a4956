"""DataCatalog: the environment's Glue database and one Apache Iceberg table per silver/gold
dataset, created in the Glue Data Catalog so Athena can query, time-travel and optimize them
from the first deploy on (https://docs.aws.amazon.com/athena/latest/ug/querying-iceberg.html).

Glue creates each table from its Iceberg schema, partition spec and properties (CreateTable's
`OpenTableFormatInput`, metadata operation CREATE): it writes the table's first metadata file
and points the table's `metadata_location` parameter at it. From then on the table belongs to
Iceberg: every commit of a job swaps `metadata_location` (and rewrites the columns Glue shows),
and Glue's UpdateTable cannot change an Iceberg table's schema, which lives in the metadata
files. An update from Pulumi would send its own parameters without the current
`metadata_location` and break the table, so Pulumi never updates a table after creating it
(`ignore_changes` on every field Glue and Iceberg own); schema changes go through the tables
themselves (`ALTER TABLE` in Spark or Athena). See
https://aws.amazon.com/blogs/big-data/introducing-aws-glue-crawler-and-create-table-support-for-apache-iceberg-format/,
https://github.com/aws-cloudformation/cloudformation-coverage-roadmap/issues/1919 and
https://github.com/hashicorp/terraform-provider-aws/issues/36641.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from data_platform.config import PlatformConfig

ICEBERG_METADATA_OPERATION = "CREATE"  # the only operation CreateTable's IcebergInput has
# The inputs of aws.glue.CatalogTable that Glue and Iceberg own once the table exists (Python
# names; the SDK translates them). Only the table's identity (name, database) stays managed:
# changing it is a new table.
ICEBERG_OWNED_INPUTS: tuple[str, ...] = (
    "description",
    "owner",
    "parameters",
    "partition_keys",
    "retention",
    "storage_descriptor",
    "table_type",
    "open_table_format_input",
)


@dataclass(frozen=True)
class IcebergTableDefinition:
    """A dataset's table as Iceberg describes it (etl.tables.iceberg_schema,
    etl.tables.iceberg_partition_spec): JSON-shaped mappings, no pyspark here."""

    schema: Mapping[str, Any]
    partition_spec: Mapping[str, Any]
    properties: Mapping[str, str]  # etl.tables.TABLE_PROPERTIES


def table_location(bucket: str, dataset: str) -> str:
    """The table's root, as the jobs create it (`etl.job.BaseGlueJob.spec`)."""
    return f"s3://{bucket}/{dataset}"


def iceberg_table_input(
    definition: IcebergTableDefinition, location: str
) -> aws.glue.CatalogTableOpenTableFormatInputArgsDict:
    """`open_table_format_input` of aws.glue.CatalogTable. A field's type is an Iceberg type as
    JSON text (the provider sends it as a JSON document); `format-version` is the table's
    version, not a property (Iceberg reserves it)."""
    properties = dict(definition.properties)
    version = properties.pop("format-version", "2")
    return {
        "iceberg_input": {
            "metadata_operation": ICEBERG_METADATA_OPERATION,
            "version": version,
            "iceberg_table_input": {
                "location": location,
                "schema": {
                    "schema_id": definition.schema.get("schema-id", 0),
                    "type": "struct",
                    "fields": [
                        {"id": f["id"], "name": f["name"], "required": f["required"], "type": json.dumps(f["type"])}
                        for f in definition.schema["fields"]
                    ],
                },
                "partition_spec": {
                    "spec_id": definition.partition_spec.get("spec-id", 0),
                    "fields": [
                        {
                            "source_id": f["source-id"],
                            "field_id": f["field-id"],
                            "name": f["name"],
                            "transform": f["transform"],
                        }
                        for f in definition.partition_spec["fields"]
                    ],
                },
                "properties": properties,
            },
        },
    }


@dataclass(frozen=True)
class DataCatalogArgs:
    config: PlatformConfig
    tables: Mapping[str, IcebergTableDefinition]  # dataset job -> its dataset's table


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
            where = (self._cfg.output_bucket(job), str(job_cfg.dataset))
            if where in seen:
                raise ValueError(
                    f"jobs {seen[where]} and {job} both write dataset {job_cfg.dataset}; one table per dataset"
                )
            seen[where] = job
        return jobs

    def _table_options(self) -> pulumi.ResourceOptions:
        """Never updated after creation (see the module docstring). Outside a disposable stack
        (`force_destroy`) the table is also protected: Pulumi refuses to delete or replace it
        (say, after a rename), because a new table would start empty while the data files
        stay behind, unreferenced; a retained table would instead make the replacement's
        CreateTable fail half-way through `pulumi up`."""
        return pulumi.ResourceOptions(
            parent=self, ignore_changes=list(ICEBERG_OWNED_INPUTS), protect=not self._cfg.force_destroy
        )

    def _create_table(
        self, database: aws.glue.CatalogDatabase, job: str, definition: IcebergTableDefinition
    ) -> aws.glue.CatalogTable:
        job_cfg = self._cfg.jobs[job]
        dataset = str(job_cfg.dataset)
        return aws.glue.CatalogTable(
            f"{self._base}-{dataset}",
            name=dataset,
            database_name=database.name,
            description=f"{job_cfg.layer.value} dataset written by {job} (Apache Iceberg)",
            table_type="EXTERNAL_TABLE",
            open_table_format_input=iceberg_table_input(
                definition, table_location(self._cfg.output_bucket(job), dataset)
            ),
            opts=self._table_options(),
        )
