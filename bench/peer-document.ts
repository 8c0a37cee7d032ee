import { relative } from "node:path";
import { ROOT } from "@k6-gate/testkit/paths";
import { loadLine, type StandaloneRun } from "./document";
import {
  BURST,
  measurePeerComparison,
  ROUNDS,
  SETTLE_MS,
  WARMUP,
  WORKER_CONCURRENCY,
  WORKERS,
  type Burst,
  type PeerFigures,
  type Round,
} from "./peer-comparison";
import { PEER_BIN, PEER_SETTINGS, peerVersion } from "./peer";
import { table, type Section } from "./report";
import type { Services } from "./stack";
import { mb, ms, quantile, summarize } from "./stats";

const medianP95 = (values: number[]) => {
  const s = summarize(values);
  return `${ms(s.median)} / ${ms(s.p95)}`;
};
/** Each round's call time less that round's bare `k6 run`. */
const overheads = (rounds: Round[], side: "gate" | "peer") => rounds.map((r) => r[side] - r.bare);
const medianOf = (values: number[]) => ms(quantile(values, 0.5));
const sum = (values: number[]) => values.reduce((total, v) => total + v, 0);
const seconds = (value: number) => `${(value / 1000).toFixed(2)} s`;
/** "every answer 200", else each burst's answers counted by status. */
function answersOf(bursts: Burst[]): string {
  const statuses = bursts.flatMap((b) => b.statuses);
  if (statuses.every((status) => status === 200)) return "every answer 200";
  return bursts
    .map((b) => {
      const counts = new Map<number, number>();
      for (const status of b.statuses) counts.set(status, (counts.get(status) ?? 0) + 1);
      return [...counts].map(([status, n]) => `${n}× ${status}`).join(", ");
    })
    .join("; ");
}

/** `npx tsx bench/main.ts peer`: the side by side measured, as docs/peer-comparison.md shows it. */
export async function peerComparison(services: Services): Promise<Section> {
  return renderPeerFigures(await measurePeerComparison(services));
}

