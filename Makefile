# Customer Hub. The two commands: `make run` (build and start the desktop app) and
# `make test` (every test: Rust, UI unit tests, WebDriver e2e). See README.md.
#
# Every target is safe to repeat: scripts/setup.sh only installs or rebuilds what is
# missing or changed, and cargo only rebuilds what changed.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
# Steps of `make test` depend on each other's order (ui/dist before cargo, cargo test
# before the generated-types check); never run them in parallel.
.NOTPARALLEL:

CARGO ?= cargo
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
APP := $(TARGET_DIR)/debug/customer-hub
HUB := $(TARGET_DIR)/debug/hub
# Demo contacts loaded by `make run` into an empty database.
DEMO_CONTACTS ?= 2000

# tauri-driver installed by scripts/setup.sh.
export PATH := $(CURDIR)/.tools/bin:$(PATH)

.PHONY: help run test bench fmt lint e2e setup setup-test ui build \
	fmt-check clippy cargo-test check-types ui-check ui-test ui-e2e hub-e2e segment-client

help:
	@echo 'make run     build and start the desktop app (demo data on an empty database)'
	@echo 'make test    every test: fmt, clippy, cargo test, generated types, UI unit tests, WebDriver e2e'
	@echo 'make bench   benchmarks: write path vs raw insert, search latency, Kanban board, Today view, filters, push throughput, first sync, event ingestion (prints figures)'
	@echo 'make e2e     end-to-end only: hub-e2e (real server over HTTP) and the WebDriver suite'
	@echo 'make fmt     format the Rust code'
	@echo 'make lint    clippy (warnings are errors) and the UI type check'

## The two commands

run: setup build
	$(HUB) demo --contacts $(DEMO_CONTACTS) --if-empty
	$(APP)

# Order: cheap checks first, the WebDriver suite last so its summary closes the output.
test: setup-test fmt-check clippy cargo-test check-types ui-check ui-test build segment-client ui-e2e

## Other entry points

bench: setup-test
	$(CARGO) bench -p hub-core
	$(CARGO) bench -p hub-e2e --bench sync
	$(CARGO) bench -p hub-server --bench ingest

e2e: setup-test build hub-e2e ui-e2e

fmt:
	$(CARGO) fmt --all

lint: setup clippy ui-check

## Steps

setup:
	scripts/setup.sh run

setup-test:
	scripts/setup.sh test

ui:
	scripts/setup.sh ui

build:
	$(CARGO) build -p customer-hub -p hub-cli -p hub-server $(if $(CI),--locked)

fmt-check:
	@$(CARGO) fmt --all --check || { echo "make: Rust code is not formatted: run 'make fmt'" >&2; exit 1; }

clippy:
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

cargo-test:
	$(CARGO) test --workspace --locked

# ts-rs rewrites ui/src/lib/types while hub-core's tests run (cargo-test).
check-types:
	scripts/check-generated-types.sh

ui-check:
	cd ui && npm run --if-present check

ui-test:
	cd ui && npm test

hub-e2e:
	$(CARGO) test --locked -p hub-e2e

# Segment's analytics-python (PyPI, in a venv under target/) against a real hub-server.
segment-client:
	HUB_SERVER_BIN=$(TARGET_DIR)/debug/hub-server tests/segment/run.sh

ui-e2e:
	tests/ui/run.sh
