# The two commands: `make run` and `make test`. Both create .venv and install on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint typecheck pytest bench bench-small clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

install: $(STAMP)  ## create .venv and install the project with its test tools

run: $(STAMP)  ## embedded engines (unless configured), migrate, web + worker + scheduler
	$(PY) -m reportsvc.dev

lint: $(STAMP)
	$(VENV)/bin/ruff check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy reportsvc

pytest: $(STAMP)
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test: lint typecheck pytest  ## ruff, mypy and the whole suite on embedded engines

bench: $(STAMP)  ## benchmarks that print ratios against a same-run baseline
	$(PY) -m bench

bench-small: $(STAMP)  ## every benchmark at smoke size (what the suite runs)
	$(PY) -m bench --small

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