/** The measured part of docs/peer-comparison.md: the figures and what they say. */
function renderPeerFigures(f: PeerFigures): Section {
  const gateBursts = f.bursts.filter((b) => b.side === "k6-gate");
  const peerBursts = f.bursts.filter((b) => b.side === "peer");
  const burstText = (bursts: Burst[]) =>
    `**${bursts.map((b) => seconds(b.wallMs)).join(", ")}** (${answersOf(bursts)}; median per call ${bursts.map((b) => seconds(quantile(b.perCallMs, 0.5))).join(", ")})`;
  const workersText = (values: number[]) => `${values.map(mb).join(", ")}`;
  const idleGate = f.idle.api + sum(f.idle.workers);
  const slots = WORKERS * WORKER_CONCURRENCY;
  const peerShortCalls = f.short.map((r) => r.peer);
  const bareLong = summarize(f.long.map((r) => r.bare));
  const body = [
    table(
      ["row", "k6-gate", "flagger-k6-webhook"],
      [
        [
          `overhead over bare \`k6 run\`, short test (1 VU, 1 iteration, one GET), median / p95 of ${ROUNDS.short} rounds`,
          `**${medianP95(overheads(f.short, "gate"))}**`,
          `**${medianP95(overheads(f.short, "peer"))}**`,
        ],
        [
          `the same, 2.5 s test (one GET, \`sleep(2.5)\`), ${ROUNDS.long} rounds`,
          medianP95(overheads(f.long, "gate")),
          medianP95(overheads(f.long, "peer")),
        ],
        [
          "RSS at idle, fresh",
          `API ${mb(f.idle.api)}; workers ${workersText(f.idle.workers)}; **${mb(idleGate)}** for API + ${f.idle.workers.length} workers (plus Redis)`,
          `**${mb(f.idle.peer)}** (one process)`,
        ],
        [
          "RSS at idle after the runs",
          `API ${mb(f.afterRuns.api)}; workers ${workersText(f.afterRuns.workers)}`,
          mb(f.afterRuns.peer),
        ],
        [
          `peak RSS during the ${BURST.canaries}-canary bursts (k6 children not counted, for either)`,
          `API ${gateBursts.map((b) => mb(b.peak.api)).join(", ")}; busiest worker ${gateBursts.map((b) => mb(b.peak.workers)).join(", ")}`,
          peerBursts.map((b) => mb(b.peak.peer)).join(", "),
        ],
        [
          `${BURST.canaries} canaries at once, ${BURST.seconds} s tests: time to all ${BURST.canaries} verdicts`,
          burstText(gateBursts),
          burstText(peerBursts),
        ],
      ],
    ),
    "",
    "Raw per-call times in the same run (median / p95):",
    "",
    table(
      ["", "short test", "2.5 s test"],
      (
        [
          ["bare `k6 run`", "bare"],
          ["k6-gate call", "gate"],
          ["peer call", "peer"],
        ] as const
      ).map(([label, key]) => [
        label,
        medianP95(f.short.map((r) => r[key])),
        medianP95(f.long.map((r) => r[key])),
      ]),
    ),
    "",
    "MB here means MiB (VmRSS in kB / 1024), the same unit `docs/benchmarks.md` uses.",
    "",
    "## Reading the figures",
    "",
    `- **Short tests:** the peer's overhead is its 2-second poll for k6's banner (above), on every call: ${medianOf(overheads(f.short, "peer"))} median here, its calls ${ms(Math.min(...peerShortCalls))}–${ms(Math.max(...peerShortCalls))}. k6-gate's is ${medianOf(overheads(f.short, "gate"))} median: the API → Redis → worker → Redis → API path, and what the worker does around k6 (its run directory, reading k6's metric stream, judging the verdict).`,
    `- **Tests longer than 2 s:** the peer's poll overlaps k6's own run: its overhead is ${medianOf(overheads(f.long, "peer"))} median, where bare k6 alone spreads ${ms(bareLong.p95 - bareLong.median)} from its median to its p95. k6-gate's is ${medianOf(overheads(f.long, "gate"))} median (${medianOf(overheads(f.short, "gate"))} on the short test).`,
    "- **Memory:** the peer is one Go process. k6-gate is an API plus workers, each a Node process, plus a Redis. k6's own memory is the same for both and is not counted.",
    `- **${BURST.canaries} at once:** the peer forks all ${BURST.canaries} k6 at once (its limit, \`MAX_CONCURRENT_TESTS\`, is 1000). k6-gate as run here runs ${slots} at a time (${WORKERS} workers × \`WORKER_CONCURRENCY\` ${WORKER_CONCURRENCY}), so the ${BURST.canaries} runs go in ${Math.ceil(BURST.canaries / slots)} waves. This is the queue's bounded concurrency working as designed, not a fault: more workers or a higher \`WORKER_CONCURRENCY\` shorten it (and cost what section 4 of docs/benchmarks.md measures); this row measures that one shape. The default install since issue 31 (one process, \`WORKER_CONCURRENCY=auto\`: 12 at once on 2 cores) is measured next to the peer in docs/benchmarks.md, "Footprint of a small install".`,
  ].join("\n");
  return { title: "Figures", body, targets: [] };
}

