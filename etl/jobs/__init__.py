"""The job registry: job name (as in the stack config) -> job class."""

from __future__ import annotations

from etl.job import BaseGlueJob
from etl.job_names import DATASET_JOB_NAMES, MAINTENANCE_JOB_NAMES
from etl.jobs.customer_import import CustomerImport
from etl.jobs.inventory_sync import InventorySync
from etl.jobs.product_catalog import ProductCatalog
from etl.jobs.sales_daily import SalesDaily
from etl.jobs.sales_etl import SalesEtl
from etl.jobs.table_maintenance import TableMaintenance

# The jobs that load a dataset (bronze -> silver, silver -> gold): each declares its table.
REGISTRY: dict[str, type[BaseGlueJob]] = {
    job.name: job for job in (SalesEtl, ProductCatalog, InventorySync, CustomerImport, SalesDaily)
}
# Jobs that look after the tables themselves.
MAINTENANCE_JOBS: dict[str, type[TableMaintenance]] = {TableMaintenance.name: TableMaintenance}


def check_declared_names(registry: dict[str, type], maintenance: dict[str, type]) -> None:
    """Raise ImportError unless the registries hold exactly the names etl.job_names lists (the
    names the config checks read without importing a job)."""
    for kind, classes, names in (
        ("dataset", registry, DATASET_JOB_NAMES),
        ("maintenance", maintenance, MAINTENANCE_JOB_NAMES),
    ):
        if set(classes) != names:
            raise ImportError(
                f"etl.job_names lists {kind} jobs {sorted(names)} but etl.jobs registers {sorted(classes)}; "
                "add the job to both"
            )


check_declared_names(REGISTRY, MAINTENANCE_JOBS)


def get_job(name: str) -> type[BaseGlueJob] | type[TableMaintenance]:
    try:
        return REGISTRY[name] if name in REGISTRY else MAINTENANCE_JOBS[name]
    except KeyError:
        known = ", ".join(sorted({*REGISTRY, *MAINTENANCE_JOBS}))
        raise KeyError(f"unknown job {name!r}; known jobs: {known}") from None
