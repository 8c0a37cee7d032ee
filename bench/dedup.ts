import { k6Wrapper } from "@k6-gate/testkit/k6-wrapper";
import { findRunId } from "@k6-gate/testkit/runs";
import { launchTest } from "./http-client";
import { check, table, type Section } from "./report";
import { sleepingScript } from "./scripts";
import { withStack, type Services } from "./stack";
import { ms, summarize } from "./stats";

const CALLS = 100;

/**
 * 5. Dedup under retries: 100 identical calls at once (what Flagger's retries of one
 * check look like, many times over). One k6 run must serve them all.
 */
export async function dedup(services: Services): Promise<Section> {
  const k6 = k6Wrapper();
  // Long enough (1 s of sleep) that every call arrives while the run is in flight: after
  // a pass has been delivered, an identical call rightly starts a fresh run (docs/architecture.md, section 3).
  const script = sleepingScript(services.target.port, 1);
  return withStack(services, { K6_BIN: k6.bin }, async (stack) => {
    await stack.startApi();
    await stack.startWorkers(1);
    const responses = await Promise.all(
      Array.from({ length: CALLS }, () =>
        launchTest(stack.apiUrl, {
          name: "dedup",
          checksum: "same-revision",
          metadata: { script, wait_timeout: "60s" },
        }),
      ),
    );
    const latency = summarize(responses.map((r) => r.ms));
    const runIds = new Set(responses.map((r) => findRunId(r.text)));
    const record = await stack.store.get([...runIds][0] ?? "");
    const k6Ms = record?.result?.durationMs ?? Number.NaN;
    const passed = responses.filter((r) => r.status === 200).length;
    const lastSent = Math.max(...responses.map((r) => r.sentAt));
    const firstDone = Math.min(...responses.map((r) => r.doneAt));
    const body = [
      `${CALLS} identical POSTs (same canary, same checksum, same metadata: one run key) sent at once to one API with one worker; the script is one GET and \`sleep(1)\`. K6_BIN is the test harness's k6Wrapper, which logs every k6 start.`,
      "",
      table(
        [
          "k6 runs started",
          "distinct run ids in the answers",
          "200s",
          "k6 run (worker-timed)",
          "verdict latency median",
          "p95",
          "max",
        ],
        [
          [
            k6.starts(),
            runIds.size,
            passed,
            ms(k6Ms),
            ms(latency.median),
            ms(latency.p95),
            ms(latency.max),
          ],
        ],
      ),
      "",
      `All ${CALLS} were sent ${lastSent < firstDone ? "before the first verdict arrived" : "(some after the first verdict arrived)"}; the spread of latencies is the spread of arrival times: every call waits for the same run.`,
    ].join("\n");
    return {
      title: "5. Dedup under retries",
      body,
      targets: [
        check(`k6 runs for ${CALLS} identical calls`, "1", String(k6.starts()), k6.starts() === 1),
        check(`verdicts delivered`, `${CALLS} x 200`, `${passed} x 200`, passed === CALLS),
      ],
    };
  });
}
