"""`make lock` reproduces requirements.lock: the recipe, run on a copy, changes no byte.

The command is read from the Makefile's `lock` target (so the test runs what users run); it
resolves against PyPI, keeping the versions the lock pins (uv prefers an output file's pins).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def lock_recipe() -> list[str]:
    makefile = (REPO / "Makefile").read_text()
    recipe = re.search(r"^lock:.*\n\t(.+)$", makefile, flags=re.M)
    assert recipe, "the Makefile has no `lock` target"
    command = shlex.split(recipe.group(1))
    assert command[0] == ".venv/bin/uv"
    return [str(Path(sys.executable).with_name("uv")), *command[1:]]


@pytest.mark.slow
def test_make_lock_reproduces_the_lock_file(tmp_path: Path) -> None:
    for name in ("pyproject.toml", "requirements.lock", "README.md"):
        shutil.copy(REPO / name, tmp_path / name)
    result = subprocess.run(lock_recipe(), cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "requirements.lock").read_text() == (REPO / "requirements.lock").read_text()


def test_the_lock_pins_every_package_with_hashes() -> None:
    text = (REPO / "requirements.lock").read_text()
    pins = re.findall(r"^([A-Za-z0-9_.\-\[\]]+)==\S+ \\$", text, flags=re.M)
    assert len(pins) > 50
    assert text.count("--hash=sha256:") >= len(pins)
