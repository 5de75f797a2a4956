"""`lake validate`, `lake synth`: the stack config, and what `pulumi up` would create."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from data_platform.cli.render import err, out, print_json
from data_platform.cli.settings import SETTINGS, resolve_project_dir


def validate(
    as_json: Annotated[bool, typer.Option("--json", help="Print problems as JSON.")] = False,
) -> None:
    """Load and check the stack config; errors and warnings name the YAML key.

    Exit 1 on errors, 0 when valid (even with warnings).

    Example: lake --stack prod validate
    """
    from data_platform.config import ConfigError, load_stack, stack_file

    project_dir = resolve_project_dir(SETTINGS.project_dir, SETTINGS.stack)
    source = stack_file(SETTINGS.stack, project_dir)
    try:
        stack = load_stack(SETTINGS.stack, project_dir)
        problems = list(stack.warnings)
    except ConfigError as error:
        stack, problems = None, list(error.problems)
    errors = [p for p in problems if p.severity.value == "error"]
    if as_json:
        print_json(
            {
                "file": str(source),
                "valid": stack is not None,
                "problems": [
                    {
                        "severity": p.severity.value,
                        "path": p.path,
                        "message": p.message,
                        "line": p.line,
                        "column": p.column,
                    }
                    for p in problems
                ],
            }
        )
    else:
        for problem in problems:
            color = "red" if problem.severity.value == "error" else "yellow"
            err.print(f"[{color}]{problem.severity.value}[/]: {escape(problem.where)}: {escape(problem.message)}")
        if stack is not None:
            cfg = stack.platform
            out.print(
                f"[green]ok[/]: {source}: {len(cfg.jobs)} jobs, {len(cfg.s3_rules)} s3 rules, "
                f"{len(cfg.schedules)} schedules, {len(cfg.after_job)} after-job rules"
                + (f", {len(problems)} warning(s)" if problems else "")
            )
        else:
            err.print(f"[red]invalid[/]: {source}: {len(errors)} error(s)")
    if stack is None:
        raise typer.Exit(1)


def synth(
    as_json: Annotated[bool, typer.Option("--json", help="Print the resources as JSON.")] = False,
) -> None:
    """Show the AWS resources `pulumi up` would create for the stack (no cloud calls).

    Example: lake --stack prod synth --json
    """
    from data_platform import synth as synth_module

    argv = ["--stack", SETTINGS.stack, "--project-dir", str(resolve_project_dir(SETTINGS.project_dir, SETTINGS.stack))]
    if as_json:
        argv.append("--json")
    code = synth_module.main(argv)
    if code:
        raise typer.Exit(code)
