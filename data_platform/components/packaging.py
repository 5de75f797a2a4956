"""The job code as a deterministic zip for Glue's `--extra-py-files`, and content hashes.

The zip holds what runs on Glue and nothing else: the `etl` package, and of `data_platform`
only the contract the jobs share with the runners (`data_platform/__init__.py` and
`data_platform/contract/`; `etl` imports nothing else of `data_platform`, an import-linter
contract in pyproject.toml holds it to that).

The hash names the S3 key the zip is uploaded under, so a change to any file in `etl/`
changes the key and redeploys the jobs, and an unchanged tree keeps the key (no churn in
`pulumi preview`). The hash is taken over the files (path + bytes), not over the zip bytes,
so it does not depend on the zlib build of the machine running Pulumi.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
ETL_DIR = PROJECT_DIR / "etl"
ENTRY_DIR_NAME = "glue_entry"
# (archive name, file or folder) of what the jobs import from data_platform.
CONTRACT_ENTRIES: tuple[tuple[str, Path], ...] = (
    ("data_platform/__init__.py", PROJECT_DIR / "data_platform" / "__init__.py"),
    ("data_platform/contract", PROJECT_DIR / "data_platform" / "contract"),
)

# 1980-01-01 is the earliest timestamp a zip entry can hold.
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
_EXCLUDED_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
_EXCLUDED_SUFFIXES = (".pyc", ".pyo")
SHORT_HASH = 16


@dataclass(frozen=True)
class Package:
    path: Path  # the zip on disk
    sha256: str  # content hash of the packaged files

    @property
    def short_hash(self) -> str:
        return self.sha256[:SHORT_HASH]


def package_files(source_dir: Path) -> list[tuple[str, Path]]:
    """(archive name, file) pairs, sorted: the `etl` package at `source_dir` (archive names
    start with its folder's name) and the contract (`CONTRACT_ENTRIES`)."""
    source_dir = Path(source_dir)
    if not (source_dir / "__init__.py").is_file():
        raise FileNotFoundError(f"{source_dir} is not a Python package (no __init__.py); cannot package it for Glue")
    entries = _tree_files(source_dir, source_dir.name)
    for name, path in CONTRACT_ENTRIES:
        entries += _tree_files(path, name) if path.is_dir() else [(name, path)]
    return sorted(entries)


def _tree_files(root: Path, archive_root: str) -> list[tuple[str, Path]]:
    entries = []
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if not path.is_file() or any(part in _EXCLUDED_DIRS or part.startswith(".") for part in relative.parts):
            continue
        if path.name.endswith(_EXCLUDED_SUFFIXES):
            continue
        entries.append(((Path(archive_root) / relative).as_posix(), path))
    return entries


def content_hash(entries: list[tuple[str, Path]]) -> str:
    digest = hashlib.sha256()
    for name, path in entries:
        data = path.read_bytes()
        # Length-prefixed so that ("a", "bc") and ("ab", "c") never collide.
        for part in (name.encode(), data):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def zip_bytes(entries: list[tuple[str, Path]]) -> bytes:
    """A zip whose bytes depend only on the entries: sorted, fixed timestamps and modes."""
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, path in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so external_attr is read as a mode everywhere
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    return buffer.getvalue()


def default_cache_dir() -> Path:
    return Path(os.environ.get("DATA_LAKE_BUILD_DIR") or Path(tempfile.gettempdir()) / "data-lake-build")


def build_package(source_dir: Path = ETL_DIR, cache_dir: Path | None = None) -> Package:
    """Zip `source_dir` into the cache as `<name>-<hash>.zip` (reused when it exists)."""
    entries = package_files(Path(source_dir))
    sha = content_hash(entries)
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / f"{Path(source_dir).name}-{sha[:SHORT_HASH]}.zip"
    if not target.is_file():
        # Write then rename, so a concurrent `pulumi preview` never reads half a zip.
        fd, tmp = tempfile.mkstemp(dir=cache, suffix=".zip.tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(zip_bytes(entries))
        os.replace(tmp, target)
    return Package(path=target, sha256=sha)


def entry_script(job: str, source_dir: Path = ETL_DIR) -> Path:
    """The thin Glue entry script of `job` (`etl/glue_entry/<job>.py`)."""
    path = Path(source_dir) / ENTRY_DIR_NAME / f"{job}.py"
    if not path.is_file():
        raise FileNotFoundError(
            f"no Glue entry script for job '{job}': expected {path}. Every job in the stack config "
            f"needs etl/{ENTRY_DIR_NAME}/<job>.py (a thin script that runs the job class)."
        )
    return path
