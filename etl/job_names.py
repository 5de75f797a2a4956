"""The names of the jobs the etl package declares, by kind, readable without importing a job.

The stack config's checks (data_platform.config) need only a job's name and kind, and run in
every `lake` command. Importing the job classes (etl.jobs) loads pyspark's Python modules,
about 0.3 s of each command's start. etl.jobs builds its registries from the classes and
refuses to import when they and these names disagree, so a job added to one and not the other
fails every test that imports a job.
"""

from __future__ import annotations

# Jobs that load one dataset (bronze -> silver, silver -> gold): etl.jobs.REGISTRY.
DATASET_JOB_NAMES: frozenset[str] = frozenset(
    {"sales_etl", "product_catalog", "inventory_sync", "customer_import", "sales_daily"}
)
# Jobs that look after the tables themselves: etl.jobs.MAINTENANCE_JOBS.
MAINTENANCE_JOB_NAMES: frozenset[str] = frozenset({"table_maintenance"})