/** The whole of docs/peer-comparison.md. */
export function renderPeerDocument({ machine, run, totalS }: StandaloneRun): string {
  return [
    "# Side by side with flagger-k6-webhook",
    "",
    `Written by \`make bench-peer\` (\`npx tsx bench/main.ts peer\` in a network namespace with only loopback, ${totalS.toFixed(0)} s end to end); do not edit by hand: change bench/ and run it again. It measures k6-gate next to the service it replaces, [grafana/flagger-k6-webhook](https://github.com/grafana/flagger-k6-webhook), on the same machine in the same run, their calls alternating. All load goes to 127.0.0.1.`,
    "",
    "## The peer",
    "",
    table(
      ["", ""],
      [
        ["module", "`github.com/grafana/flagger-k6-webhook`, package `./cmd`"],
        [
          "version",
          `\`${peerVersion()}\` (mk/peer.mk), its latest release the Go module proxy serves`,
        ],
        ["changes", "none: built and run as published"],
        [
          "build",
          `\`make peer\` (mk/peer.mk): the module from the Go module proxy, built with the machine's Go (\`GOTOOLCHAIN=local\`) into \`${relative(ROOT, PEER_BIN)}\` (git-ignored, never committed), the version stamped as its Dockerfile does (\`prometheus/common/version\`)`,
        ],
        [
          "how it ran",
          `\`LISTEN_PORT=<free port>\`, ${Object.entries(PEER_SETTINGS)
            .map(([name, value]) => `\`${name}=${value}\``)
            .join(
              ", ",
            )}; \`PATH\` starting with \`.tools/bin\` (it runs \`k6\` from \`PATH\`: the same k6 binary k6-gate runs); \`HOME\` and \`TMPDIR\` a temporary directory. Everything else at its defaults: \`MAX_CONCURRENT_TESTS=1000\`, \`KUBERNETES_CLIENT=none\`, no Slack, no cloud token`,
        ],
        [
          "call",
          '`POST /launch-test` with the same body as k6-gate\'s: `{"name","namespace":"test","phase":"Progressing","checksum":<unique>,"metadata":{"script":...}}`. `wait_for_results` defaults to true. A passing test answers 200 with k6\'s output as the body',
        ],
      ],
    ),
    "",
    "How the peer handles one call, from its `pkg/handlers/single_request.go` and `pkg/k6/cmd.go`: it writes the script to a temporary file and starts `k6 run <file>` as a child process. Its `waitForOutputPath` then checks k6's captured output for `output:` and, when that is not there yet, sleeps **2 s** before it looks again (at most 10 times). Only after that does it `Wait()` for k6 and answer. When a call arrives, k6 has not printed its banner yet, so the first check always misses, and **every call lasts at least about 2 s**, however short the test. For tests longer than 2 s the sleep overlaps k6's own run and costs nothing.",
    "",
    "The peer listens on `:<port>`, every interface, with no setting to choose the address, so `make bench-peer` runs the whole comparison in a new network namespace (`unshare -n`, `ip link set lo up`): every listener and target is on 127.0.0.1 and no other interface exists.",
    "",
    "## k6-gate as measured",
    "",
    `- The checkout's \`dist/\` (\`make bench-peer\` runs \`npm run build\` first), in its container form: \`node dist/api.js\` (\`PORT\`, \`HOST=127.0.0.1\`) and **${WORKERS}** \`node dist/worker.js\` with \`WORKER_CONCURRENCY=${WORKER_CONCURRENCY}\` (set: one k6 per worker), \`LOG_LEVEL=info\`, \`K6_BIN=.tools/bin/k6\`; every other setting at its default.`,
    "- One redis-server on 127.0.0.1 with `requirepass` and `--save ''` (no persistence), started by the test harness as in `make bench`.",
    "",
    "## Machine",
    "",
    table(["", ""], machine),
    "",
    loadLine(run),
    "",
    "## Method",
    "",
    `- **Target:** a Node HTTP server on 127.0.0.1 that answers \`/ok\` with 200.`,
    `- **Scripts:** *short*: 1 VU, 1 iteration, one GET, and the threshold \`http_req_failed: rate<0.01\`. *2.5 s*: the same with \`sleep(2.5)\` after the GET. *${BURST.seconds} s*: the same with \`sleep(${BURST.seconds})\`.`,
    `- **Overhead per call:** each round makes one k6-gate call, one peer call and one bare \`k6 run\`, one after the other; the first in the order rotates from round to round. A call's time runs from sending the POST to reading the last byte of the answer (node:http, keep-alive agent, the same for both). Bare is \`k6 run\` with the worker's flags in a fresh directory, timed from spawn to exit, with the environment k6 gets from the worker (bench/bare-k6.ts). Overhead is *call − bare of the same round*; median and p95 over ${ROUNDS.short} rounds (short) and ${ROUNDS.long} (2.5 s), after ${WARMUP.short} and ${WARMUP.long} warm-up rounds. Each k6-gate call has a new checksum, so it is a new run.`,
    `- **Idle RSS:** \`VmRSS\` from \`/proc/<pid>/status\`, ${SETTLE_MS / 1000} s after all processes were ready, and again ${SETTLE_MS / 1000} s after the last burst.`,
    `- **${BURST.canaries} canaries at once:** ${BURST.canaries} concurrent calls, each with its own canary name and checksum, running the ${BURST.seconds} s script, timed until the last of the ${BURST.canaries} verdicts arrived; in the order k6-gate, peer, peer, k6-gate, each process's \`VmRSS\` sampled every 50 ms.`,
    "",
    "## Figures",
    "",
    run.section.body,
    "",
    "## Caveats",
    "",
    "- The machine is a shared 2-core VM; the load line above says how much other work ran meanwhile. Bare k6 itself varies by tens of ms from run to run; the p95s carry that spread.",
    `- ${ROUNDS.short} and ${ROUNDS.long} rounds per overhead row and two bursts per side: enough to tell a 2 s poll from a path of tens of ms, not to rank small differences.`,
    "- The peer ran with its defaults. It is a single process with no queue, no run history, no deduplication and no restart-safe runs, and was not measured for those, because it has none of them. Equally, none of k6-gate's own features were turned off for this run.",
    "",
  ].join("\n");
}
