#!/usr/bin/env bash
# Creates .venv from requirements.lock (exact versions, hash-checked) and installs this
# project into it in editable mode, so `lake` is on .venv/bin. Safe to run repeatedly: it
# reinstalls only when the lock file or pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."

python_bin="${PYTHON:-python3.11}"
if ! command -v "$python_bin" >/dev/null 2>&1; then
  echo "error: $python_bin not found. This project targets Python 3.11 (AWS Glue 5.0); set PYTHON=/path/to/python3.11." >&2
  exit 1
fi

# Local Spark needs a JVM (Glue 5.0 runs Java 17).
if ! command -v java >/dev/null 2>&1; then
  echo "error: java not found. Local Spark needs Java 17: e.g. 'apt-get install openjdk-17-jre-headless' or 'brew install openjdk@17', then set JAVA_HOME." >&2
  exit 1
fi
java_major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
if [ -z "$java_major" ] || [ "$java_major" -lt 11 ] || [ "$java_major" -gt 17 ]; then
  echo "error: Spark 3.5 needs Java 11 or 17; found: $(java -version 2>&1 | head -1)" >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  "$python_bin" -m venv .venv
fi

stamp=.venv/.lock-stamp
want=$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "Installing pinned dependencies from requirements.lock into .venv ..."
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-input \
    --require-hashes -r requirements.lock
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-input \
    --no-deps --no-build-isolation -e .
  echo "$want" > "$stamp"
fi

# The JVM libraries local Spark needs besides Spark (the Iceberg runtime AWS Glue 5.0 ships, the
# SQLite JDBC driver of the local catalog): downloaded from Maven Central once, SHA-256 checked
# against the pins in etl/jars.py, kept in .venv/var/data-lake/jars/. LAKE_MAVEN_REPOSITORY
# points at a mirror.
if ! .venv/bin/python -m etl.jars; then
  echo "error: could not install the JVM libraries local Spark needs (see above)." >&2
  exit 1
fi

# The project's bytecode, compiled ahead: an editable install leaves it to the first import, and
# where PYTHONDONTWRITEBYTECODE is set (many container images) every `lake` process would
# compile the ~40 modules it imports again (about 20 ms a command). Python checks each cached
# file against its source, so an edited module is compiled afresh, never run stale.
.venv/bin/python -m compileall -q data_platform etl

# The JVM class archive (see data_platform/local/class_archive.py): built once per
# virtualenv; every later fresh `lake` process starts its JVM faster. Java 13+.
if [ "$java_major" -ge 13 ] && [ "${LAKE_SPARK_CDS:-}" != "off" ]; then
  .venv/bin/python -m data_platform.local.class_archive --if-missing || true
fi
