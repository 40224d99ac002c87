# anvil -- two commands on a fresh machine: `make demo` and `make test`.
# Everything lives in .venv; nothing depends on what is installed by hand.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
CC     ?= cc
# pytest-xdist processes for make test, each taking whole test files (0: all in one process)
TEST_WORKERS ?= 2

CORE_SRC := $(wildcard csrc/*.c csrc/*.h) engine/_build.py

.PHONY: help demo test test-py lint quick sanitize same-bits bench core install install-test clean browser ensure-bwrap

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 16

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip setuptools wheel

$(VENV)/.installed: $(PY) pyproject.toml setup.py
	$(PIP) install --quiet -e .
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install --quiet -e '.[test]'
	@touch $@

install: $(VENV)/.installed          ## create .venv and install anvil
install-test: $(VENV)/.installed-test  ## ... with the test extras

# Rebuild the compiled core in place whenever csrc/ or the build script changes.
$(VENV)/.core: $(CORE_SRC) $(VENV)/.installed
	$(PY) setup.py --quiet build_ext --inplace
	@touch $@

core: $(VENV)/.core  ## rebuild the C core

ANVIL := $(VENV)/bin/anvil
DEMO_COSTS := --fee-rate 0.001 --slippage-bps 2

demo: $(VENV)/.core  ## set up, then a backtest, a sweep and a walk-forward on the shipped S&P 500 sample
	$(ANVIL) backtest -s sma_cross --symbol SPX -p fast=50 slow=200 $(DEMO_COSTS)
	$(ANVIL) sweep -s sma_cross --symbol SPX --space fast=5:50:5 slow=20:200:10 $(DEMO_COSTS)
	$(ANVIL) walk-forward -s sma_cross --symbol SPX --space fast=5:50:5 slow=20:200:20 \
		--train 1000 --test 250 $(DEMO_COSTS)

test: $(VENV)/.installed-test $(VENV)/.core lint ensure-bwrap browser sanitize test-py  ## set up, lint, and run every test

# The browser tests drive Debian's Chromium with Playwright (which cannot download a
# browser of its own here). Installed when missing and root; else those tests skip
# with one loud line (and fail under CI=true).
browser:  ## install Chromium for the browser tests when it is missing (needs root)
	@if [ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing chromium (for the browser tests)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -q chromium >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; } || \
		echo "WARNING: could not install chromium: the browser tests will be SKIPPED (and fail under CI=true)"; \
	else echo "WARNING: no Chromium and not root: the browser tests will be SKIPPED (apt-get install chromium)"; fi

lint: $(VENV)/.installed-test  ## ruff: unused and undefined names, misplaced imports, and the format ([tool.ruff] in pyproject.toml)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test-py: $(VENV)/.installed-test $(VENV)/.core ensure-bwrap
	PYTHONFAULTHANDLER=1 $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

quick: $(VENV)/.installed-test $(VENV)/.core  ## the edit-test loop: engine and strategy tests, stop at the first failure
	$(PY) -m pytest -x -q tests/engine tests/strategies

# Uploaded strategies run in bubblewrap jails (strategies/jail). Installed here when
# missing and we are root; otherwise the jail's tests skip with the reason (and fail
# under CI=true).
ensure-bwrap:  ## install bubblewrap (the jail for uploaded code) when missing and root
	@if command -v bwrap >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing bubblewrap (the jail for uploaded strategies)"; \
		(apt-get install -y -qq bubblewrap >/dev/null 2>&1 || \
		 (apt-get update -qq >/dev/null && apt-get install -y -qq bubblewrap >/dev/null)) || \
		echo "WARNING: could not install bubblewrap; the jail's tests will skip (and fail under CI=true)"; \
	else \
		echo "WARNING: bwrap (bubblewrap) is missing and this is not root: install it, or the jail's tests skip"; \
	fi

# The C core under AddressSanitizer and UndefinedBehaviorSanitizer, driven with
# random and hostile inputs by a small C program.
SAN_FLAGS := -std=c11 -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
build/hostile: tests/csrc/hostile.c $(wildcard csrc/*.c csrc/*.h)
	@mkdir -p build
	$(CC) $(SAN_FLAGS) -Icsrc -o $@ tests/csrc/hostile.c csrc/*.c -lm

sanitize: build/hostile  ## run the C core's hostile-input driver under ASan+UBSan (both copies of the bar loop)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 ./build/hostile
	ANVIL_CORE_NARROW=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 ./build/hostile

# For speed work on the core: every output of a fixed set of runs (tests/csrc/same_bits.c)
# from the core of commit REF and from the working tree, both copies of the bar loop,
# compared line by line.
REF ?= HEAD
SAME_BITS := build/same-bits
same-bits:  ## the core's outputs bit for bit against commit REF (default HEAD): make same-bits REF=<commit>
	@rm -rf $(SAME_BITS) && mkdir -p $(SAME_BITS)/ref
	git archive $(REF) csrc | tar -x -C $(SAME_BITS)/ref
	$(CC) -std=c11 -O3 -I$(SAME_BITS)/ref/csrc -o $(SAME_BITS)/ref/same_bits tests/csrc/same_bits.c $(SAME_BITS)/ref/csrc/*.c -lm
	$(CC) -std=c11 -O3 -Icsrc -o $(SAME_BITS)/same_bits tests/csrc/same_bits.c csrc/*.c -lm
	$(SAME_BITS)/ref/same_bits > $(SAME_BITS)/ref.txt
	$(SAME_BITS)/same_bits > $(SAME_BITS)/now.txt
	ANVIL_CORE_NARROW=1 $(SAME_BITS)/same_bits > $(SAME_BITS)/now-plain.txt
	@if grep -q DIFFERENT $(SAME_BITS)/now.txt $(SAME_BITS)/now-plain.txt; then \
		echo "a batch's statistics differ from the same run's backtest:"; grep -h DIFFERENT $(SAME_BITS)/now*.txt; exit 1; fi
	diff $(SAME_BITS)/ref.txt $(SAME_BITS)/now.txt
	diff $(SAME_BITS)/ref.txt $(SAME_BITS)/now-plain.txt
	@echo "same bits as $(REF): $$(wc -l < $(SAME_BITS)/now.txt) runs, both copies of the bar loop"

bench: $(VENV)/.installed-test $(VENV)/.core  ## anvil next to its peers; prints the ratios
	$(PY) -m bench

clean:  ## remove build products (keeps .venv)
	rm -rf build engine/_core.c engine/_core*.so engine/_core.o $(VENV)/.core
