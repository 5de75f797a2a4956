"""The job registry: job name (as in the stack config) -> job class."""

from __future__ import annotations

from etl.job import BaseGlueJob
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


def get_job(name: str) -> type[BaseGlueJob] | type[TableMaintenance]:
    try:
        return REGISTRY[name] if name in REGISTRY else MAINTENANCE_JOBS[name]
    except KeyError:
        known = ", ".join(sorted({*REGISTRY, *MAINTENANCE_JOBS}))
        raise KeyError(f"unknown job {name!r}; known jobs: {known}") from None
