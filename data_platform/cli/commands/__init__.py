"""The `lake` commands, one module per group; each parses its options and hands off to the
local runtime (`data_platform.local`) or, with `--cloud`, to `data_platform.local.cloud`.

- `ingest`    upload, run, replay: files into bronze, runs through the runner
- `watching`  watch, tick, schedules: the bronze watcher and the scheduler's clock
- `records`   runs, alerts: what the run history and the alerts outbox hold
- `tables`    history, rollback, maintain: the silver/gold Iceberg tables
- `stack`     validate, synth: the stack config and what `pulumi up` would create
- `demo`      demo: the guided demo (`data_platform.cli.demo`)
- `engine`    engine start, status, stop: the home's warm engine (`data_platform.local.engine`)
"""
