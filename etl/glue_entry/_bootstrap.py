"""What every Glue entry script does: the one module that imports awsglue.

It builds the SparkSession from a GlueContext, hands over to the shared runner
(`etl.runtime.run_on_glue`) and exits non-zero on failure so Glue, and the Step Functions
runner waiting on the run, mark it FAILED. It ships inside the `etl` zip (`--extra-py-files`).
"""

import sys

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

from etl.runtime import run_on_glue


def run_glue_job(job: str) -> None:
    options = getResolvedOptions(sys.argv, ["JOB_NAME"])
    glue_context = GlueContext(SparkContext.getOrCreate())
    spark = glue_context.spark_session
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    glue_job = Job(glue_context)
    glue_job.init(options["JOB_NAME"], options)
    exit_code = run_on_glue(job, sys.argv[1:], spark)
    if exit_code != 0:
        sys.exit(exit_code)
    glue_job.commit()
