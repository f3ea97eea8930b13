# The one entry point for tasks: CI runs `make lint test`, as a developer does.

CARGO ?= cargo

.PHONY: up test test-cql test-dynamodb lint build deps fmt fuzz bench-dynamodb bench-functions bench-s3 bench-dns bench-auth bench-cdn bench-gateway cache-tests

## Run every service in one process (state in ./.nubo, dev keys test/test).
up:
	$(CARGO) run --release --bin nubo -- up

## Install what the test suite needs, build nubo, run every test.
test: deps build
	$(CARGO) test --workspace

## The DynamoDB suites and the seven-process cluster again, on the CQL
## engine against a real Cassandra node started for the run (fetched from
## Maven Central on first use).
# `--workspace` resolves features as `make test` does, so this reuses its build.
# The CQL engine's own unit tests that need a node (they skip without
# NUBO_TEST_CQL) run first, against the same node.
test-cql: deps build
	./e2e/cql-node/run-with-node.sh sh -c '$(CARGO) test --workspace --lib engine::cql:: && $(CARGO) test --workspace --test dynamodb --test dynamodb_features --test dynamodb_indexes_streams --test dynamodb_legacy --test cluster'

## The DynamoDB suites on whatever NUBO_TEST_SCYLLA=host:port names (a real
## ScyllaDB node), or on the embedded engine when it is unset.
test-dynamodb: deps build
	$(CARGO) test --workspace --test dynamodb --test dynamodb_features --test dynamodb_indexes_streams

## Bounded fuzzing of the parsers of untrusted input: DynamoDB expressions
## and items, SigV4 request heads and aws-chunked bodies, S3 requests, policies
## and XML bodies, DNS queries, Cognito and OAuth inputs, the cdn's viewer
## inputs (signed URLs and cookies, CORS request headers, path patterns)
## (needs a nightly toolchain and cargo-fuzz).
fuzz:
	cd services/data && cargo +nightly fuzz run expressions -- -max_total_time=120
	cd services/data && cargo +nightly fuzz run attribute_values -- -max_total_time=60
	cd services/host && cargo +nightly fuzz run sigv4 -- -max_total_time=120
	cd services/host && cargo +nightly fuzz run aws_chunked -- -max_total_time=120
	cd services/storage && cargo +nightly fuzz run s3_requests -- -max_total_time=120
	cd services/dns && cargo +nightly fuzz run dns_queries -- -max_total_time=120
	cd services/dns && cargo +nightly fuzz run route53_requests -- -max_total_time=120
	cd services/auth && cargo +nightly fuzz run cognito_inputs -- -max_total_time=120
	cd services/cdn && cargo +nightly fuzz run cdn_inputs -- -max_total_time=120

## The DynamoDB benchmark against dynalite and moto_server, side by side,
## with wrk replaying pre-signed requests and with aws-sdk-dynamodb; first
## the embedded engine against raw redb writes in process (release build;
## the peers come from npm and PyPI, wrk from Debian, installed when
## missing). Not part of `test`.
bench-dynamodb: deps
	$(CARGO) build --release --bin nubo
	command -v wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk) \
		|| echo "wrk is missing and could not be installed: its rows are skipped"
	python3 -m venv target/bench-venv
	target/bench-venv/bin/pip install --quiet 'moto[server]'
	NUBO_BIN=target/release/nubo MOTO_SERVER=target/bench-venv/bin/moto_server \
		$(CARGO) run --release -p nubo-e2e --bin dynamodb-bench -- --seconds 5 --clients 8

## The functions benchmark: cold starts against the bare start of python3
## and node, warm invokes against a no-op round trip on the same HTTP stack,
## with aws-sdk-lambda, wrk (from Debian, installed when missing and root)
## and a plain HTTP client. Release builds; not part of `test`.
bench-functions:
	$(CARGO) build --release --bin nubo
	$(CARGO) build --release -p nubo-e2e --bin functions-bench
	command -v wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk) \
		|| echo "wrk is missing and could not be installed: its rows are skipped"
	NUBO_BIN=target/release/nubo target/release/functions-bench --seconds 3 --cold-samples 20

