"""The JVM libraries local Spark needs besides Spark itself, pinned and checksum-verified.

AWS Glue 5.0 ships Apache Iceberg 1.7.1 (`--datalake-formats iceberg`); a laptop gets the same
runtime jar from Maven Central, plus the SQLite JDBC driver for the local Iceberg catalog
(`etl.catalog`). `make setup` runs `python -m etl.jars` once per virtualenv: each jar is
downloaded to `<venv>/var/data-lake/jars/`, its SHA-256 compared with the pin below, and only
then moved into place, so a truncated or tampered download is never used. Set
`LAKE_MAVEN_REPOSITORY` to use a mirror (an Artifactory or Nexus proxy of Maven Central).

Exit status 0 when every jar is in place; 1 with the reason on stderr otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

MAVEN_CENTRAL = "https://repo1.maven.org/maven2"
REPOSITORY_ENV = "LAKE_MAVEN_REPOSITORY"
JARS_DIR_ENV = "LAKE_JARS_DIR"  # overrides where the jars live (default: inside the venv)


@dataclass(frozen=True)
class Jar:
    group: str
    artifact: str
    version: str
    sha256: str

    @property
    def file_name(self) -> str:
        return f"{self.artifact}-{self.version}.jar"

    def url(self, repository: str = MAVEN_CENTRAL) -> str:
        return (
            f"{repository.rstrip('/')}/{self.group.replace('.', '/')}/{self.artifact}/{self.version}/{self.file_name}"
        )


ICEBERG_VERSION = "1.7.1"  # what AWS Glue 5.0 ships
ICEBERG_SPARK_RUNTIME = Jar(
    "org.apache.iceberg",
    "iceberg-spark-runtime-3.5_2.12",
    ICEBERG_VERSION,
    "cdf7357865d8d91764e0f147a2d76bc3e1e2b8792ddc0d3be329b3d34aaf218c",
)
SQLITE_JDBC = Jar(
    "org.xerial",
    "sqlite-jdbc",
    "3.50.3.0",
    "a3f53a2aa15ae9425a9e793bbe9c8e5288febeb4b65ef5c1a4e80d4c2045cf08",
)
LOCAL_JARS: tuple[Jar, ...] = (ICEBERG_SPARK_RUNTIME, SQLITE_JDBC)


class MissingJar(RuntimeError):
    """A jar local Spark needs is not installed."""


def jars_dir() -> Path:
    override = os.environ.get(JARS_DIR_ENV)
    return Path(override) if override else Path(sys.prefix) / "var" / "data-lake" / "jars"


def local_classpath(jars: tuple[Jar, ...] = LOCAL_JARS) -> str:
    """The jars as one classpath string; raises MissingJar naming the command that installs them."""
    paths = [jars_dir() / jar.file_name for jar in jars]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise MissingJar(
            f"missing {', '.join(missing)}: run `make setup` (or `python -m etl.jars`) to install "
            "the Iceberg runtime and the SQLite JDBC driver"
        )
    return os.pathsep.join(str(p) for p in paths)


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def install(jar: Jar, target_dir: Path, repository: str = MAVEN_CENTRAL, *, timeout: float = 300) -> Path:
    """Download `jar` unless a verified copy is already there; verify before moving it in place."""
    target = target_dir / jar.file_name
    if target.is_file() and _sha256(target) == jar.sha256:
        return target
    target_dir.mkdir(parents=True, exist_ok=True)
    url = jar.url(repository)
    fd, partial = tempfile.mkstemp(prefix=f".{jar.file_name}.", suffix=".partial", dir=target_dir)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            while chunk := response.read(1 << 20):
                out.write(chunk)
        actual = _sha256(Path(partial))
        if actual != jar.sha256:
            raise RuntimeError(f"{url}: SHA-256 {actual} does not match the pinned {jar.sha256}; not installed")
        os.chmod(partial, 0o644)  # mkstemp creates files readable by their owner only
        os.replace(partial, target)
    except OSError as error:
        raise RuntimeError(
            f"could not download {url}: {error}. Check the network or set {REPOSITORY_ENV} to a Maven Central mirror"
        ) from None
    finally:
        Path(partial).unlink(missing_ok=True)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m etl.jars", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=None, help="where to install (default: inside the venv)")
    args = parser.parse_args(argv)
    target_dir = args.dir or jars_dir()
    repository = os.environ.get(REPOSITORY_ENV, MAVEN_CENTRAL)
    for jar in LOCAL_JARS:
        try:
            path = install(jar, target_dir, repository)
        except RuntimeError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        print(f"{jar.group}:{jar.artifact}:{jar.version} -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
