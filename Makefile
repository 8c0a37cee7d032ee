# k6-gate: `make demo` shows it working, `make test` proves it. Both install what is missing.
SHELL := /bin/bash
TOOLS_BIN := $(CURDIR)/.tools/bin

# k6: the version the worker runs, pinned in .k6-version (the only place, as X.Y.Z; the
# Dockerfile's `FROM grafana/k6:X.Y.Z` must be the same, test/unit/pins.test.ts checks it).
# scripts/install-k6.sh builds it from the Go module proxy into .tools/bin (Go module
# versions carry a "v"). A stamp named by the version: bumping it rebuilds.
K6_VERSION := $(shell cat $(CURDIR)/.k6-version)
K6 := $(CURDIR)/.tools/.installed-k6-$(K6_VERSION)

# Node.js: the runtime we ship, pinned in .node-version (the only place; the Dockerfile's
# `FROM node:X.Y.Z-...` must have the same major.minor, test/runtime.test.ts checks it).
# scripts/install-node.sh puts it in .tools/node from the npm registry, with the npm that
# Node release bundles (see its CHANGELOG; the official node image ships the same one).
# Every recipe below runs node, npm and npx from there: .tools/node/bin comes first on PATH,
# so the machine's own Node (any version, only used to download this one) is never used.
NODE_VERSION := $(shell cat $(CURDIR)/.node-version)
NPM_VERSION := 11.19.1
NODE_DIR := $(CURDIR)/.tools/node
# A stamp named by both versions: bumping either reinstalls.
NODE := $(NODE_DIR)/.installed-node-$(NODE_VERSION)-npm-$(NPM_VERSION)
export PATH := $(NODE_DIR)/bin:$(PATH)

FLAGGER_CLIENT := $(TOOLS_BIN)/flagger-client
FLAGGER_SIM := $(TOOLS_BIN)/flagger-sim
NODE_DEPS := node_modules/.package-lock.json

.PHONY: deps node test demo lint typecheck build clean
.DEFAULT_GOAL := help

help:
	@echo "make demo   - start Redis, k6-gate in one process (API + worker), a demo target; judge a good and a bad canary"
	@echo "make test   - install what is missing, typecheck, lint, run every test"
	@echo "make bench  - run the benchmarks and rewrite docs/benchmarks.md"
	@echo "make bench-peer - build flagger-k6-webhook (Go module proxy), rerun the side by side, rewrite docs/peer-comparison.md (root)"
	@echo "make soak   - kill APIs, workers and the Redis primary while canaries run; rewrite docs/soak.md"
	@echo "make e2e    - a real single-node Kubernetes cluster built here: our image and chart, Flagger, podinfo, KEDA, k6-operator; scenarios 1-9; down (root)"

$(NODE):
	scripts/install-node.sh $(NODE_VERSION) $(NPM_VERSION) $(NODE_DIR)
	@touch $@

node: $(NODE)

# Order-only on $(NODE): a new Node does not force a fresh `npm ci` (the native add-ons in
# the tree are N-API or prebuilt, not tied to one Node ABI).
$(NODE_DEPS): package.json package-lock.json | $(NODE)
	npm ci --no-audit --no-fund
	@touch $@

$(K6):
	scripts/install-k6.sh v$(K6_VERSION) $(TOOLS_BIN)
	@touch $@

$(FLAGGER_CLIENT): test/flagger-client/main.go test/flagger-client/go.mod test/flagger-client/go.sum
	cd test/flagger-client && go build -o $(FLAGGER_CLIENT) .

# Flagger's own controller on a simulated cluster (test/flagger-sim): test/flagger/scheduler.test.ts
# and the demo's rollout part.
$(FLAGGER_SIM): $(wildcard test/flagger-sim/*.go) test/flagger-sim/go.mod test/flagger-sim/go.sum
	cd test/flagger-sim && go build -o $(FLAGGER_SIM) .

# Debian packages: redis-server for every test and the demo, redis-sentinel for the failover
# tests and the soak, chromium for dashboard tests.
.PHONY: system-packages
system-packages:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v redis-sentinel >/dev/null || missing="$$missing redis-sentinel"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

deps: $(NODE) $(NODE_DEPS) $(K6) system-packages

typecheck: $(NODE) $(NODE_DEPS)
	npx tsc -p tsconfig.json --noEmit

lint: $(NODE) $(NODE_DEPS)
	npx eslint .
	npx prettier --check .

# mk/keda-scaler.mk adds KEDA's scaler (test/keda-scaler) to these prerequisites.
test: deps $(FLAGGER_CLIENT) $(FLAGGER_SIM) manifests-check typecheck lint
	npx vitest run

demo: deps $(FLAGGER_SIM)
	npx tsx demo/up.ts

build: $(NODE) $(NODE_DEPS)
	npm run build

clean:
	rm -rf dist test-artifacts .demo

-include mk/*.mk
