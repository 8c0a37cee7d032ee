# KEDA's own scaler code, for the scaling contract (design §8): test/keda-scaler builds
# the `metrics-api` scaler of github.com/kedacore/keda/v2/pkg/scalers (KEDA v2.21.0, pinned
# in its go.mod; v2.21.1 needs Go 1.27) from a ScaledObject's triggers and polls it once.
# test/deploy/keda-scaler.test.ts runs it on the rendered chart's ScaledObject against a
# live queue. `make test` depends on it, so CI builds it.
# Included by the root Makefile (include mk/*.mk); also usable alone:
#   make -f mk/keda-scaler.mk keda-scaler
#
# KEDA's scalers package is one Go package with every scaler (cloud SDKs included): the
# first build downloads and compiles a lot. Measured on the 2-core machine with empty Go
# caches: see test/keda-scaler/README.md; later builds take seconds.

KEDA_SCALER := $(CURDIR)/.tools/bin/keda-scaler
KEDA_SCALER_SRC := $(wildcard test/keda-scaler/*.go) test/keda-scaler/go.mod test/keda-scaler/go.sum

$(KEDA_SCALER): $(KEDA_SCALER_SRC)
	@mkdir -p $(dir $@)
	cd test/keda-scaler && GOTOOLCHAIN=local go build -o $(KEDA_SCALER) .

.PHONY: keda-scaler
keda-scaler: $(KEDA_SCALER)

# The root Makefile's `make test` (its prerequisites are read before mk/*.mk is included).
test: $(KEDA_SCALER)
