import { waitFor } from "@k6-gate/testkit/wait";
import { launchTest, type Timed } from "./http-client";
import { between, healthProbe } from "./probe";
import { rssOf, sampler } from "@k6-gate/testkit/proc";
import { socketCount } from "./proc";
import { check, table, type Section } from "./report";
import { oneRequestScript } from "./scripts";
import { stubK6, withStack, type Services } from "./stack";
import { mb, ms, summarize } from "./stats";

const CALLS = 1000;
const HOLD_MS = 10_000;
const WORKERS = 2;
const CONCURRENCY = 50;

/**
 * 3. Long-poll capacity: 1,000 calls attached to one API process while no worker runs,
 * held, then answered once workers start.
 */
export async function longPollCapacity(services: Services): Promise<Section> {
  const script = oneRequestScript(services.target.port);
  return withStack(services, { K6_BIN: stubK6() }, async (stack) => {
    const api = await stack.startApi({ MAX_QUEUE_DEPTH: String(CALLS * 2) });
    const rss = sampler(() => ({ at: performance.now(), bytes: rssOf(api.pid) ?? 0 }), 100);
    const probe = healthProbe(api.url);
    // A quiet second first: the API's idle RSS and /healthz latency to compare against.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const attachStart = performance.now();
    let answered = 0;
    const calls: Promise<Timed>[] = Array.from({ length: CALLS }, (_, i) =>
      launchTest(api.url, {
        name: `long-poll-${i}`,
        checksum: `hold-${i}`,
        metadata: { script, wait_timeout: "5m" },
      }).then((response) => {
        answered++;
        return response;
      }),
    );
    await waitFor("every call enqueued", async () => (await stack.waitingJobs()) === CALLS, {
      timeoutMs: 60_000,
    });
    const holdStart = performance.now();
    const callsBefore = await stack.redisCalls();
    await new Promise((resolve) => setTimeout(resolve, HOLD_MS));
    const callsAfter = await stack.redisCalls();
    const holdEnd = performance.now();
    const readsPerSecond =
      (((callsAfter.hgetall ?? 0) - (callsBefore.hgetall ?? 0)) / (holdEnd - holdStart)) * 1000;
    const sockets = socketCount(api.pid);
    const answeredDuringHold = answered;

    await stack.startWorkers(WORKERS, { WORKER_CONCURRENCY: String(CONCURRENCY) });
    const drainStart = performance.now();
    const responses = await Promise.all(calls);
    const drainEnd = performance.now();
    const probes = await probe.stop();
    const memory = rss.stop();

    const peak = (from: number, to: number) =>
      Math.max(...memory.filter((m) => m.at >= from && m.at <= to).map((m) => m.bytes));
    const idleRss = peak(0, attachStart);
    const holdRss = peak(holdStart, holdEnd);
    const drainRss = peak(drainStart, drainEnd);
    const probeStats = (from: number, to: number) => summarize(between(probes, from, to));
    const idle = probeStats(0, attachStart);
    const attach = probeStats(attachStart, holdStart);
    const hold = probeStats(holdStart, holdEnd);
    const drain = probeStats(drainStart, drainEnd);
    const passed = responses.filter((r) => r.status === 200).length;
    const lost = CALLS - passed;
    const drainS = (drainEnd - drainStart) / 1000;

    const body = [
      `${CALLS} POSTs (${CALLS} distinct canaries, \`wait_timeout: 5m\`) opened at once on one API process (MAX_QUEUE_DEPTH ${CALLS * 2}), each on its own socket (node:http, unbounded agent), while no worker runs. Once all ${CALLS} jobs sat in BullMQ's wait list they were held ${HOLD_MS / 1000} s; then ${WORKERS} workers x WORKER_CONCURRENCY ${CONCURRENCY} started with the stub k6 of benchmark 2.`,
      `Event-loop delay is measured from outside: GET /healthz (no I/O) one at a time every 20 ms throughout; its latency is the loop's delay plus a fraction of a millisecond of loopback.`,
      "",
      table(
        ["phase", "API RSS (peak)", "/healthz median", "/healthz p99", "/healthz max", "probes"],
        [
          [
            "idle, before the calls",
            mb(idleRss),
            ms(idle.median),
            ms(idle.p99),
            ms(idle.max),
            idle.n,
          ],
          [
            `attaching ${CALLS} calls (${ms(holdStart - attachStart)})`,
            mb(peak(attachStart, holdStart)),
            ms(attach.median),
            ms(attach.p99),
            ms(attach.max),
            attach.n,
          ],
          [
            `holding ${CALLS} calls`,
            mb(holdRss),
            ms(hold.median),
            ms(hold.p99),
            ms(hold.max),
            hold.n,
          ],
          [
            `answering them (${drainS.toFixed(1)} s)`,
            mb(drainRss),
            ms(drain.median),
            ms(drain.p99),
            ms(drain.max),
            drain.n,
          ],
        ],
      ),
      "",
      `While holding, the API re-read waiting runs from Redis at ${readsPerSecond.toFixed(0)} HGETALL/s (its safety re-check of each waiting run; nothing else runs). Open sockets on the API process while holding: ${sockets}. Calls answered during the hold: ${answeredDuringHold}. After workers started: ${passed} x 200${lost ? `, ${lost} lost or failed: ${failureSummary(responses)}` : ""}, all within ${drainS.toFixed(1)} s (${(CALLS / drainS).toFixed(0)} verdicts/s).`,
    ].join("\n");
    return {
      title: "3. Long-poll capacity",
      body,
      targets: [
        check(
          `API RSS holding ${CALLS} calls`,
          "< 250 MB",
          mb(holdRss),
          holdRss < 250 * 1024 * 1024,
        ),
        check(
          "event-loop delay p99 while holding (/healthz p99)",
          "< 50 ms",
          ms(hold.p99),
          hold.p99 < 50,
        ),
        check(`calls lost of ${CALLS}`, "0", String(lost), lost === 0 && answeredDuringHold === 0),
      ],
    };
  });
}

/** "789 x 503 (k6-gate: Redis is unreachable; retry shortly)" per distinct answer. */
function failureSummary(responses: Timed[]): string {
  const counts = new Map<string, number>();
  for (const r of responses.filter((r) => r.status !== 200)) {
    const key = `${r.status} (${r.text
      .split("\n")[0]
      ?.replace(/run \S+/, "run <id>")
      .slice(0, 120)})`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([key, n]) => `${n} x ${key}`).join("; ");
}
