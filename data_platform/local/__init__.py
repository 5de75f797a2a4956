"""The local twin: the stack's pipeline on one machine, no cloud account needed.

Buckets are folders under a lake home, named exactly like the stack's buckets; S3 events are
built, routed and turned into job arguments by the same functions the Pulumi program deploys
(`data_platform.contract`); jobs run on local Spark, in the home's warm engine (`engine`)
or in the command's own process.

- `lake.LocalLake`      buckets, upload, routing, runs, after-job chaining, alerts
- `runner.LocalRunner`  the Step Functions runner's retry + Glue's MaxRetries/MaxConcurrentRuns
- `run_events`          each run's state changes, published to listeners in this process
- `records`             the typed run and alert records, job outcome to `--json`
- `history.History`     SQLite run history, slots, schedule fires, alerts outbox
- `watch`               bronze watcher and scheduler with an injectable clock
- `spark`, `training`   jobs on this process's SparkSession; warm-up and training runs
- `engine`              the home's warm engine: a long-lived process running jobs for the CLI
- `tables`              the lake home's Iceberg tables: listings, history, rollback, maintenance
- `class_archive`       the JVM class archive `make setup` builds
- `cloud`               the same commands against the deployed stack (boto3)
"""


class LakeError(Exception):
    """A problem the user can fix; the CLI prints the message (one line) and exits non-zero."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
