# The one entry point for tasks: CI runs `make lint test`, as a developer does.

CARGO ?= cargo

.PHONY: up test lint build deps fmt

## Run every service in one process (state in ./.nubo, dev keys test/test).
up:
	$(CARGO) run --release --bin nubo -- up

## Install what the test suite needs, build nubo, run every test.
test: deps build
	$(CARGO) test --workspace

## Formatting and clippy, warnings as errors.
lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## The binary the end-to-end suite starts.
build:
	$(CARGO) build --bin nubo

deps:
	./e2e/install-test-deps.sh

fmt:
	$(CARGO) fmt --all
