"""AWS Glue entry script for `inventory_sync`: thin on purpose, see etl/glue_entry/_bootstrap.py."""

from etl.glue_entry._bootstrap import run_glue_job

run_glue_job("inventory_sync")
