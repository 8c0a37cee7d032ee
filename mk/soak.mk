# The chaos soak (issue 16): `make soak` plays canaries through Flagger's own webhook client
# while API processes, workers and the Redis primary (Sentinel failover) are killed and
# restarted, checks the invariants and rewrites docs/soak.md with the figures of the run.
# About 16 minutes (SOAK_MINUTES=15 of faults, then the drain). SOAK_SEED=<n> replays a run.
# A short version (fixed seed) runs in `make test`: test/soak/soak.test.ts.

.PHONY: soak

soak: deps $(FLAGGER_CLIENT)
	npx tsx test/soak/main.ts
