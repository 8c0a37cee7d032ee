# The peer k6-gate replaces, grafana/flagger-k6-webhook, for the side by side in
# docs/peer-comparison.md: built from its Go module (the Go module proxy) into .tools/bin,
# never committed. `make bench-peer` builds it and reruns the comparison.
# Included by the root Makefile (include mk/*.mk); also usable alone:
#   make -f mk/peer.mk peer
#
# v0.5.7 is its latest release the proxy serves (untagged commits are refused here).
# As scripts/install-k6.sh does for k6: the module built from a throwaway go.mod (the
# proxy does not serve module version lists, which `go install` reads), with the version
# stamped as its Dockerfile's GO_LDFLAGS would (prometheus/common/version). 2 min 42 s the
# first time on the 2-core machine, modules downloaded (client-go is most of it); a
# stamp named by the version: bumping it rebuilds.

PEER_VERSION := v0.5.7
PEER_MODULE := github.com/grafana/flagger-k6-webhook
PEER_BIN := $(CURDIR)/.tools/bin/flagger-k6-webhook
PEER := $(CURDIR)/.tools/.installed-flagger-k6-webhook-$(PEER_VERSION)

$(PEER):
	@mkdir -p $(dir $(PEER_BIN))
	@echo "building $(PEER_MODULE) $(PEER_VERSION) from the Go module proxy (minutes the first time)"
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; cd "$$tmp"; \
	export GOTOOLCHAIN=local; \
	go mod init k6-gate-tools/peer >/dev/null 2>&1; \
	GOFLAGS=-mod=mod go get $(PEER_MODULE)/cmd@$(PEER_VERSION); \
	go build -trimpath -ldflags "-s -w -X github.com/prometheus/common/version.Version=$(PEER_VERSION)" \
	  -o $(PEER_BIN) $(PEER_MODULE)/cmd
	@rm -f $(CURDIR)/.tools/.installed-flagger-k6-webhook-*
	@touch $@

.PHONY: peer bench-peer
peer: $(PEER)
# The footprint section of `make bench` (mk/bench.mk) measures the peer in the same run.
bench: $(PEER)

# The peer listens on every interface (it has no address setting), so the comparison runs
# in a network namespace of its own with only loopback up: nothing it or k6-gate opens is
# reachable from outside, and all load stays on 127.0.0.1. Needs root (unshare -n).
bench-peer: deps build $(PEER)
	unshare -n sh -c 'ip link set lo up && npx tsx bench/main.ts peer'
