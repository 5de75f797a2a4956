"""Every command README.md shows, and every `run:` step of the GitHub workflows, runs as written.

The commands are read from the files, not copied here: a new `lake ...` line in the README or
a new workflow step is run by this test without editing it. Each runs verbatim in a scratch
folder (the lake home is that folder's, through LAKE_HOME), in the order it is written, so the
README's walk through the local lake is one user's session. A non-zero exit, or a usage
error, fails the test. Commands this machine cannot run are listed below with the reason;
what they contain of `lake` still runs (a `make` target is expanded with `make -n`).
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from data_platform.cli.demo import sample_files

pytestmark = [pytest.mark.cli, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
USAGE_ERRORS = (
    "No such option",
    "No such command",
    "Missing argument",
    "Got unexpected extra argument",
    "Invalid value for",
    "Usage:",
)

# What is not run here, and why (matched against the whole command line).
NOT_RUN: dict[str, str] = {
    r"^make lock$": "tests/test_lock.py runs the same `uv pip compile` into a copy of the lock and compares",
    r"^make lint$": "run by CI itself (.ci/run and tests.yml run `make lint` before `make test`)",
    r"^make test$": "run by CI itself (.ci/run and tests.yml run `make test`; this test is part of it)",
    r"^make test-reliability$": "run by CI itself (.ci/run and tests.yml), about 20 minutes on 2 cores",
    r"^pulumi( |$)": "needs the Pulumi CLI and AWS credentials (not on this machine)",
    r"^aws( |$)": "needs the AWS CLI, credentials and a deployed stack (not on this machine)",
    r"(^|/)lake --home \.lake-demo demo$": (
        "the demo's whole run, one Spark run of every job: tests/test_cli_pipeline.py::"
        "test_the_demo_runs_end_to_end runs this `lake demo` on a scratch home"
    ),
}
# Commands that run until stopped: started, left to come up, then sent Ctrl-C.
LONG_RUNNING: dict[str, str] = {r"(^|/)lake watch( |$)": "Watching"}


@dataclass(frozen=True)
class Command:
    origin: str  # where it is written, e.g. "README.md:112" or ".github/workflows/preview.yml (preview)"
    line: str  # as written (comments removed)
    env: tuple[tuple[str, str], ...] = ()


# --------------------------------------------------------------------------------------------
# Extraction


def readme_commands(text: str, origin: str = "README.md") -> list[Command]:
    """Each line of every ```bash block, without its comment."""
    commands, in_block = [], False
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("```"):
            in_block = not in_block and stripped in ("```bash", "```sh", "```shell", "```console")
            continue
        if in_block and stripped and not stripped.startswith("#"):
            tokens = shlex.split(stripped, comments=True)
            if tokens:
                commands.append(Command(f"{origin}:{number}", shlex.join(tokens)))
    return commands


def _expression_values(expression: str, workflow: dict, job: dict) -> list[str]:
    """The values a `${{ ... }}` expression can take: a matrix axis, or a workflow_dispatch
    input's options and the literals the expression falls back to."""
    inner = expression.strip()[3:-2].strip()
    if inner.startswith("matrix."):
        return [str(v) for v in job["strategy"]["matrix"][inner.removeprefix("matrix.")]]
    # The literals it can yield, not those it compares against (`event_name == 'push'`).
    values = re.findall(r"'([^']*)'", re.sub(r"[\w.]+\s*[!=]=\s*'[^']*'", "", inner))
    triggers = workflow.get(True, workflow.get("on")) or {}  # YAML reads the key `on` as True
    for name in re.findall(r"inputs\.([A-Za-z_][\w-]*)", inner):
        values += (triggers.get("workflow_dispatch") or {}).get("inputs", {}).get(name, {}).get("options", [])
    if not values:
        raise AssertionError(f"cannot tell the values of {expression}; teach _expression_values")
    return sorted(set(values))


