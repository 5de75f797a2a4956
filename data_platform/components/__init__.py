"""Pulumi components of the data lake, one module per component (see DESIGN.md, "The cloud path").

    DataPlatform
    ├── MedallionBuckets      storage.py    KMS key, bronze/silver/gold/artifacts/access-log buckets
    ├── GlueJob (per job)     glue_job.py   Glue 5.0 job, its code, role, logs, security configuration
    ├── JobRunner (per job)   runner.py     Step Functions state machine: glue:startJobRun.sync
    ├── S3EventTrigger        triggers.py   EventBridge rule on bronze Object Created -> runner
    ├── ScheduleTrigger       triggers.py   EventBridge Scheduler schedule -> runner
    ├── JobSucceededTrigger   triggers.py   EventBridge rule on upstream SUCCEEDED -> runner
    ├── Alerts                alerts.py     SNS topic, alarms, Glue failure messages
    └── DataCatalog           catalog.py    Glue database and an Iceberg table per dataset
"""

from data_platform.components.alerts import Alerts, AlertsArgs
from data_platform.components.catalog import DataCatalog, DataCatalogArgs, IcebergTableDefinition
from data_platform.components.glue_job import GlueJob, GlueJobArgs
from data_platform.components.platform import DataPlatform, DataPlatformArgs
from data_platform.components.runner import JobRunner, JobRunnerArgs
from data_platform.components.storage import MedallionBuckets, MedallionBucketsArgs
from data_platform.components.triggers import (
    JobSucceededTrigger,
    JobSucceededTriggerArgs,
    S3EventTrigger,
    S3EventTriggerArgs,
    ScheduleTrigger,
    ScheduleTriggerArgs,
)

__all__ = [
    "Alerts", "AlertsArgs", "DataCatalog", "DataCatalogArgs", "DataPlatform", "DataPlatformArgs", "GlueJob",
    "GlueJobArgs", "JobRunner", "JobRunnerArgs", "JobSucceededTrigger", "JobSucceededTriggerArgs",
    "MedallionBuckets", "MedallionBucketsArgs", "S3EventTrigger", "S3EventTriggerArgs", "ScheduleTrigger",
    "ScheduleTriggerArgs", "IcebergTableDefinition",
]
