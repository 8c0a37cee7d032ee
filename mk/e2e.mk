# The e2e cluster (issue 29): a real single-node Kubernetes cluster on this machine,
# built offline from the registries it reaches. Included by the root Makefile.
#   make e2e-tools   build/install what the cluster runs (cached in .tools/e2e)
#   make e2e-up      bring the cluster up (scripts/e2e/up.sh); KUBECONFIG is printed
#   make e2e-smoke   check a running cluster (node Ready, pod IP, ClusterIP, DNS,
#                    NetworkPolicy enforced)
#   make e2e-down    tear it down and restore the host (also after a failed up)
#   make e2e         up, smoke, install, scenarios 1-9, down (down always), host diffed,
#                    report (docs/e2e-cluster.md's generated section)
# Needs root (containerd, a kubelet, iptables). Docs: docs/e2e-cluster.md.
#
# Versions: each wrapper module's go.mod (test/e2e/{kube,etcd,coredns,kube-router}/go.mod)
# is the only place they are written; the stamps below are named by them, so a bump
# rebuilds. containerd, runc, the CNI plugins, iptables, ipset and conntrack are Debian's
# packages.

E2E_TOOLS := $(CURDIR)/.tools/e2e
E2E_BIN := $(E2E_TOOLS)/bin
E2E_IMAGES := $(E2E_TOOLS)/images
E2E_SHELLCHECK := $(CURDIR)/.tools/shellcheck-$(SHELLCHECK_VERSION)/bin/shellcheck

# The version a wrapper module's go.mod requires of module $(2), in a require block or on a
# one-line `require module version` (as go mod writes a single direct requirement).
e2e_mod_version = $(shell awk '$$1 == "require" { $$1 = "" ; $$0 = $$0 } $$1 == "$(2)" { print $$2; exit }' $(CURDIR)/test/e2e/$(1)/go.mod)
E2E_K8S_VERSION := $(call e2e_mod_version,kube,k8s.io/kubernetes)
E2E_ETCD_VERSION := $(call e2e_mod_version,etcd,go.etcd.io/etcd/server/v3)
E2E_COREDNS_VERSION := $(call e2e_mod_version,coredns,github.com/coredns/coredns)
E2E_KUBE_ROUTER_VERSION := $(call e2e_mod_version,kube-router,github.com/cloudnativelabs/kube-router/v2)

E2E_K8S := $(E2E_TOOLS)/.built-kubernetes-$(E2E_K8S_VERSION)
E2E_ETCD := $(E2E_TOOLS)/.built-etcd-$(E2E_ETCD_VERSION)
E2E_COREDNS := $(E2E_TOOLS)/.built-coredns-$(E2E_COREDNS_VERSION)
E2E_KUBE_ROUTER := $(E2E_TOOLS)/.built-kube-router-$(E2E_KUBE_ROUTER_VERSION)
E2E_OWN := $(E2E_TOOLS)/.built-own
E2E_IMAGES_STAMP := $(E2E_IMAGES)/.built
# ipset: kube-router's network policy sets (it runs the ipset command).
E2E_PACKAGES := containerd runc containernetworking-plugins iptables conntrack nftables ipset

$(E2E_K8S): test/e2e/kube/go.mod test/e2e/kube/go.sum
	scripts/e2e/build-tools.sh kubernetes $(E2E_BIN)
	@rm -f $(E2E_TOOLS)/.built-kubernetes-*
	@touch $@

$(E2E_ETCD): test/e2e/etcd/go.mod test/e2e/etcd/go.sum
	scripts/e2e/build-tools.sh etcd $(E2E_BIN)
	@rm -f $(E2E_TOOLS)/.built-etcd-*
	@touch $@

$(E2E_COREDNS): test/e2e/coredns/go.mod test/e2e/coredns/go.sum
	scripts/e2e/build-tools.sh coredns $(E2E_BIN)
	@rm -f $(E2E_TOOLS)/.built-coredns-*
	@touch $@

# kube-router, the cluster's NetworkPolicy engine (firewall only): first build 142 s with an
# empty build cache (gobgp, the AWS SDK and client-go 0.29 come with it), relink 4 s.
$(E2E_KUBE_ROUTER): test/e2e/kube-router/go.mod test/e2e/kube-router/go.sum
	scripts/e2e/build-tools.sh kube-router $(E2E_BIN)
	@rm -f $(E2E_TOOLS)/.built-kube-router-*
	@touch $@

