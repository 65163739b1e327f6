# Two commands do all set-up: `make demo` and `make test`.
# Both create or reuse .venv, install the pinned CPU torch first (override
# TORCH_SPEC, e.g. TORCH_SPEC="torch==2.13.0 --index-url <cuda index>"), then
# drpkit with its extras.
PYTHON ?= python3.11
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.drpkit-installed
DEMO_OUT ?= runs/demo
PYTEST_ARGS ?= -n 2

.PHONY: venv demo test test-slow lint clean

venv: $(STAMP)

# A venv cut short while being created (no pip) is made again, not reused.
$(STAMP): pyproject.toml Makefile
	$(BIN)/python -m pip --version >/dev/null 2>&1 || $(PYTHON) -m venv --clear $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_SPEC)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/drpkit benchmark benchmarks/configs/demo.toml --out $(DEMO_OUT)

test: $(STAMP)
	DRPKIT_DATA_MIRROR=$${DRPKIT_DATA_MIRROR:-$(CURDIR)/../shared/data} $(BIN)/python -m pytest $(PYTEST_ARGS)

test-slow: $(STAMP)
	DRPKIT_DATA_MIRROR=$${DRPKIT_DATA_MIRROR:-$(CURDIR)/../shared/data} $(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check drpkit tests
	$(BIN)/python -m mypy drpkit

clean:
	rm -rf $(VENV) build *.egg-info
