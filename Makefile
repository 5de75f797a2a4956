# Entry points for people and CI. The README's first command is `make demo`.
.PHONY: setup demo test test-fast test-reliability lint lock clean-demo

setup:
	bash scripts/setup.sh

# Fresh clone -> the whole local pipeline on sample data (resets .lake-demo first).
demo: setup
	.venv/bin/lake --home .lake-demo demo

# The import contracts (pyproject.toml, [tool.importlinter]: the layers of DESIGN.md) first.
test: setup
	bash scripts/test-browser.sh
	.venv/bin/lint-imports
	.venv/bin/python -m pytest -q -n 2 --ignore=tests/reliability

# Style, lint, layers and types (configured in pyproject.toml); CI runs it before `make test`
# (.ci/run, .github/workflows/tests.yml).
lint: setup
	.venv/bin/ruff format --check .
	.venv/bin/ruff check .
	.venv/bin/lint-imports
	.venv/bin/mypy

# Regenerates requirements.lock (exact versions, hashes) from pyproject.toml with uv, keeping
# every pin the lock already has unless pyproject.toml no longer allows it; `uv pip compile
# --upgrade-package NAME` moves one package.
lock: setup
	.venv/bin/uv pip compile --quiet --no-header --generate-hashes --extra dev --python-version 3.11 -o requirements.lock pyproject.toml

# The reliability suite (bad-input corpus, faults, 200-upload storm, safety): it takes longer than
# the rest together (bench/RESULTS.md), so it is not in `make test`; `.ci/run` runs both.
# Tallies: pytest -s tests/reliability/test_storm.py
test-reliability: setup
	.venv/bin/python -m pytest -q -n 2 --dist loadfile tests/reliability

# No Spark: config, contract, routing, runner, history, CLI paths that start no JVM.
test-fast: setup
	.venv/bin/python -m pytest -q -m "not spark and not slow"

clean-demo:
	rm -rf .lake-demo
