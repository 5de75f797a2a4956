"""The `lake` typer app: its global options, its commands and the console entry point."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from typer.core import TyperGroup, TyperOption

from data_platform.cli.commands import demo, ingest, records, stack, tables, watching
from data_platform.cli.commands.engine import engine_app
from data_platform.cli.render import err
from data_platform.cli.settings import SETTINGS
from data_platform.local import LakeError

EPILOG = (
    "Environment: LAKE_HOME (--home), LAKE_NOW (a fixed clock for tick/watch), LAKE_RETRY_SCALE "
    "(multiplies the runner's retry delays, e.g. 0.01), LAKE_DRIVER_MEMORY (Spark driver heap, default 2g), "
    "LAKE_JIT (quick: the JVM's quick compiler only; upload sets it for inputs up to 32 MB), LAKE_SPARK_CDS "
    "(off, or the path of the JVM class archive), LAKE_ENGINE (off: run jobs in the command's own process "
    "instead of the home's warm engine), LAKE_ENGINE_IDLE_MINUTES (the engine exits after this long unused, "
    "default 15), LAKE_ENGINE_WARM_RUNS (the engine trains while idle until it has run this many jobs, "
    "default 8; 0: never). Every command takes --help."
)


class GlobalOptionsAnywhere(TyperGroup):
    """A command group whose own options may also follow the subcommand.

    `lake validate --stack prod` and `lake -s prod validate` mean the same, as `pulumi preview
    -s dev` does: people put the stack where they think of it. Click gives a group only the
    options before the subcommand's name, so those after it are moved in front of the name
    before parsing - options of this group only, never one the subcommand itself declares,
    and nothing after `--`.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, self._hoisted(ctx, list(args)))

    def _hoisted(self, ctx: Any, args: list[str]) -> list[str]:
        takes_value = {
            name: not option.is_flag
            for option in self.params
            if isinstance(option, TyperOption)
            for name in (*option.opts, *option.secondary_opts)
        }
        index = 0
        while index < len(args) and args[index].startswith("-") and args[index] != "--":
            index += 1 + (takes_value.get(args[index], False))
        if index >= len(args) or args[index] == "--":
            return args
        command = self.get_command(ctx, args[index])
        if command is None:
            return args
        own = {name for param in command.params for name in (*param.opts, *param.secondary_opts)}
        moved: list[str] = []
        rest = args[index + 1 :]
        kept: list[str] = []
        position = 0
        while position < len(rest):
            token = rest[position]
            if token == "--":
                kept.extend(rest[position:])
                break
            name = token.split("=", 1)[0]
            if name in takes_value and name not in own:
                width = 2 if takes_value[name] and "=" not in token else 1
                moved.extend(rest[position : position + width])
                position += width
                continue
            kept.append(token)
            position += 1
        return [*args[:index], *moved, args[index], *kept]


app = typer.Typer(
    name="lake",
    cls=GlobalOptionsAnywhere,
    help=(
        "The data lake on this machine (and in the cloud with --cloud).\n\n"
        "Global options (--stack/-s, --home, --project-dir, --region, --debug) go before or after "
        "the command: lake validate --stack prod, lake -s prod validate.\n\n"
        "Example: lake upload ./orders.csv sales/2024-06-01.csv"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: Typer's rich help shows every switch as taking a value (`--json <bool>`).
    rich_markup_mode=None,
    epilog=EPILOG,
)


# ------------------------------------------------------------------------------------------
# Global options


LOG_DIR = ".logs"  # in the lake home; '.'-names are never bucket keys (see local.buckets.validate_key)


class _LogFile(logging.FileHandler):
    """A log file created on the first record (commands that log nothing leave no file)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, encoding="utf-8", delay=True)

    def _open(self):
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()


def _global(
    stack: Annotated[str, typer.Option("--stack", "-s", help="Stack whose Pulumi.<stack>.yaml to use.")] = "dev",
    home: Annotated[
        Path, typer.Option("--home", envvar="LAKE_HOME", help="Lake home: one folder per bucket, plus the run history.")
    ] = Path(".lake"),
    project_dir: Annotated[
        Path | None,
        typer.Option("--project-dir", help="Folder holding Pulumi.<stack>.yaml (default: cwd, else this repository)."),
    ] = None,
    region: Annotated[
        str | None,
        typer.Option(
            "--region", help="AWS region for --cloud (default: the stack's aws:region, else the AWS environment)."
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and job logs.")] = False,
) -> None:
    """The data lake on this machine (and in the cloud with --cloud).

    Example: lake --home ./.lake upload ./orders.csv sales/2024-06-01.csv
    """
    SETTINGS.stack, SETTINGS.home, SETTINGS.project_dir = stack, home.expanduser().resolve(), project_dir
    SETTINGS.region, SETTINGS.debug = region, debug
    if debug:
        logging.basicConfig(
            level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s"
        )
    else:
        # Job logs, tracebacks of internal errors and Spark's (Java) logs go to files in the
        # lake home, not to the terminal: the user sees one line per failure.
        log_dir = SETTINGS.home / LOG_DIR
        logging.basicConfig(
            level=logging.INFO,
            handlers=[_LogFile(log_dir / "lake.log")],
            format="%(asctime)s %(process)d %(levelname)s %(name)s %(message)s",
        )
        os.environ.setdefault("LAKE_LOG_DIR", str(log_dir))


app.callback()(_global)
# In the order `lake --help` lists them: the pipeline, its clock, what it recorded, the
# tables, the stack, the demo.
for command in (
    ingest.upload,
    ingest.run,
    ingest.replay,
    watching.watch,
    watching.tick,
    watching.schedules,
    records.runs,
    records.alerts,
    records.report,
    records.docs,
    tables.history,
    tables.rollback,
    tables.maintain,
    stack.validate,
    stack.synth,
    demo.demo,
):
    app.command()(command)
app.add_typer(engine_app)


# ------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point: user errors become one line on stderr, never a traceback."""
    from data_platform.config import ConfigError

    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        app(args=args, prog_name="lake", standalone_mode=True)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except LakeError as error:
        if debug:
            raise
        err.print(f"[red]error[/]: {escape(str(error))}")
        return error.exit_code
    except ConfigError as error:
        if debug:
            raise
        err.print(f"[red]error[/]: {escape(str(error))}\n(run `lake validate` for errors and warnings)")
        return 1
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except Exception as error:
        if debug:
            raise
        err.print(f"[red]error[/]: {type(error).__name__}: {escape(str(error))} (run with --debug for the traceback)")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
