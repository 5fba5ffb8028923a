# The two commands of the README. Both set up what is missing first.
VENV ?= .venv
DEMO_TASKS ?= --task click-button --task enter-text --task click-link --task click-checkboxes

.PHONY: setup demo test lint bench
setup:
	@scripts/setup.sh

demo: setup
	$(VENV)/bin/webagent miniwob $(DEMO_TASKS) --episodes 3 --seed 0 --json demo-results.json

test: setup
	$(VENV)/bin/pytest -q

lint: setup
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

bench: setup
	$(VENV)/bin/python scripts/bench_latency.py
	$(VENV)/bin/python scripts/baselines.py
