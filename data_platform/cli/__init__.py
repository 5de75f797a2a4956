"""`lake`: the command line of the data lake, local twin first, cloud with `--cloud`.

- `app`        the typer app, its global options (before or after the command) and `main`
- `settings`   the global options' values, the stack config and the lake they open
- `render`     tables, JSON and progress on the terminal
- `commands/`  one module per group of commands; each parses its options and hands off to
               `data_platform.local` (or `local.cloud` with `--cloud`)
- `demo`       the guided demo (`lake demo`)

Fast to start: pyspark and the etl package are imported only by commands that run jobs,
so `lake --help`, `lake validate`, `lake runs` and `lake schedules` answer at once.
Errors are one clear line on stderr and a non-zero exit; `--debug` shows the traceback.
"""
