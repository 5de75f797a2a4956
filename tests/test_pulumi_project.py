"""`pulumi install` on a fresh clone: Pulumi.yaml's toolchain finds what to install.

With `toolchain: pip` Pulumi creates the `virtualenv` and installs `requirements.txt` into it
(https://www.pulumi.com/docs/iac/languages-sdks/python/). The file must exist, and installing
it must give the program everything it imports, pinned and hash-checked like `make setup`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def test_the_toolchain_reads_a_requirements_file_that_exists():
    options = yaml.safe_load((REPO / "Pulumi.yaml").read_text())["runtime"]["options"]
    assert (options["toolchain"], options["virtualenv"]) == ("pip", ".venv")
    assert (REPO / "requirements.txt").is_file()


def test_pulumi_install_would_install_the_locked_dependencies():
    """pip resolves requirements.txt to exactly what .venv already holds (the lock), offline:
    hash checking passes and nothing is missing."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--no-index",
            "--disable-pip-version-check",
            "-r",
            "requirements.txt",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    satisfied = {
        line.split(":", 1)[1].split("==")[0].strip().lower()
        for line in result.stdout.splitlines()
        if line.startswith("Requirement already satisfied:")
    }
    assert {"pulumi", "pulumi-aws", "pydantic", "pyyaml", "pyspark"} <= satisfied
