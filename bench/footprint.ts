import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { K6_BIN } from "@k6-gate/testkit/paths";
import { rssOf, sampler } from "@k6-gate/testkit/proc";
import { waitFor } from "@k6-gate/testkit/wait";
import { launchTest, type Timed } from "./http-client";
import { PEER_BIN, startPeer } from "./peer";
import { cpuOf, machineCpu } from "./proc";
import { check, table, type Section } from "./report";
import { oneRequestScript, sleepingScript } from "./scripts";
import { withStack, type Services, type Stack } from "./stack";
import { mb } from "./stats";

/** Issue 31's three rows: a small install idle, a burst with defaults, 1,000 calls held. */
const TARGETS = { idleMb: 120, burstMs: 8000, holdMb: 220 };
const BURST = { canaries: 20, seconds: 2 };
const HOLD_CALLS = 1000;
/** What "idle" means here: this long after every process is ready. */
const SETTLE_MS = 3000;
const HOLD_MS = 10_000;
const MB = 1024 * 1024;
/** The verdict line k6-gate adds when the load generator lacked CPU for a run. */
const SATURATED = /load generator saturated/;

interface BurstFigures {
  side: string;
  wallMs: number;
  passed: number;
  saturated: number;
  /** Highest VmRSS of the side's processes (k6 not counted). */
  peakRss: number;
  /** Machine CPU busy while it ran, in % of one core, and how much of it was not this side's. */
  machineBusy: number;
  otherBusy: number;
}

interface HoldFigures {
  form: string;
  idleRss: number;
  peakRss: number;
  /** CPU the process spent while the calls attached. */
  attachCpuMs: number;
}

/**
 * The peer listens on every interface (it has no address setting): it runs only where
 * loopback is the one interface, as `make bench-peer` runs it (`unshare -n`).
 */
const loopbackOnly = () => Object.keys(networkInterfaces()).every((name) => name === "lo");

/**
 * Footprint of a small install: k6-gate as one process (`node dist/all.js`, the API
 * and a worker, every setting at its default: `WORKER_CONCURRENCY=auto`, the image's
 * NODE_OPTIONS) idle, under a burst of canaries, and holding 1,000 calls; the split install
 * (API + 2 workers) idle, and flagger-k6-webhook in the same run when `make peer` built it
 * and loopback is the only interface: `unshare -n sh -c 'ip link set lo up && npx tsx
 * bench/main.ts footprint'` (as `make bench-peer` runs the peer).
 */
export async function footprint(services: Services): Promise<Section> {
  const port = services.target.port;
  const peer = existsSync(PEER_BIN) && loopbackOnly() ? await startPeer(K6_BIN) : undefined;
  try {
    const split = await withStack(services, { K6_BIN }, async (stack) => {
      await stack.startBundled("api");
      await stack.startBundled("worker");
      await stack.startBundled("worker");
      await settle();
      return [stack.api?.pid, ...stack.workers.map((w) => w.pid)].reduce(
        (sum: number, pid) => sum + (pid === undefined ? 0 : (rssOf(pid) ?? 0)),
        0,
      );
    });
    const { idle, bursts, concurrency } = await withStack(
      services,
      { K6_BIN, WORKER_CONCURRENCY: "" },
      async (stack) => {
        const all = await stack.startBundled("all");
        const concurrency = /"concurrency":(\d+)/.exec(all.output())?.[1] ?? "?";
        await settle();
        const idle = rssOf(all.pid) ?? 0;
        const script = sleepingScript(port, BURST.seconds);
        const bursts: BurstFigures[] = [];
        // Each side twice, mirrored, so neither always runs on the warmer machine.
        const sides = peer ? (["k6-gate", "peer", "peer", "k6-gate"] as const) : ["k6-gate"];
        for (const side of sides) {
          const url = side === "peer" && peer ? peer.url : stack.apiUrl;
          const pid = side === "peer" && peer ? peer.pid : all.pid;
          bursts.push(await burst(side, url, pid, script, bursts.length));
        }
        return { idle, bursts, concurrency };
      },
    );
    const peerIdle = peer ? (rssOf(peer.pid) ?? 0) : undefined;
    const holds = [
      await hold(services, "all", {}),
      await hold(services, "api", {}),
      await hold(services, "api", { NODE_OPTIONS: "" }),
    ];
    return render({ split, idle, peerIdle, bursts, holds, concurrency });
  } finally {
    await peer?.stop();
  }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, SETTLE_MS));

