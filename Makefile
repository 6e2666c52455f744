# Two commands do all set-up: `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test coverage lint bench-serve bench-train clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip

# requirements.lock pins every package so CI installs the versions tested here;
# constraints.txt keeps torch on the local CPU build if anything asks for it.
$(STAMP): $(BIN)/python pyproject.toml requirements.lock constraints.txt
	$(BIN)/pip install -q -c constraints.txt -r requirements.lock
	$(BIN)/pip install -q --no-deps -e '.[test]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/shopfloor serve

# The suite in TEST_WORKERS processes (one module per process at a time, one OpenMP thread each),
# then the tests marked serial, which need the machine to themselves, in one.
TEST_WORKERS ?= 2

test: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile -m "not serial"
	$(BIN)/python -m pytest -q -m serial

# The whole suite under coverage.py: line coverage of src/shopfloor (code run in-process).
coverage: $(STAMP)
	$(BIN)/python -m coverage erase
	$(BIN)/python -m coverage run -m pytest -q
	$(BIN)/python -m coverage report --format=total
	$(BIN)/python -m coverage report | tail -n 1

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/mypy

bench-serve: $(STAMP)
	$(BIN)/python bench/serve_tabular.py

bench-train: $(STAMP)
	$(BIN)/python bench/train_tabular.py

clean:
	rm -rf $(VENV) .shopfloor
