"""AWS Glue entry script for `sales_etl` (the only kind of module that imports awsglue).

Thin on purpose: build the session from Glue, hand over to the shared runner, exit non-zero
on failure so Glue (and the Step Functions runner) mark the run FAILED.
"""

import sys

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

from etl.runtime import run_on_glue

JOB = "sales_etl"

options = getResolvedOptions(sys.argv, ["JOB_NAME"])
glue_context = GlueContext(SparkContext.getOrCreate())
spark = glue_context.spark_session
spark.conf.set("spark.sql.session.timeZone", "UTC")
glue_job = Job(glue_context)
glue_job.init(options["JOB_NAME"], options)
exit_code = run_on_glue(JOB, sys.argv[1:], spark)
if exit_code != 0:
    sys.exit(exit_code)
glue_job.commit()
