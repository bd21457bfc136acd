# Two commands set everything up: `make demo` and `make test`. Both are idempotent:
# the virtual environment is rebuilt only when pyproject.toml or the lock file change.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Keep numba's compiled-code cache inside the checkout.
export NUMBA_CACHE_DIR := $(CURDIR)/.numba-cache
# Numba keys a cached function on its own file only, so the loop would keep the old code
# of the rules it inlines from other files: any edit to a compiled file clears the cache.
NUMBA_SOURCES := $(shell grep -rl --include='*.py' '@njit' src)
NUMBA_STAMP := .numba-cache/.sources-stamp

.PHONY: setup demo test lint bench clean chromium

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		-c requirements.lock -e '.[dev,ray]'
	touch $(STAMP)

$(NUMBA_STAMP): $(NUMBA_SOURCES)
	rm -rf .numba-cache
	mkdir -p .numba-cache
	touch $@

# The default DQN job's compiled program goes into JAX's on-disk cache (~/.cache/qlearn),
# so the first `qlearn train CartPole-v1` loads it instead of compiling (a few seconds).
setup: $(STAMP) $(NUMBA_STAMP)
	@$(BIN)/python -m qlearn.precompile --dqn

# The whole tutorial in one command: solve, narrate, train, greedy trap, cliff (under a minute).
demo: setup
	$(BIN)/qlearn tour --out runs/tour-$$(date +%Y%m%d-%H%M%S)

# The report tests open report.html in headless Chromium; CI machines start without it.
chromium:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

# The Numba loops compile into the cache while lint and chromium run, so the test
# workers load them instead of each compiling the same code at once.
test: setup
	@$(BIN)/python -m qlearn.precompile & pid=$$!; \
	  $(MAKE) --no-print-directory lint chromium || { wait $$pid; exit 1; }; \
	  wait $$pid
	$(BIN)/python -m pytest -q -n 2 --durations=15

bench: setup
	$(BIN)/python bench/tabular_throughput.py

clean:
	rm -rf $(VENV) .numba-cache .pytest_cache
