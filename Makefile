# k6-gate: `make demo` shows it working, `make test` proves it. Both install what is missing.
SHELL := /bin/bash
K6_VERSION := v2.2.0
TOOLS_BIN := $(CURDIR)/.tools/bin
K6 := $(TOOLS_BIN)/k6
FLAGGER_CLIENT := $(TOOLS_BIN)/flagger-client
NODE_DEPS := node_modules/.package-lock.json

.PHONY: deps test demo lint typecheck build clean
.DEFAULT_GOAL := help

help:
	@echo "make demo   - start Redis, API, 2 workers, a demo target; judge a good and a bad canary"
	@echo "make test   - install what is missing, typecheck, lint, run every test"
	@echo "make bench  - run the benchmarks and rewrite docs/benchmarks.md"

$(NODE_DEPS): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

$(K6):
	scripts/install-k6.sh $(K6_VERSION) $(TOOLS_BIN)

$(FLAGGER_CLIENT): test/flagger-client/main.go test/flagger-client/go.mod test/flagger-client/go.sum
	cd test/flagger-client && go build -o $(FLAGGER_CLIENT) .

# Debian packages: redis-server for every test and the demo, chromium for dashboard tests.
.PHONY: system-packages
system-packages:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

deps: $(NODE_DEPS) $(K6) system-packages

typecheck: $(NODE_DEPS)
	npx tsc -p tsconfig.json --noEmit

lint: $(NODE_DEPS)
	npx eslint .
	npx prettier --check .

test: deps $(FLAGGER_CLIENT) manifests-check typecheck lint
	npx vitest run

demo: deps
	npx tsx demo/up.ts

build: $(NODE_DEPS)
	npm run build

clean:
	rm -rf dist test-artifacts .demo

-include mk/*.mk
