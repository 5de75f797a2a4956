"""Pulumi components of the data lake, one module per component (see DESIGN.md, "The cloud path"),
and the pure helpers only the cloud side uses.

    DataPlatform
    ├── MedallionBuckets      storage.py    KMS key, bronze/silver/gold/artifacts/access-log buckets
    ├── GlueJob (per job)     glue_job.py   Glue 5.0 job, its code, role, logs, security configuration
    ├── JobRunner (per job)   runner.py     Step Functions state machine: glue:startJobRun.sync
    ├── S3EventTrigger        triggers.py   EventBridge rule on bronze Object Created -> runner
    ├── ScheduleTrigger       triggers.py   EventBridge Scheduler schedule -> runner
    ├── JobSucceededTrigger   triggers.py   EventBridge rule on upstream SUCCEEDED -> runner
    ├── Alerts                alerts.py     SNS topic, alarms, Glue failure messages
    └── DataCatalog           catalog.py    Glue database and an Iceberg table per dataset

    iam.py                 IAM policy documents (pure functions)
    runner_definition.py   the runner's Amazon States Language definition (pure)
    packaging.py           the Glue zip of the job code, content-hashed

Import each from its module (`data_platform.components.glue_job`, ...): this package imports
none of them, so the pure helpers load without Pulumi.
"""
