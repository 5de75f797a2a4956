"""The job registry: job name (as in the stack config) -> job class."""

from __future__ import annotations

from etl.base import BaseGlueJob
from etl.jobs.customer_import import CustomerImport
from etl.jobs.inventory_sync import InventorySync
from etl.jobs.product_catalog import ProductCatalog
from etl.jobs.sales_daily import SalesDaily
from etl.jobs.sales_etl import SalesEtl

REGISTRY: dict[str, type[BaseGlueJob]] = {
    job.name: job for job in (SalesEtl, ProductCatalog, InventorySync, CustomerImport, SalesDaily)
}


def get_job(name: str) -> type[BaseGlueJob]:
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise KeyError(f"unknown job {name!r}; known jobs: {known}") from None
