import { K6_BIN } from "@k6-gate/testkit/paths";
import { rssOf, sampler } from "@k6-gate/testkit/proc";
import { bareK6 } from "./bare-k6";
import { launchTest, type Timed } from "./http-client";
import { startPeer, type Peer } from "./peer";
import { longRequestScript, oneRequestScript, sleepingScript } from "./scripts";
import { withStack, type Services, type Stack } from "./stack";

/** Rounds of each overhead row, after their warm-up rounds. */
export const ROUNDS = { short: 20, long: 12 };
export const WARMUP = { short: 3, long: 2 };
export const BURST = { canaries: 20, seconds: 2 };
/**
 * k6-gate's shape: an API and two workers of one k6 each (`WORKER_CONCURRENCY=1`, set, so
 * the burst row means the same whatever the default becomes).
 */
export const WORKERS = 2;
export const WORKER_CONCURRENCY = 1;
/** What "idle" means here: this long after every process is ready, or after the last burst. */
export const SETTLE_MS = 3000;
const RSS_EVERY_MS = 50;

export interface Round {
  bare: number;
  gate: number;
  peer: number;
}

/** VmRSS in bytes: k6-gate's API and each worker, and the peer's one process. */
export interface Footprint {
  api: number;
  workers: number[];
  peer: number;
}

export interface Burst {
  side: "k6-gate" | "peer";
  /** From the first POST to the last verdict. */
  wallMs: number;
  statuses: number[];
  perCallMs: number[];
  /** Highest VmRSS seen during the burst, per process (k6 not counted, for either side). */
  peak: { api: number; workers: number; peer: number };
}

export interface PeerFigures {
  short: Round[];
  long: Round[];
  idle: Footprint;
  afterRuns: Footprint;
  bursts: Burst[];
}

/**
 * k6-gate next to flagger-k6-webhook, in one run with their calls alternating: the time
 * each adds to a check over bare `k6 run` (a short test and a 2.5 s one), their memory
 * idle and under a burst, and 20 canaries at once. k6-gate in its container form (`node
 * dist/*.js`: an API and WORKERS workers), the peer at its defaults, the same k6 binary
 * for both and for bare k6. `npx tsx bench/main.ts peer` (make bench-peer).
 */
export async function measurePeerComparison(services: Services): Promise<PeerFigures> {
  const env = { K6_BIN, WORKER_CONCURRENCY: String(WORKER_CONCURRENCY) };
  return withStack(services, env, async (stack) => {
    await stack.startBundled("api");
    for (let i = 0; i < WORKERS; i++) await stack.startBundled("worker");
    const peer = await startPeer(K6_BIN);
    try {
      await settle();
      const idle = footprint(stack, peer);
      const port = services.target.port;
      const short = await rounds(stack, peer, oneRequestScript(port), "short");
      const long = await rounds(stack, peer, longRequestScript(port), "long");
      const script = sleepingScript(port, BURST.seconds);
      const bursts: Burst[] = [];
      // Each side twice, the order mirrored so neither always goes first on a warm machine.
      for (const side of ["k6-gate", "peer", "peer", "k6-gate"] as const)
        bursts.push(await burst(stack, peer, side, script, bursts.length));
      await settle();
      const afterRuns = footprint(stack, peer);
      return { short, long, idle, afterRuns, bursts };
    } finally {
      await peer.stop();
    }
  });
}

const settle = () => new Promise((resolve) => setTimeout(resolve, SETTLE_MS));

function footprint(stack: Stack, peer: Peer): Footprint {
  if (!stack.api) throw new Error("API not started");
  return {
    api: rssOf(stack.api.pid) ?? 0,
    workers: stack.workers.map((w) => rssOf(w.pid) ?? 0),
    peer: rssOf(peer.pid) ?? 0,
  };
}

let checksums = 0;
/** One call as Flagger makes it; a fresh checksum each time, so k6-gate runs a new test. */
async function call(url: string, name: string, script: string): Promise<Timed> {
  const answer = await launchTest(url, {
    name,
    checksum: `peer-${++checksums}`,
    metadata: { script },
  });
  if (answer.status !== 200) throw new Error(`${url} answered ${answer.status}: ${answer.text}`);
  return answer;
}

/**
 * Each round: one k6-gate call, one peer call and one bare `k6 run`, one after the other,
 * the first of them rotating from round to round.
 */
async function rounds(
  stack: Stack,
  peer: Peer,
  script: string,
  test: keyof typeof ROUNDS,
): Promise<Round[]> {
  const steps: [keyof Round, () => Promise<number>][] = [
    ["gate", async () => (await call(stack.apiUrl, "overhead", script)).ms],
    ["peer", async () => (await call(peer.url, "overhead", script)).ms],
    ["bare", () => bareK6(K6_BIN, script)],
  ];
  const taken: Round[] = [];
  for (let i = 0; i < WARMUP[test] + ROUNDS[test]; i++) {
    const round: Round = { bare: 0, gate: 0, peer: 0 };
    for (let j = 0; j < steps.length; j++) {
      const [key, run] = steps[(i + j) % steps.length] as (typeof steps)[number];
      round[key] = await run();
    }
    if (i >= WARMUP[test]) taken.push(round);
  }
  return taken;
}

/** BURST.canaries calls at once, each its own canary; VmRSS sampled while they run. */
async function burst(
  stack: Stack,
  peer: Peer,
  side: Burst["side"],
  script: string,
  index: number,
): Promise<Burst> {
  const url = side === "peer" ? peer.url : stack.apiUrl;
  const samples = sampler(() => footprint(stack, peer), RSS_EVERY_MS);
  const started = performance.now();
  const answers = await Promise.all(
    Array.from({ length: BURST.canaries }, (_, i) =>
      launchTest(url, {
        name: `burst-${index}-${i}`,
        checksum: `peer-${++checksums}`,
        metadata: { script },
      }),
    ),
  );
  const wallMs = performance.now() - started;
  const taken = samples.stop();
  const peakOf = (read: (f: Footprint) => number) => Math.max(0, ...taken.map(read));
  return {
    side,
    wallMs,
    statuses: answers.map((a) => a.status),
    perCallMs: answers.map((a) => a.ms),
    peak: {
      api: peakOf((f) => f.api),
      workers: peakOf((f) => Math.max(0, ...f.workers)),
      peer: peakOf((f) => f.peer),
    },
  };
}
