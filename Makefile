# Two commands on a fresh machine: `make demo` and `make test` (see README.md).
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
UV     := $(VENV)/bin/uv
KERNEL := toolkit
STAMP  := $(VENV)/.installed
export NUMBA_CACHE_DIR := $(CURDIR)/.numba_cache
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: setup demo test lab bench clean

setup: $(STAMP)

# The venv is rebuilt when the lock file or pyproject changes.
$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run make PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv==0.9.*
	$(UV) pip install --quiet --compile-bytecode --python $(PY) -r requirements.lock
	$(UV) pip install --quiet --python $(PY) --no-deps -e .
	@# Bytecode up front: with PYTHONDONTWRITEBYTECODE set (as on CI machines) every
	@# fresh papermill kernel would otherwise recompile pandas and vectorbt from source.
	$(PY) -m compileall -q toolkit >/dev/null
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (toolkit)" >/dev/null
	@touch $(STAMP)

demo: setup
	@run_dir=$$($(VENV)/bin/toolkit run backtest --params params/backtest/sma_crossover.yaml | tail -n 1) && \
	  echo "run archived in $$run_dir" && echo "HTML report: $$run_dir/report.html"

# Lint and type checks first (configuration in pyproject.toml; any finding fails), then
# pytest. nbval runs every notebook with its default params; the dry run's ledger goes to
# a throwaway database so repeated test runs start from the same state.
test: setup
	$(VENV)/bin/ruff check toolkit
	$(VENV)/bin/mypy toolkit
	$(PY) -m pytest tests
	rm -f .nbval-ledger.sqlite*
	TOOLKIT_DB_URL=sqlite:///$(CURDIR)/.nbval-ledger.sqlite $(PY) -m pytest --nbval-lax notebooks/

lab: setup
	$(VENV)/bin/jupyter lab notebooks/

bench: setup
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) .numba_cache .mypy_cache .ruff_cache
