"""AWS Glue entry script for `table_maintenance`: thin on purpose, see etl/glue_entry/_bootstrap.py."""

from etl.glue_entry._bootstrap import run_glue_job

run_glue_job("table_maintenance")
