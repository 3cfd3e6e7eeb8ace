# The benchmarks (see docs/BENCHMARKS.md). Tests: python scripts/test.py (see README).
PYTHON ?= python

.PHONY: bench bench-quick

bench:
	$(PYTHON) bench/run.py

bench-quick:
	$(PYTHON) bench/run.py --quick
