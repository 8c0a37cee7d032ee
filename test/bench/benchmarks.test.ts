import { expect, it } from "vitest";
import { dedup } from "../../bench/dedup";
import { redisSizing } from "../../bench/redis-sizing";
import type { Services } from "../../bench/stack";
import { useStack } from "@k6-gate/testkit/use-stack";

/**
 * The short version of `make bench` in `make test`: the benchmarks whose targets are
 * outcomes, not times, run whole on the real stack (no time is asserted; timings are
 * `make bench`'s to report). A benchmark that breaks, or a target of these that is
 * missed, fails here before it reaches docs/benchmarks.md.
 */
// The Redis and the target only: each benchmark starts its own k6-gate on them.
const stack = useStack({ api: false, workers: 0 });
const started = (): Services => ({ redis: stack.redis, target: stack.target });

it("dedup: 100 identical calls get 100 verdicts from one k6 run", async () => {
  const section = await dedup(started());
  expect(section.targets.length).toBeGreaterThan(0);
  expect(section.targets.filter((target) => !target.met)).toEqual([]);
}, 120_000);

it("sizing: measures what a judged run costs in Redis, by kind of key", async () => {
  const section = await redisSizing(started());
  expect(section.body).toMatch(/\| `gate:run` \| \d+\.\d KiB \|/);
  expect(section.body).toMatch(/\| `gate:output` \| \d+\.\d KiB \|/);
}, 180_000);