def _expand(text: str, workflow: dict, job: dict) -> list[str]:
    match = re.search(r"\$\{\{[^}]*\}\}", text)
    if not match:
        return [text]
    return [
        expanded
        for value in _expression_values(match.group(0), workflow, job)
        for expanded in _expand(text.replace(match.group(0), value, 1), workflow, job)
    ]


def workflow_commands(path: Path) -> list[Command]:
    workflow = yaml.safe_load(path.read_text())
    commands = []
    for job_name, job in workflow["jobs"].items():
        env_templates = dict(job.get("env") or {})
        for step in job.get("steps", []):
            if "run" not in step:
                continue
            templates = {**env_templates, **(step.get("env") or {})}
            env_choices = [
                [(key, value) for value in _expand(str(template), workflow, job)] for key, template in templates.items()
            ]
            for line in filter(None, (ln.strip() for ln in str(step["run"]).splitlines())):
                for expanded in _expand(line, workflow, job):
                    for env in _combinations(env_choices):
                        needed = tuple(
                            (k, v)
                            for k, v in env
                            if f"${k}" in expanded or "${" + k in expanded or k.startswith("LAKE_")
                        )
                        commands.append(Command(f"{path.relative_to(REPO)} ({job_name})", expanded, needed))
    return list(dict.fromkeys(commands))


def _combinations(choices: list[list[tuple[str, str]]]) -> list[tuple[tuple[str, str], ...]]:
    result: list[tuple[tuple[str, str], ...]] = [()]
    for options in choices:
        result = [(*done, option) for done in result for option in options]
    return result


def make_recipe(target: str) -> list[str]:
    # Under `make test` this runs inside make: its MAKEFLAGS would add "Entering directory" lines.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    out = subprocess.run(
        ["make", "-n", "--no-print-directory", target], cwd=REPO, capture_output=True, text=True, check=True, env=env
    )
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


def all_commands() -> list[Command]:
    commands = readme_commands((REPO / "README.md").read_text())
    for path in sorted((REPO / ".github" / "workflows").glob("*.yml")):
        commands += workflow_commands(path)
    return commands


def reason_not_run(line: str) -> str | None:
    return next((why for pattern, why in NOT_RUN.items() if re.search(pattern, line)), None)


# --------------------------------------------------------------------------------------------
# Running


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    """A folder as a user's: the files the README's commands name, made from the samples."""
    folder = tmp_path_factory.mktemp("user")
    sales = next(s for s in sample_files() if s.key.startswith("sales/") and not s.expect_failure)
    for name in ("orders.csv", "f.csv"):
        (folder / name).write_bytes(sales.body)
    return folder


def _environment(scratch: Path, command: Command) -> dict[str, str]:
    # As a user's shell: none of the test run's own LAKE_ or make settings.
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("LAKE_") and k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")
    }
    return {
        **clean,
        "PATH": f"{VENV_BIN}{os.pathsep}{clean.get('PATH', '')}",
        "LAKE_HOME": str(scratch / ".lake"),
        "LAKE_RETRY_SCALE": "0",
        **dict(command.env),
    }


def _cwd(line: str, scratch: Path) -> Path:
    # Commands naming the repository's files (.venv/bin/..., scripts/..., make) run at its root,
    # as CI and the README's deploy steps do; the rest in the user's folder.
    return REPO if re.match(r"^(\.venv/|bash scripts/|make )", line) else scratch


def run(command: Command, scratch: Path) -> subprocess.CompletedProcess[str]:
    for pattern, ready in LONG_RUNNING.items():
        if re.search(pattern, command.line):
            return _run_until_ready(command, scratch, ready)
    return subprocess.run(
        ["bash", "-c", command.line],
        cwd=_cwd(command.line, scratch),
        capture_output=True,
        text=True,
        timeout=600,
        env=_environment(scratch, command),
    )


