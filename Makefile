# thinktank: every target does its own set-up on a fresh Debian machine.
#   make test   install everything the tests need (a trace collector too), then lint,
#               type-check and test
#   make demo   install, start what is needed, run the demo job
#   make bench  run every benchmark in quick mode
SHELL := /bin/bash
.DEFAULT_GOAL := test
PY ?= python3
VENV := .venv
BOOT := .cache/bootstrap
UV := $(BOOT)/bin/uv
UV_VERSION := 0.13.9
STAMP := $(VENV)/.thinktank-synced
TT := $(VENV)/bin/thinktank

export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)
export UV_PYTHON_DOWNLOADS := never
export UV_NO_PROGRESS := 1

.PHONY: setup engine browser collector test lint demo bench clean

$(UV):
	@$(PY) -m venv $(BOOT)
	@$(BOOT)/bin/pip install --quiet uv==$(UV_VERSION)

# Extras the tests and the demo use: `ray` for the cluster executor, `otel` for trace
# export (thinktank.telemetry), `swebench` for the SWE-bench specifications and log
# parsers (swebench 4: its per-repository tables).
# Bytecode is compiled at install so every command starts fast.
EXTRAS ?= local search mcp optimize report ray swebench otel

# The embedded model's llama-cpp-python compiles from source (a few minutes, once).
$(STAMP): pyproject.toml uv.lock | $(UV)
	@echo "setting up $(VENV) (first run compiles llama-cpp-python: a few minutes)"
	@$(UV) sync --frozen --quiet --compile-bytecode $(addprefix --extra ,$(EXTRAS))
	@touch $@

setup: $(STAMP)

# The trace collector the telemetry tests start on loopback (Arize Phoenix, pinned by
# tests/telemetry/collector/uv.lock), in a venv of its own so its dependencies never move
# the project's. Users run their own collector; this one is for the tests.
COLLECTOR := .cache/collector
COLLECTOR_LOCK := tests/telemetry/collector
$(COLLECTOR)/.thinktank-synced: $(COLLECTOR_LOCK)/pyproject.toml $(COLLECTOR_LOCK)/uv.lock | $(UV)
	@echo "setting up the trace collector (Phoenix) in $(COLLECTOR)"
	@UV_PROJECT_ENVIRONMENT=$(CURDIR)/$(COLLECTOR) $(UV) sync --frozen --quiet \
	  --compile-bytecode --project $(COLLECTOR_LOCK)
	@touch $@

collector: $(COLLECTOR)/.thinktank-synced

# Docker engine and sandbox image: installs docker.io and starts dockerd when no
# engine runs, builds the image offline when missing. Idempotent.
engine: setup
	@$(TT) sandbox doctor --fix --quiet

lint: setup
	@$(VENV)/bin/ruff check --quiet src tests bench examples
	@$(VENV)/bin/ruff format --check --quiet src tests bench examples
	@$(VENV)/bin/mypy --no-error-summary src/thinktank
	@out=$$($(VENV)/bin/lint-imports 2>&1) || { echo "$$out"; exit 1; }

# System packages the tests use: headless Chromium (the HTML report's browser tests)
# and graphviz (`thinktank graph show --png`), from Debian. Idempotent and quiet.
APT := $(shell [ "$$(id -u)" = 0 ] || echo sudo) env DEBIAN_FRONTEND=noninteractive apt-get
SYSTEM_PACKAGES := chromium:chromium graphviz:dot
browser:
	@for pair in $(SYSTEM_PACKAGES); do pkg=$${pair%%:*}; bin=$${pair##*:}; \
	  command -v $$bin >/dev/null 2>&1 && continue; echo "installing $$pkg (tests use it)"; \
	  $(APT) install -y -q $$pkg >/dev/null 2>&1 || \
	  { $(APT) update -q >/dev/null && $(APT) install -y -q $$pkg >/dev/null; } || exit 1; done

test: setup engine lint browser collector
	@$(VENV)/bin/pytest -q -p no:cacheprovider

demo: setup engine
	@$(TT) demo

bench: setup engine
	@set -e; for f in bench/[!_]*.py; do echo "== $$f"; $(VENV)/bin/python $$f --quick; done

clean:
	rm -rf $(VENV) $(BOOT) $(COLLECTOR)
