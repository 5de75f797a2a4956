"""The layers are enforced: `lint-imports` (pyproject.toml, [tool.importlinter]) keeps every
contract on this tree and breaks the right one on a tree with a wrong import."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("data_platform", "etl", "checks")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    # From `root`: import-linter puts the working directory first on the import path, so the
    # packages it analyses are the ones in `root`.
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", "pyproject.toml", "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the packages and their contracts."""
    for package in PACKAGES:
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_tree_keeps_every_contract() -> None:
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        (
            "data_platform/contract/naming.py",
            "import data_platform.cli.app",
            "The contract imports nothing of ours outside data_platform.contract",
        ),
        (
            "etl/args.py",
            "from data_platform.config import load_stack",
            "etl never imports data_platform except data_platform.contract",
        ),
        (
            "data_platform/components/storage.py",
            "from data_platform.local.lake import LocalLake",
            "The cloud components never import the local runtime or the CLI",
        ),
        (
            "data_platform/local/history.py",
            "from data_platform.components import iam",
            "The local runtime never imports the cloud components or the CLI",
        ),
        ("data_platform/config.py", "import checks.resources", "The product never imports the deploy checks"),
    ],
)
def test_a_wrong_import_breaks_its_contract(tree: Path, module: str, line: str, broken: str) -> None:
    path = tree / module
    path.write_text(path.read_text() + f"\n{line}  # a wrong import\n")
    result = lint_imports(tree)
    assert result.returncode != 0, result.stdout
    out = " ".join(result.stdout.split())  # the report wraps long contract names
    assert f"{broken} BROKEN" in out, result.stdout
