import { launchTest } from "./http-client";
import { check, table, type Section } from "./report";
import { sleepingScript } from "./scripts";
import { withStack, type Services } from "./stack";
import { waitFor } from "@k6-gate/testkit/wait";
import { ms, summarize } from "./stats";

const TRIALS = 3;
/** What docs/operations.md promises with the default LOCK_DURATION and STALLED_INTERVAL. */
const PROMISED_MS = 30_000;

/**
 * 7. Recovery after kill -9: a worker dies mid-run with the default lock settings; how
 * long until another (idle) worker has taken the run up again (its second attempt starts).
 */
export async function recovery(services: Services): Promise<Section> {
  const samples: number[] = [];
  // A fresh stack per trial: a killed trial's runs must not queue ahead of the next one's.
  for (let trial = 0; trial < TRIALS; trial++) {
    samples.push(await timeToRecover(services));
  }
  const summary = summarize(samples);
  const body = [
    `A worker running a 40 s check is killed with SIGKILL while a second worker waits idle; measured from the kill to the second attempt's start (the run record's \`startedAt\`), ${TRIALS} trials, default \`LOCK_DURATION\` (20 s) and \`STALLED_INTERVAL\` (5 s).`,
    "",
    table(["trials", "median", "max"], [[TRIALS, ms(summary.median), ms(summary.max)]]),
  ].join("\n");
  return {
    title: "7. Recovery after kill -9",
    body,
    targets: [
      check(
        "kill -9 to the run taken up again (max)",
        `<= ${PROMISED_MS / 1000} s`,
        ms(summary.max),
        summary.max <= PROMISED_MS,
      ),
    ],
  };
}

/** One trial: ms from killing the worker running a check to its second attempt's start. */
async function timeToRecover(services: Services): Promise<number> {
  return withStack(services, {}, async (stack) => {
    await stack.startApi();
    await stack.startWorkers(1);
    await launchTest(stack.apiUrl, {
      name: "recovery",
      metadata: { script: sleepingScript(services.target.port, 40), wait_for_results: "false" },
    });
    const [run] = await stack.store.list("test", "recovery", 1);
    if (!run) throw new Error("no run recorded for the recovery check");
    await waitFor("the first attempt to run", async () =>
      (await stack.store.get(run.id))?.status === "running" ? true : undefined,
    );
    const victim = stack.workers[0];
    if (!victim) throw new Error("no worker started");
    // A second worker waits idle; the first dies with the run.
    await stack.startWorkers(1);
    const killedAt = Date.now();
    await victim.stop("SIGKILL");
    const retakenAt = await waitFor(
      "the second attempt to start",
      async () => {
        const current = await stack.store.get(run.id);
        return current && current.attempt >= 2 ? (current.startedAt ?? undefined) : undefined;
      },
      { timeoutMs: 120_000, everyMs: 100 },
    );
    return retakenAt - killedAt;
  });
}
