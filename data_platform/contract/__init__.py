"""The contract between the cloud and the local runtime, and between both and the jobs.

Pure Python (no pulumi, no pyspark, no stack config): it takes plain values and imports
nothing of this project outside itself, so the Pulumi program, the local runtime, the deploy
checks and the jobs on Glue (the Glue zip carries this package) all share one definition.

- `events`         EventBridge event patterns: build, validate, match; S3 `Object Created`
- `schedules`      AWS cron/rate/at expressions: validate, next fire times
- `naming`         physical resource names and their AWS limits
- `runs`           trigger sources, run states, runner input -> job arguments, input transformers
- `alerts`         one alert per failed run: the runner's failure pattern and the alert text
- `data_docs`      where a stack's Data Docs live and how a run's validation page is found
- `runner_errors`  the runner's error table: which errors it retries, how, and why
"""
