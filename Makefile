# Entry points for people and CI. The README's first command is `make demo`.
.PHONY: setup demo test test-fast test-reliability clean-demo

setup:
	bash scripts/setup.sh

# Fresh clone -> the whole local pipeline on sample data (resets .lake-demo first).
demo: setup
	.venv/bin/lake --home .lake-demo demo

# The import contracts (pyproject.toml, [tool.importlinter]: the layers of DESIGN.md) first.
test: setup
	.venv/bin/lint-imports
	.venv/bin/python -m pytest -q -n 2 --ignore=tests/reliability

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
