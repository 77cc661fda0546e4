# The README's two quick-start commands: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test typecheck lint bench screenshots clean

$(BIN)/orch: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(BIN)/orch

install: $(BIN)/orch

## Build every asset of the example project into example_project/warehouse.duckdb, then run
## its op job (jobs/customer_value_model.py: a model trained on the customers mart), then the
## workspace (example_project/orch_workspace.yml): marketing/ reads the public customers model.
demo: install
	$(BIN)/orch build --project-dir example_project
	$(BIN)/orch job run customer_value_model --project-dir example_project
	$(BIN)/orch build --workspace example_project --changed
	$(BIN)/orch status --project-dir example_project

## Run the test suite (browser tests need Debian's chromium: apt-get install chromium).
test: install
	$(BIN)/python -m pytest -q

## Type-check the package with mypy (settings in pyproject.toml).
typecheck: install
	bash .ci/typecheck

## ruff: lint and formatting (settings in pyproject.toml).
lint: install
	$(BIN)/ruff check framework adapters tests bench
	$(BIN)/ruff format --check framework adapters tests bench

bench: install
	$(BIN)/python bench/bench_compile.py
	$(BIN)/python bench/bench_build.py

# docs/img/*.png from the real pages (orch ui on a copy of example_project, Debian's chromium)
screenshots: install
	$(BIN)/python bench/screenshots.py

clean:
	rm -rf $(VENV) example_project/target example_project/.orch example_project/warehouse.duckdb \
		example_project/marketing/target example_project/marketing/.orch