$(E2E_OWN): test/e2e/images/go.mod $(wildcard test/e2e/images/cmd/*/*.go)
	scripts/e2e/build-tools.sh images $(E2E_BIN)
	@touch $@

$(E2E_IMAGES_STAMP): $(E2E_OWN) $(E2E_COREDNS) scripts/e2e/images.sh scripts/e2e/lib.sh
	scripts/e2e/images.sh
	@touch $@

.PHONY: e2e-packages e2e-tools e2e-images e2e-up e2e-down e2e-smoke e2e e2e-shellcheck

# Debian's packages, installed when missing (their services are not started: up.sh
# runs containerd with its own configuration).
e2e-packages:
	@missing=""; \
	for p in $(E2E_PACKAGES); do dpkg-query -W -f '$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

e2e-tools: e2e-packages $(E2E_K8S) $(E2E_ETCD) $(E2E_COREDNS) $(E2E_KUBE_ROUTER) $(E2E_OWN)

e2e-images: $(E2E_IMAGES_STAMP)

e2e-up: e2e-tools e2e-images
	scripts/e2e/up.sh

e2e-down:
	scripts/e2e/down.sh

e2e-smoke:
	scripts/e2e/smoke.sh

# The k6-gate image is rebuilt from the Dockerfile each time (buildah: 1-2 min); every
# other image and tool is cached by its stamp.
e2e: e2e-shellcheck e2e-tools e2e-images e2e-image e2e-scenario-images $(HELM)
	scripts/e2e/run.sh

e2e-shellcheck: $(E2E_SHELLCHECK)
	$(E2E_SHELLCHECK) -x scripts/e2e/*.sh

# down.sh after a failed `up` and after a node crash with pods running, and twice.
.PHONY: e2e-teardown-test
e2e-teardown-test: e2e-tools e2e-images
	scripts/e2e/teardown-test.sh

# Our image from our Dockerfile, built by buildah without a Docker daemon (issue 29, for
# the scenarios that install the chart): the two base images the Dockerfile starts FROM,
# made here as k6gate.local/node and k6gate.local/k6 (stamp named by the pinned Node and k6),
# then the Dockerfile itself with its build args NODE_IMAGE and K6_IMAGE naming them.
E2E_BASE_IMAGES := $(E2E_IMAGES)/.built-base-k6gate.local-node-$(NODE_VERSION)-k6-$(K6_VERSION)
E2E_IMAGE_PACKAGES := buildah debootstrap

.PHONY: e2e-image-packages e2e-base-images e2e-image
e2e-image-packages:
	@missing=""; \
	for p in $(E2E_IMAGE_PACKAGES); do dpkg-query -W -f '$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(E2E_BASE_IMAGES): | $(NODE) $(E2E_OWN)
	$(MAKE) --no-print-directory e2e-image-packages
	scripts/e2e/base-images.sh
	@rm -f $(E2E_IMAGES)/.built-base-*
	@touch $@

e2e-base-images: $(E2E_BASE_IMAGES)

e2e-image: e2e-base-images
	scripts/e2e/build-image.sh

# What `make e2e` installs and plays (issue 29), also by hand on a cluster from make e2e-up:
#   make e2e-scenario-tools   podinfo, Flagger, KEDA and k6-operator built from their Go
#                             modules (test/e2e/{podinfo,flagger,keda,k6-operator})
#   make e2e-scenario-images  Redis (Debian's package), Flagger, podinfo, KEDA and k6-operator
#                             (manager, starter) as OCI archives
#   make e2e-install          on a running cluster (make e2e-up): images, KEDA, Flagger, k6-gate, podinfo
#   make e2e-k6-operator      on a running cluster: k6-operator v1.5.0 (images, CRDs, RBAC,
#                             manager); scenario 9 runs the same script
#   make e2e-scenario-N       N = 1..9 on an installed cluster (7 uninstalls k6-gate)
E2E_PODINFO_VERSION := $(call e2e_mod_version,podinfo,github.com/stefanprodan/podinfo)
E2E_FLAGGER_VERSION := $(call e2e_mod_version,flagger,github.com/fluxcd/flagger)
E2E_KEDA_VERSION := $(call e2e_mod_version,keda,github.com/kedacore/keda/v2)
E2E_K6_OPERATOR_VERSION := $(call e2e_mod_version,k6-operator,github.com/grafana/k6-operator)
E2E_PODINFO := $(E2E_TOOLS)/.built-podinfo-$(E2E_PODINFO_VERSION)
E2E_FLAGGER := $(E2E_TOOLS)/.built-flagger-$(E2E_FLAGGER_VERSION)
E2E_KEDA := $(E2E_TOOLS)/.built-keda-$(E2E_KEDA_VERSION)
E2E_K6_OPERATOR := $(E2E_TOOLS)/.built-k6-operator-$(E2E_K6_OPERATOR_VERSION)
E2E_SCENARIO_IMAGES := $(E2E_IMAGES)/.built-scenarios-podinfo-$(E2E_PODINFO_VERSION)-flagger-$(E2E_FLAGGER_VERSION)
E2E_KEDA_IMAGES := $(E2E_IMAGES)/.built-keda-images-$(E2E_KEDA_VERSION)
E2E_K6_OPERATOR_IMAGES := $(E2E_IMAGES)/.built-k6-operator-images-$(E2E_K6_OPERATOR_VERSION)

$(E2E_PODINFO): test/e2e/podinfo/go.mod test/e2e/podinfo/go.sum
	scripts/e2e/build-tools.sh podinfo $(E2E_BIN)
	@rm -f $(E2E_TOOLS)/.built-podinfo-*
	@touch $@

$(E2E_FLAGGER): test/e2e/flagger/go.mod test/e2e/flagger/go.sum
	scripts/e2e/build-tools.sh flagger $(E2E_BIN)
	@rm -f $(E2E_TOOLS)/.built-flagger-*
	@touch $@

# KEDA's operator and metrics API server: the first build compiles every scaler's cloud SDK
# (about 300 modules; 13 min here, -trimpath sharing no cache with test/keda-scaler's build),
# later ones relink (under a minute).
$(E2E_KEDA): test/e2e/keda/go.mod test/e2e/keda/go.sum
	scripts/e2e/build-tools.sh keda $(E2E_BIN)
	@rm -f $(E2E_TOOLS)/.built-keda-*
	@touch $@

# k6-operator's manager (its main package, cmd): 2 min here with Kubernetes' modules already
# in the build cache, a relink in seconds.
$(E2E_K6_OPERATOR): test/e2e/k6-operator/go.mod test/e2e/k6-operator/go.sum
	scripts/e2e/build-tools.sh k6-operator $(E2E_BIN)
	@rm -f $(E2E_TOOLS)/.built-k6-operator-*
	@touch $@

$(E2E_SCENARIO_IMAGES): $(E2E_PODINFO) $(E2E_FLAGGER) $(E2E_OWN) scripts/e2e/scenario-images.sh
	$(MAKE) --no-print-directory e2e-image-packages
	scripts/e2e/scenario-images.sh
	@rm -f $(E2E_IMAGES)/.built-scenarios-*
	@touch $@

# KEDA's two images: one static binary each, one layer (no debootstrap).
$(E2E_KEDA_IMAGES): $(E2E_KEDA) $(E2E_OWN) scripts/e2e/keda-images.sh
	scripts/e2e/keda-images.sh
	@rm -f $(E2E_IMAGES)/.built-keda-images-*
	@touch $@

# k6-operator's manager (one static binary, one layer) and its starter (our Debian base with
# Debian's curl, buildah; about 10 s).
$(E2E_K6_OPERATOR_IMAGES): $(E2E_K6_OPERATOR) $(E2E_OWN) $(E2E_BASE_IMAGES) scripts/e2e/k6-operator-images.sh
	$(MAKE) --no-print-directory e2e-image-packages
	scripts/e2e/k6-operator-images.sh
	@rm -f $(E2E_IMAGES)/.built-k6-operator-images-*
	@touch $@

.PHONY: e2e-scenario-tools e2e-scenario-images e2e-install e2e-k6-operator
e2e-scenario-tools: $(E2E_PODINFO) $(E2E_FLAGGER) $(E2E_KEDA) $(E2E_K6_OPERATOR)

e2e-scenario-images: $(E2E_SCENARIO_IMAGES) $(E2E_KEDA_IMAGES) $(E2E_K6_OPERATOR_IMAGES)

e2e-install: $(HELM)
	scripts/e2e/install.sh

e2e-k6-operator: $(E2E_K6_OPERATOR_IMAGES)
	scripts/e2e/k6-operator-install.sh

E2E_SCENARIO_TARGETS := $(addprefix e2e-scenario-,1 2 3 4 5 6 7 8 9)
.PHONY: $(E2E_SCENARIO_TARGETS)
$(E2E_SCENARIO_TARGETS): e2e-scenario-%:
	scripts/e2e/scenario-$*.sh
