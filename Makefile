# Two commands on a fresh machine: `make demo` and `make test` (see README.md).
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
UV     := $(VENV)/bin/uv
KERNEL := toolkit
STAMP  := $(VENV)/.installed
export NUMBA_CACHE_DIR := $(CURDIR)/.numba_cache
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: setup browser postgres demo test lab bench screenshots clean

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
	@# The fused grid kernels compile once into NUMBA_CACHE_DIR, so a fresh papermill
	@# kernel loads them from disk instead of compiling for tens of seconds.
	$(PY) -m toolkit.optimize.kernels.warm
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (toolkit)" >/dev/null
	@touch $(STAMP)

demo: setup
	@out=$$($(VENV)/bin/toolkit run backtest --params params/backtest/sma_crossover.yaml); rc=$$?; \
	  run_dir=$$(echo "$$out" | tail -n 1); echo "$$out" | sed '$$d'; \
	  echo "run archived in $$run_dir" && echo "HTML report: $$run_dir/report.html" && \
	  echo "the toolkit command is in .venv: .venv/bin/toolkit runs (or source .venv/bin/activate, then toolkit runs)"; \
	  exit $$rc

# Lint and type checks run first (configuration in pyproject.toml; any finding fails).
# nbval runs every notebook with its default params; the dry run's ledger goes to a
# throwaway database so repeated test runs start from the same state. It runs beside
# the pytest suite: both mostly wait on kernels and subprocesses, so on two cores the
# notebooks cost little extra time. Its report follows the suite's; either failing fails.
# live.ipynb needs a broker and credentials, so nbval cannot run it offline with its
# defaults: tests/integration/test_live_run.py runs every cell of it through papermill
# against the local Alpaca stand-in instead.
NBVAL_DB := $(CURDIR)/.nbval-ledger.sqlite
test: setup browser postgres
	$(VENV)/bin/ruff check toolkit
	$(VENV)/bin/mypy toolkit
	@rm -f $(NBVAL_DB)*
	@echo "$(PY) -m pytest tests   (nbval on notebooks/ beside it)"
	@log=$$(mktemp); \
	TOOLKIT_DB_URL=sqlite:///$(NBVAL_DB) $(PY) -m pytest --nbval-lax notebooks/ --ignore=notebooks/live.ipynb >$$log 2>&1 & nbval=$$!; \
	trap 'kill $$nbval 2>/dev/null; rm -f $$log' INT TERM; \
	$(PY) -m pytest tests; suite=$$?; \
	wait $$nbval; notebooks=$$?; \
	echo "TOOLKIT_DB_URL=sqlite:///$(NBVAL_DB) $(PY) -m pytest --nbval-lax notebooks/ --ignore=notebooks/live.ipynb"; cat $$log; rm -f $$log; \
	[ $$suite -eq 0 ] && [ $$notebooks -eq 0 ]

# Debian's chromium + chromium-driver for tests/browser, installed only when missing
# (as root or with `sudo -n`; otherwise a note, and the browser tests skip).
browser:
	@.ci/install-browser

# Debian's PostgreSQL for the ledger tests, which run on SQLite and on PostgreSQL: installed
# when missing, started, with the test role tests/support/postgres.py logs in as (root or
# `sudo -n`; otherwise a note and those tests skip, or fail under TOOLKIT_TEST_POSTGRES=required,
# which .ci/run sets). TOOLKIT_TEST_POSTGRES_URL points the tests at a server of your own.
postgres:
	@.ci/install-postgres

lab: setup
	$(VENV)/bin/jupyter lab notebooks/

bench: setup postgres
	$(PY) bench/run.py

# docs/screenshots/ (the README's pictures of the control panel), from a replayed ledger
# served by `toolkit dashboard` and photographed in headless Chromium.
screenshots: setup browser
	$(PY) bench/screenshots.py

clean:
	rm -rf $(VENV) .numba_cache .mypy_cache .ruff_cache
