# Choreoscope: the two commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
ONLY   ?=

.PHONY: demo test lint bench kafka install clean config-docs lock

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml constraints.txt | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]' -c constraints.txt
	touch $(STAMP)

install: $(STAMP)

## make lock: re-resolve pyproject.toml's ranges in a scratch venv into constraints.txt
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet --upgrade pip
	.venv-lock/bin/python -m pip install --quiet -e '.[dev]'
	{ sed -n '/^#/p' constraints.txt; .venv-lock/bin/python -m pip freeze --exclude-editable; } > constraints.new
	mv constraints.new constraints.txt && rm -rf .venv-lock

## make demo: simulator -> collector -> SQLite -> dashboard on http://127.0.0.1:8501
demo: $(STAMP)
	bash scripts/ensure_graphviz.sh
	$(VENV)/bin/choreoscope demo

## make test: installs what the tests need, starts their services (Kafka, RabbitMQ, NATS,
## PostgreSQL, ...), runs the suite
test: $(STAMP)
	bash scripts/ensure_chromium.sh
	bash scripts/ensure_graphviz.sh
	bash scripts/ensure_brokers.sh
	bash scripts/ensure_postgres.sh
	$(PY) scripts/kafka.py fetch
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check collector catalog dashboard tests bench scripts
	$(VENV)/bin/mypy

## make config-docs: regenerate docs/CONFIGURATION.md from the settings models (after adding one)
config-docs: $(STAMP)
	$(VENV)/bin/choreoscope config docs --out docs/CONFIGURATION.md

## make bench [ONLY=name]: one JSON line per benchmark
bench: $(STAMP)
	bash scripts/ensure_chromium.sh
	bash scripts/ensure_graphviz.sh
	$(PY) bench/run.py $(if $(ONLY),--only $(ONLY))

## make kafka: a single-node Apache Kafka (KRaft) on 127.0.0.1, until Ctrl-C
kafka: $(STAMP)
	$(PY) scripts/kafka.py run

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
