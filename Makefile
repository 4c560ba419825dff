# The whole set-up on a fresh machine: `make run`, then `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install check format test run lock clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

check: install
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy --strict src/concert_core
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff check --fix src tests
	$(BIN)/ruff format src tests

test: check
	HYPOTHESIS_PROFILE=$${HYPOTHESIS_PROFILE:-ci} $(BIN)/pytest

# The REST API and `concert serve` arrive with the API issue; until then `make run`
# installs the project and runs the README's library example: a whole fan journey.
run: install
	$(BIN)/python tests/readme_example.py

# Re-pin every dependency to what is installed now (after changing pyproject.toml).
lock: install
	$(BIN)/python -m pip freeze --exclude-editable --disable-pip-version-check > constraints.txt

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