## The S3 benchmark against moto_server, side by side: 4 KiB PutObject and
## GetObject with aws-sdk-s3 (1 and 32 clients) and with wrk on presigned
## URLs, single-stream 256 MiB transfers against the disk's own bandwidth
## (dd), and each server's memory during a 1 GiB upload. Release builds;
## moto_server from PyPI into target/bench-venv, wrk from Debian (installed
## when missing and root). Not part of `test`.
bench-s3:
	$(CARGO) build --release --bin nubo
	$(CARGO) build --release -p nubo-e2e --bin s3-bench
	python3 -m venv target/bench-venv
	target/bench-venv/bin/pip install --quiet 'moto[server]'
	command -v wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk) \
		|| echo "wrk is missing and could not be installed: its rows are skipped"
	NUBO_BIN=target/release/nubo MOTO_SERVER=target/bench-venv/bin/moto_server \
		target/release/s3-bench --seconds 5 --large-runs 3

## The gateway benchmark: an HTTP API route to a warm trivial provided
## function against the same bootstrap's Runtime API round trip driven
## directly (and a signed Invoke), and an HTTP_PROXY route to a static
## upstream against nginx proxying to it; one client for latency, wrk for
## throughput.
## Release builds; wrk and nginx-light from Debian (installed when missing
## and root). Not part of `test`.
bench-gateway:
	$(CARGO) build --release --bin nubo
	$(CARGO) build --release -p nubo-e2e --bin gateway-bench
	command -v wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk) \
		|| echo "wrk is missing and could not be installed: its rows are skipped"
	test -x /usr/sbin/nginx || (apt-get update -qq && apt-get install -y -qq nginx-light) \
		|| echo "nginx is missing and could not be installed: its row is skipped"
	NUBO_BIN=target/release/nubo target/release/gateway-bench --seconds 5 --connections 16

## Formatting and clippy, warnings as errors.
lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## The binary the end-to-end suite starts.
build:
	$(CARGO) build --bin nubo

deps:
	./e2e/install-test-deps.sh
	npm install --prefix e2e/differential --silent

fmt:
	$(CARGO) fmt --all

## The DNS benchmark: dnsperf against nubo and NSD side by side on the same
## zone and query file (release build; NSD and dnsperf from apt).
bench-dns:
	$(CARGO) build --release --bin nubo
	$(CARGO) build --release -p nubo-e2e --bin dns-bench
	command -v nsd >/dev/null 2>&1 && command -v dnsperf >/dev/null 2>&1 \
		|| (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nsd dnsperf)
	NUBO_BIN=target/release/nubo target/release/dns-bench --seconds 10 --clients 8

## The auth benchmark: password and SRP sign-ins/s (closed loop, and one
## client's latency) against argon2id's bound, ID-token verifications/s,
## moto_server's Cognito beside. Release builds; not part of `test`.
bench-auth:
	$(CARGO) build --release --bin nubo
	$(CARGO) build --release -p nubo-e2e --bin auth-bench
	NUBO_BIN=target/release/nubo target/release/auth-bench --seconds 10 --clients 4

## The cdn benchmark: wrk against nubo's cache hits and Varnish's, side by
## side in front of one origin, 1 KiB and 100 KiB objects, three repeats
## (release builds; varnish and wrk from apt).
bench-cdn:
	$(CARGO) build --release --bin nubo
	$(CARGO) build --release -p nubo-e2e --bin cdn-bench
	command -v wrk >/dev/null 2>&1 && (command -v varnishd || test -x /usr/sbin/varnishd) >/dev/null 2>&1 \
		|| (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends varnish wrk)
	NUBO_BIN=target/release/nubo target/release/cdn-bench --seconds 5 --repeats 3 --connections 32

## The cache-tests suite (http-tests/cache-tests; $$CACHE_TESTS, by default
## ../shared/cache-tests) against a distribution over its own server, scored
## beside the published caches; node and npm from apt.
cache-tests:
	command -v npm >/dev/null 2>&1 \
		|| (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm)
	$(CARGO) test -p nubo-e2e --test cdn_cache_tests -- --nocapture