def _run_until_ready(command: Command, scratch: Path, ready: str) -> subprocess.CompletedProcess[str]:
    out_path, err_path = scratch / ".long-running.out", scratch / ".long-running.err"
    with out_path.open("w") as out, err_path.open("w") as err:
        process = subprocess.Popen(
            ["bash", "-c", f"exec {command.line}"],
            cwd=_cwd(command.line, scratch),
            stdout=out,
            stderr=err,
            text=True,
            env=_environment(scratch, command),
        )
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and process.poll() is None and ready not in err_path.read_text():
            time.sleep(0.5)
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        process.wait(timeout=120)
    stderr = err_path.read_text()
    assert ready in stderr, f"`{command.line}` never printed {ready!r}:\n{stderr[-2000:]}"
    return subprocess.CompletedProcess(command.line, process.returncode, out_path.read_text(), stderr)


def check(command: Command, result: subprocess.CompletedProcess[str]) -> None:
    output = f"{result.stdout}\n{result.stderr}"
    usage = [marker for marker in USAGE_ERRORS if marker in result.stderr]
    assert result.returncode == 0 and not usage, (
        f"{command.origin}: `{command.line}` exited {result.returncode}{' with a usage error' if usage else ''}\n"
        f"{output[-3000:]}"
    )


# --------------------------------------------------------------------------------------------


def test_the_extractor_finds_the_commands_people_run():
    """Fails if the extraction went blind (a README restructure, a renamed workflow)."""
    lines = {c.line for c in all_commands()}
    assert {
        "make demo",
        "make test",
        ".venv/bin/lake validate --stack dev",
        "lake synth --stack prod --json",
        ".venv/bin/lake validate --stack prod",
        "pulumi up --stack dev",
    } <= lines, sorted(lines)
    assert sum(line.startswith(("lake ", ".venv/bin/lake ")) for line in lines) >= 10


def test_workflow_expressions_expand_to_every_stack():
    preview = workflow_commands(REPO / ".github" / "workflows" / "preview.yml")
    assert {c.line for c in preview if "validate" in c.line} == {
        ".venv/bin/lake validate --stack dev",
        ".venv/bin/lake validate --stack prod",
    }
    deploy = [c for c in workflow_commands(REPO / ".github" / "workflows" / "deploy.yml") if "validate" in c.line]
    assert {dict(c.env)["STACK"] for c in deploy} == {"dev", "prod"}


def test_every_command_in_the_readme_and_the_workflows_runs_as_written(scratch: Path):
    ran, skipped, done = [], [], set()
    for command in all_commands():
        lines = (
            make_recipe(command.line.split(" ", 1)[1])
            if command.line.startswith("make ") and reason_not_run(command.line) is None
            else [command.line]
        )
        for line in lines:
            why = reason_not_run(line)
            if why is not None:
                skipped.append((command.origin, line, why))
                continue
            if (line, command.env) in done:
                continue  # written in several places (README and a workflow): run once
            done.add((line, command.env))
            part = Command(command.origin, line, command.env)
            check(part, run(part, scratch))
            ran.append(line)
    print("\n".join(f"ran: {line}" for line in ran))
    print("\n".join(f"not run: {line} ({origin}): {why}" for origin, line, why in skipped))
    assert len(ran) >= 15, ran


def test_a_usage_error_fails_the_check(scratch: Path):
    """The check above can fail: today's fault, an option placed where it was refused."""
    bad = Command("test", "lake validate --no-such-option")
    result = run(bad, scratch)
    with pytest.raises(AssertionError, match="usage error"):
        check(bad, result)


def test_the_demo_left_out_here_is_run_elsewhere():
    recipe = make_recipe("demo")
    assert recipe[-1] == ".venv/bin/lake --home .lake-demo demo" and reason_not_run(recipe[-1])
    source = (REPO / "tests" / "test_cli_pipeline.py").read_text()
    assert "def test_the_demo_runs_end_to_end" in source and 'lake(home, "demo")' in source