let checksums = 0;
/** BURST.canaries calls at once, each its own canary; VmRSS of `pid` sampled meanwhile. */
async function burst(
  side: string,
  url: string,
  pid: number,
  script: string,
  index: number,
): Promise<BurstFigures> {
  const rss = sampler(() => rssOf(pid) ?? 0, 50);
  const cpuOfSide = () => {
    const { self, children } = cpuOf(pid);
    return self + children;
  };
  const [machineBefore, sideBefore] = [machineCpu().busy, cpuOfSide()];
  const started = performance.now();
  const answers: Timed[] = await Promise.all(
    Array.from({ length: BURST.canaries }, (_, i) =>
      launchTest(url, {
        name: `footprint-${index}-${i}`,
        checksum: `footprint-${++checksums}`,
        metadata: { script },
      }),
    ),
  );
  const wallMs = performance.now() - started;
  // The side's k6 count once reaped, which they are by now (every verdict is in).
  const machineBusy = machineCpu().busy - machineBefore;
  const sideBusy = cpuOfSide() - sideBefore;
  return {
    side,
    wallMs,
    machineBusy: (machineBusy / wallMs) * 100,
    otherBusy: (Math.max(0, machineBusy - sideBusy) / wallMs) * 100,
    passed: answers.filter((a) => a.status === 200).length,
    saturated: answers.filter((a) => SATURATED.test(a.text)).length,
    peakRss: Math.max(0, ...rss.stop()),
  };
}

