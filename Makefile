# Keel: the commands the README names. Everything runs on a fresh machine: the scripts install
# what they need (Debian packages, Maven Central jars, Go modules, crates) on first use.
SHELL := /bin/bash
BENCH ?= all
ORDERS ?= 2000
RATE ?= 100
SAGA ?= orchestration
KILLS ?= 0
RELEASE ?= 1
FUZZ_SECONDS ?= 60
DEBEZIUM ?= 0

.PHONY: help up status down test demo bench fuzz fmt lint

help:
	@echo "make up | status | down   the local stack (MariaDB, PostgreSQL, Redis, Kafka, Elasticsearch, Jaeger)"
	@echo "make up DEBEZIUM=1        ... plus Kafka Connect with Debezium's MariaDB connector"
	@echo "make test                 fmt check, clippy, every test including the integration tests (brings the stack up)"
	@echo "make demo [ORDERS=2000]   the stack plus the e-commerce example end to end, with its checks (RELEASE=0: the debug build)"
	@echo "make bench [BENCH=area]   release benchmarks against the stack (core|capture|projections|sagas|e2e)"
	@echo "make fuzz [FUZZ_SECONDS=60] cargo-fuzz on keel-capture's binlog event decoders"

up:
	@DEBEZIUM=$(DEBEZIUM) bash scripts/stack/stack.sh up

status:
	@DEBEZIUM=$(DEBEZIUM) bash scripts/stack/stack.sh status

down:
	@bash scripts/stack/stack.sh down

test:
	@bash scripts/test.sh

demo:
	@ORDERS=$(ORDERS) RATE=$(RATE) SAGA=$(SAGA) KILLS=$(KILLS) RELEASE=$(RELEASE) bash scripts/demo.sh

bench:
	@bash scripts/bench.sh $(BENCH)

fuzz:
	@FUZZ_SECONDS=$(FUZZ_SECONDS) bash scripts/fuzz.sh

fmt:
	cargo fmt --all

lint:
	cargo clippy --workspace --all-targets --all-features -- -D warnings
