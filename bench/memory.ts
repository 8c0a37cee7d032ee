import { K6_BIN } from "@k6-gate/testkit/paths";
import { launchTest } from "./http-client";
import { k6ProcessesOf, rssOf, sampler } from "@k6-gate/testkit/proc";
import { LIBRARIES, moduleCosts, ON_DEMAND } from "./module-cost";
import { check, table, type Section } from "./report";
import { sleepingScript } from "./scripts";
import { withStack, type Services, type Stack } from "./stack";
import { mb } from "./stats";

interface Footprint {
  form: string;
  apiIdle: number;
  workerIdle: number;
  workerBusy: number;
  k6Peak: number;
}

/**
 * 6. Memory of one worker (and the API) idle and while k6 runs, in both forms: under the
 * test harness (`node --import tsx`, TypeScript compiled in-process) and as the
 * container runs them (`node dist/*.js`).
 */
export async function memory(services: Services): Promise<Section> {
  const script = sleepingScript(services.target.port, 2);
  const forms: Footprint[] = [];
  for (const bundled of [false, true]) {
    forms.push(
      await withStack(services, { K6_BIN }, async (stack) => {
        if (bundled) {
          await stack.startBundled("api");
          await stack.startBundled("worker");
        } else {
          await stack.startApi();
          await stack.startWorkers(1);
        }
        const form = bundled
          ? "container form: `node dist/api.js`, `node dist/worker.js`"
          : "test harness: `node --import tsx apps/*/src/main.ts`";
        return measure(stack, script, form);
      }),
    );
  }
  const costs = moduleCosts(LIBRARIES);
  const onDemand = moduleCosts(ON_DEMAND).slice(1);
  const shipped = forms[1];
  const body = [
    "One API and one worker (WORKER_CONCURRENCY 1), idle for a second, then one 2-second canary (one GET, `sleep(2)`); VmRSS sampled every 50 ms. k6 is its own process (`setpriv --pdeathsig KILL` execs it), so its memory is not the worker's.",
    "",
    table(
      ["form", "API idle", "worker idle", "worker peak while k6 runs", "k6 process peak"],
      forms.map((f) => [f.form, mb(f.apiIdle), mb(f.workerIdle), mb(f.workerBusy), mb(f.k6Peak)]),
    ),
    "",
    "Where the idle memory goes: a fresh `node` importing the libraries one after another, in the order the processes load them, VmRSS after each:",
    "",
    table(
      ["loaded", "adds"],
      costs.map(([name, bytes]) => [name === "node itself" ? name : `\`${name}\``, mb(bytes)]),
    ),
    "",
    `Loaded only when used (decision 36), each on top of the above: ${onDemand.map(([name, bytes]) => `\`${name}\` ${mb(bytes)}`).join(", ")}.`,
    "",
    "Per-worker figures with 1, 2 and 4 workers under load are in section 4.",
  ].join("\n");
  const targets = shipped
    ? [
        check(
          "API RSS idle, `node dist/api.js`",
          "<= 70 MB",
          mb(shipped.apiIdle),
          shipped.apiIdle <= 70 * MB,
        ),
        check(
          "worker RSS idle, `node dist/worker.js`",
          "<= 60 MB",
          mb(shipped.workerIdle),
          shipped.workerIdle <= 60 * MB,
        ),
        check(
          "worker RSS while k6 runs, k6 not counted",
          "<= 90 MB",
          mb(shipped.workerBusy),
          shipped.workerBusy <= 90 * MB,
        ),
      ]
    : [];
  return { title: "6. Worker memory", body, targets };
}

const MB = 1024 * 1024;

async function measure(stack: Stack, script: string, form: string): Promise<Footprint> {
  const worker = stack.workers[0];
  if (!worker || !stack.api) throw new Error("stack not started");
  const apiPid = stack.api.pid;
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const apiIdle = rssOf(apiPid) ?? 0;
  const workerIdle = rssOf(worker.pid) ?? 0;
  const samples = sampler(
    () => ({
      worker: rssOf(worker.pid) ?? 0,
      k6: k6ProcessesOf(new Set([worker.pid])).map((pid) => rssOf(pid) ?? 0),
    }),
    50,
  );
  const response = await launchTest(stack.apiUrl, {
    name: "memory",
    checksum: `memory-${Date.now()}`,
    metadata: { script, wait_timeout: "60s" },
  });
  const taken = samples.stop();
  if (response.status !== 200) throw new Error(`memory canary answered ${response.status}`);
  const whileK6 = taken.filter((s) => s.k6.length > 0);
  return {
    form,
    apiIdle,
    workerIdle,
    workerBusy: Math.max(0, ...whileK6.map((s) => s.worker)),
    k6Peak: Math.max(0, ...taken.flatMap((s) => s.k6)),
  };
}
