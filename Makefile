# Vigil — run `make help` for the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin/vigil
GOLANGCI_VERSION := v2.15.0
export PATH := $(CURDIR)/.tools/bin:$(PATH)

.DEFAULT_GOAL := help

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-8s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

deps: ## Install what builds and tests need: Go modules, and moto[server] in .venv if the system Python lacks it
	@scripts/deps.sh

build: ## Build bin/vigil
	$(GO) build -o $(BIN) ./cmd/vigil

test: deps ## Run every test: unit, golden fixtures, store conformance, and integration tests against moto
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

bench: deps ## Print benchmark figures: demo-account scan, 10k-resource Azure scan, CEL evaluations/s, store writes/s, policies analyzed/s, event→alert/fix latency of vigil serve
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 20m ./internal/bench/ ./sqlite/
	$(GO) test -run '^$$' -bench BenchmarkServeEvents -benchtime 1x -timeout 20m ./cmd/vigil/
	$(GO) test -run '^$$' -bench . -benchtime 2s ./iampolicy/

lint: ## gofmt, go vet and golangci-lint
	@test -z "$$(gofmt -l .)" || { echo "not gofmt-formatted:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	@command -v golangci-lint >/dev/null || GOBIN=$(CURDIR)/.tools/bin $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION)
	golangci-lint run ./...

demo: deps build ## Start moto, seed a misconfigured account, scan it and print the findings
	$(BIN) demo

clean: ## Remove build output
	rm -rf bin

.PHONY: help deps build test bench lint demo clean
