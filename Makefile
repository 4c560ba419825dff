# The whole set-up on a fresh machine: `make run`, then `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install check format test test-fast run bench lock clean screenshots

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

check: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy --strict src
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

test: check
	HYPOTHESIS_PROFILE=$${HYPOTHESIS_PROFILE:-ci} $(BIN)/pytest -n 2 --dist loadgroup

# The tests that need no service (no PostgreSQL, no Redis) and start no process,
# selected by marker, not skipped; tests/README.md says which folder needs what.
test-fast: install
	$(BIN)/pytest -m "not postgres and not redis" \
		tests/unit tests/property tests/contract tests/adapters tests/e2e tests/cli

# The embedded deployment: migrate the SQLite file, seed the demo (once), and serve on
# http://127.0.0.1:8000 (docs at /schema). CONCERT_* variables configure it.
bench: install  ## the benchmarks on PostgreSQL + Redis (5 to 7 minutes): bench/results/latest.json
	@command -v wrk >/dev/null || apt-get install -y wrk || (apt-get update && apt-get install -y wrk)
	PYTHONPATH=src:. $(BIN)/python -m bench.run

run: install
	$(BIN)/concert db upgrade
	$(BIN)/concert seed
	$(BIN)/concert serve

# The README's pictures (docs/images), taken by the browser tests in Debian's Chromium;
# a Korean font makes the language switch legible in them.
screenshots: install
	@test -x /usr/bin/chromium || apt-get install -y chromium || (apt-get update && apt-get install -y chromium)
	@fc-list | grep -qi nanum || apt-get install -y fonts-nanum || true
	CONCERT_SCREENSHOTS=1 $(BIN)/pytest -q tests/browser

# Re-pin every dependency to what is installed now (after changing pyproject.toml).
lock: install
	$(BIN)/python -m pip freeze --exclude-editable --disable-pip-version-check > constraints.txt

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