/** A k6 that never finishes a run (the worker SIGKILLs it when it is stopped). */
function sleepingK6(): { bin: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "k6-gate-bench-sleeping-k6-"));
  const bin = join(dir, "k6");
  writeFileSync(
    bin,
    [
      "#!/bin/sh",
      'if [ "$1" = inspect ]; then echo \'{"totalDuration":"10m","maxVUs":1}\'; exit 0; fi',
      'if [ "$1" = version ]; then echo \'{"version":"v0.0.0-stub"}\'; exit 0; fi',
      "exec sleep 600",
      "",
    ].join("\n"),
  );
  chmodSync(bin, 0o755);
  return { bin, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * HOLD_CALLS calls (distinct canaries, `wait_timeout: 5m`) opened at once and held for
 * HOLD_MS. `all`: with its worker taking as many as it runs at once (a k6 that sleeps);
 * `api`: alone, no worker, every call waiting. `env` over the defaults (NODE_OPTIONS "":
 * without the image's young-generation cap, for its CPU cost).
 */
async function hold(
  services: Services,
  app: "all" | "api",
  env: Record<string, string>,
): Promise<HoldFigures> {
  const k6 = sleepingK6();
  try {
    return await withStack(
      services,
      { K6_BIN: k6.bin, WORKER_CONCURRENCY: "", MAX_QUEUE_DEPTH: String(HOLD_CALLS * 2), ...env },
      async (stack) => {
        const gate = await stack.startBundled(app);
        await settle();
        const idleRss = rssOf(gate.pid) ?? 0;
        const cpuBefore = cpuOf(gate.pid).self;
        const script = oneRequestScript(services.target.port);
        for (let i = 0; i < HOLD_CALLS; i++) {
          launchTest(stack.apiUrl, {
            name: `hold-${i}`,
            checksum: `hold-${++checksums}`,
            metadata: { script, wait_timeout: "5m" },
          }).catch(() => undefined);
        }
        await waitFor("every call queued or running", () => held(stack), {
          timeoutMs: 60_000,
          everyMs: 100,
        });
        const attachCpuMs = cpuOf(gate.pid).self - cpuBefore;
        const rss = sampler(() => rssOf(gate.pid) ?? 0, 100);
        await new Promise((resolve) => setTimeout(resolve, HOLD_MS));
        const form = `${app === "all" ? "`node dist/all.js` (its worker runs what it may)" : "`node dist/api.js` alone"}, NODE_OPTIONS ${env.NODE_OPTIONS === "" ? "unset" : "as the image's"}`;
        return { form, idleRss, peakRss: Math.max(0, ...rss.stop()), attachCpuMs };
      },
    );
  } finally {
    k6.remove();
  }
}

/** Every call has its run queued or running (held: none can finish). */
async function held(stack: Stack): Promise<boolean> {
  return (await stack.runsInFlight()) === HOLD_CALLS;
}

function render(f: {
  split: number;
  idle: number;
  peerIdle: number | undefined;
  bursts: BurstFigures[];
  holds: HoldFigures[];
  concurrency: string;
}): Section {
  const ours = f.bursts.filter((b) => b.side === "k6-gate");
  const slowest = Math.max(...ours.map((b) => b.wallMs));
  const saturated = Math.max(...ours.map((b) => b.saturated));
  const [allHold, capped, uncapped] = f.holds as [HoldFigures, HoldFigures, HoldFigures];
  const peerText =
    f.peerIdle === undefined ? "not in this run (`make peer`, then `unshare -n`)" : mb(f.peerIdle);
  return {
    title: "Footprint of a small install: k6-gate in one process (issue 31)",
    body: [
      `\`node dist/all.js\` (the API and a worker in one process) with every setting at its default: \`WORKER_CONCURRENCY=auto\` chose ${f.concurrency} runs at once here, and the image's NODE_OPTIONS (\`--max-semi-space-size=16\`). Idle is ${SETTLE_MS / 1000} s after start. flagger-k6-webhook ${f.peerIdle === undefined ? "is not in this run: it needs `make peer` and a loopback-only network namespace (`unshare -n`, as `make bench-peer`), since it listens on every interface" : "runs in the same run, with its defaults"}.`,
      "",
      table(
        ["install", "idle VmRSS"],
        [
          ["k6-gate in one process (`all`)", mb(f.idle)],
          ["k6-gate split: API + 2 workers", mb(f.split)],
          ["flagger-k6-webhook", peerText],
        ],
      ),
      "",
      `${BURST.canaries} canaries at once, each a ${BURST.seconds} s check (one GET, then \`sleep(${BURST.seconds})\`), from the first POST to the last verdict; "saturated" counts verdicts carrying the load-generator warning:`,
      "",
      table(
        [
          "side",
          "wall",
          "passed",
          "saturated",
          "peak VmRSS (k6 not counted)",
          "machine CPU busy (of 200%)",
          "of which not this side",
        ],
        f.bursts.map((b) => [
          b.side,
          `${(b.wallMs / 1000).toFixed(1)} s`,
          `${b.passed}/${BURST.canaries}`,
          b.side === "peer" ? "n/a" : String(b.saturated),
          mb(b.peakRss),
          `${b.machineBusy.toFixed(0)}%`,
          `${b.otherBusy.toFixed(0)}%`,
        ]),
      ),
      "",
      `${HOLD_CALLS} calls (distinct canaries, \`wait_timeout: 5m\`) opened at once and held ${HOLD_MS / 1000} s, the k6 a stub that sleeps; peak VmRSS while held, and the process's CPU while they attached (the young-generation cap's cost: ${capped.attachCpuMs} ms of API CPU against ${uncapped.attachCpuMs} ms without it):`,
      "",
      table(
        ["process", "idle", "peak holding the calls", "CPU attaching them"],
        f.holds.map((h) => [h.form, mb(h.idleRss), mb(h.peakRss), `${h.attachCpuMs} ms`]),
      ),
    ].join("\n"),
    targets: [
      check(
        "a small install idle, VmRSS besides Redis",
        `<= ${TARGETS.idleMb} MB (peer: ${peerText})`,
        mb(f.idle),
        f.idle <= TARGETS.idleMb * MB,
      ),
      check(
        `${BURST.canaries} canaries x ${BURST.seconds} s at once, defaults, all answered, none saturated`,
        `<= ${TARGETS.burstMs / 1000} s, 0 saturated`,
        `${(slowest / 1000).toFixed(1)} s, ${saturated} saturated`,
        slowest <= TARGETS.burstMs &&
          saturated === 0 &&
          ours.every((b) => b.passed === BURST.canaries),
      ),
      check(
        `holding ${HOLD_CALLS} calls, one process (\`all\`)`,
        `<= ${TARGETS.holdMb} MB`,
        mb(allHold.peakRss),
        allHold.peakRss <= TARGETS.holdMb * MB,
      ),
    ],
  };
}
