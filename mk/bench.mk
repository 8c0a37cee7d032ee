# Benchmarks: `make bench` runs bench/main.ts (API, workers, redis-server, k6, all on
# 127.0.0.1) and rewrites docs/benchmarks.md. About five minutes on the 2-core machine.
# They measure; they assert nothing (no time is checked by `make test`).
# `build` makes dist/, the container form whose memory section 6 reports.

.PHONY: bench

bench: deps build
	npx tsx bench/main.ts
