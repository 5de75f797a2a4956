"""CloudWatch metrics published by the Glue entry scripts (the alarms watch these)."""

from __future__ import annotations

from typing import Any

from etl.base import RunSummary

NAMESPACE = "DataLake"
QUARANTINED_ROWS = "QuarantinedRows"


def quarantined_rows_datum(summary: RunSummary, glue_job_name: str) -> dict[str, Any]:
    return {
        "MetricName": QUARANTINED_ROWS,
        "Dimensions": [
            {"Name": "Environment", "Value": summary.env},
            {"Name": "JobName", "Value": glue_job_name},
        ],
        "Value": float(summary.rows_quarantined),
        "Unit": "Count",
    }


def publish_quarantined_rows(summary: RunSummary, *, glue_job_name: str, client: Any | None = None) -> dict[str, Any]:
    """Put one `DataLake/QuarantinedRows` datum (0 included, so the alarm sees every run)."""
    if client is None:
        import boto3

        client = boto3.client("cloudwatch")
    datum = quarantined_rows_datum(summary, glue_job_name)
    client.put_metric_data(Namespace=NAMESPACE, MetricData=[datum])
    return datum
