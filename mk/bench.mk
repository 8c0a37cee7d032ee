# Benchmarks: `make bench` runs bench/main.ts (API, workers, redis-server, k6, all on
# 127.0.0.1) and rewrites docs/benchmarks.md. About fifteen minutes on the 2-core machine.
# They measure; they assert nothing (no time is checked by `make test`).
# `build` makes dist/, the container form whose memory sections report. The footprint
# section puts flagger-k6-webhook (mk/peer.mk adds it to the prerequisites) in the same
# run; it listens on every interface, so the whole run is in a network namespace of its
# own with only loopback up (root: unshare -n).

.PHONY: bench

bench: deps build
	unshare -n sh -c 'ip link set lo up && npx tsx bench/main.ts'
