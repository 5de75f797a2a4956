"""The global options' values for the command being run, and what they open: the stack config
and the local lake."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from data_platform.cli.render import Reporter, warn
from data_platform.local import LakeError

if TYPE_CHECKING:
    from data_platform.config import StackConfig
    from data_platform.local.lake import LocalLake

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Settings:
    stack: str = "dev"
    home: Path = Path(".lake")
    project_dir: Path | None = None
    region: str | None = None
    debug: bool = False


SETTINGS = Settings()


def resolve_project_dir(explicit: Path | None, stack: str) -> Path:
    """--project-dir, else the cwd if it holds the stack file, else this repository's root."""
    if explicit is not None:
        return explicit
    cwd = Path.cwd()
    if (cwd / f"Pulumi.{stack}.yaml").is_file():
        return cwd
    if (REPO_ROOT / f"Pulumi.{stack}.yaml").is_file():
        return REPO_ROOT
    return cwd


def load() -> StackConfig:
    from data_platform.config import load_stack

    stack = load_stack(SETTINGS.stack, resolve_project_dir(SETTINGS.project_dir, SETTINGS.stack))
    for problem in stack.warnings:
        warn(f"{problem.path}: {problem.message}")
    return stack


def open_lake(reporter: Reporter | None = None, stack: StackConfig | None = None, **kwargs: Any) -> LocalLake:
    """The local lake of the home (created when missing) for `stack` (default: loaded now).

    Its jobs run on the home's warm engine (`data_platform.local.engine`; started by the
    first run that needs it), or in this process with LAKE_ENGINE=off."""
    from data_platform.local.engine import job_fn_for
    from data_platform.local.lake import LocalLake

    stack = stack or load()
    progress = reporter.update if reporter else None
    if "job_fn" not in kwargs and "runner" not in kwargs:
        kwargs["job_fn"] = job_fn_for(SETTINGS.home, stack)
    return LocalLake(stack, SETTINGS.home, progress=progress, **kwargs)


def parse_time(text: str, option: str) -> datetime:
    from data_platform.local.history import parse_iso

    try:
        return parse_iso(text)
    except ValueError as error:
        raise LakeError(f"{option}: {error}", exit_code=2) from None
