import { Hono, type Context } from "hono";
import { html } from "hono/html";
import { NONCE, secureHeaders, type SecureHeadersVariables } from "hono/secure-headers";
import type { JSX } from "hono/jsx/jsx-runtime";
import type { Queue } from "bullmq";
import { inputsOf, type RunDetailsStore, type RunInputs } from "@k6-gate/shared";
import { canaryLimit } from "../canary-limit";
import { k6RunProgress } from "../run-progress";
import type { AppDeps, AppEnv } from "../deps";
import { CanariesPage, type CanaryRow } from "./canaries-page";
import { canaryStateOf } from "./canary-state";
import { CanaryPage } from "./canary-page";
import { errorPage } from "./error-page";
import { RunPage } from "./run-page";
import type { AttemptsInfo } from "./run-details";
import { latestPerRevision } from "./trends";

type PageEnv = AppEnv & { Variables: SecureHeadersVariables };

/** Runs read per canary for the `/` sparklines: enough for about a dozen revisions. */
const RECENT_RUNS = 40;
const SPARKLINE_REVISIONS = 12;
const CANARY_PAGE_RUNS = 100;

/**
 * Only the nonce'd style and script may run, and pages may only call back to this
 * origin: output or names that slipped past escaping still could not execute.
 */
const pageHeaders = secureHeaders({
  // HSTS is the TLS terminator's call, not the app's (the dashboard is often plain HTTP).
  strictTransportSecurity: false,
  contentSecurityPolicy: {
    defaultSrc: ["'none'"],
    scriptSrc: [NONCE],
    styleSrc: [NONCE],
    imgSrc: ["'self'", "data:"],
    connectSrc: ["'self'"],
    baseUri: ["'none'"],
    formAction: ["'none'"],
    frameAncestors: ["'none'"],
  },
});

function render(c: Context<PageEnv>, page: JSX.Element, status: 200 | 404 = 200) {
  return c.html(html`<!doctype html>${page}`, status);
}

/** Kubernetes object names (a canary's namespace and name). */
const K8S_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** What BullMQ still keeps of the run's job (24 h after it ends): attempts and why they ended. */
async function attemptsOf(queue: Queue, runId: string): Promise<AttemptsInfo | null> {
  const job = await queue.getJob(runId);
  if (!job) return null;
  return {
    started: job.attemptsStarted,
    stalled: job.stalledCounter,
    failures: (job.stacktrace ?? [])
      .map((trace) => (trace.split("\n")[0] ?? "").slice(0, 300))
      .filter(Boolean)
      .slice(-5),
  };
}

/**
 * What the run was given: recorded when a worker started it; before that, read from its
 * job data (names only, like the record).
 */
async function inputsFor(
  details: RunDetailsStore,
  store: AppDeps["store"],
  runId: string,
): Promise<RunInputs | null> {
  const recorded = await details.inputs(runId);
  if (recorded) return recorded;
  const job = await store.job(runId);
  return job ? inputsOf(job) : null;
}

/** The dashboard's own pages, server-rendered; the JSON behind them is under /api. */
export function dashboardPages({ store, details, queue }: AppDeps) {
  return new Hono<PageEnv>()
    .get("/", pageHeaders, async (c) => {
      const limit = canaryLimit(c.req.query("limit"));
      const [canaries, total, inFlight] = await Promise.all([
        store.listCanaries(limit),
        store.canaryCount(),
        store.inFlight(),
      ]);
      // Summaries, not records: a page of 200 canaries reads 8,000 runs.
      const recent = await store.summariesOfCanaries(canaries, RECENT_RUNS);
      const rows: CanaryRow[] = canaries.map(({ namespace, name, lastRunAt }, i) => {
        const runs = recent[i] ?? [];
        return {
          namespace,
          name,
          lastRunAt,
          lastJudged: runs.find((run) => run.result !== null),
          state: canaryStateOf(runs),
          revisions: latestPerRevision(runs).slice(-SPARKLINE_REVISIONS),
          inFlight: inFlight.get(`${namespace}/${name}`) ?? { queued: 0, running: 0 },
        };
      });
      return render(
        c,
        <CanariesPage
          rows={rows}
          total={total}
          nonce={c.get("secureHeadersNonce")}
          now={Date.now()}
        />,
      );
    })
    .get("/canaries/:namespace/:name", pageHeaders, async (c) => {
      const { namespace, name } = c.req.param();
      if (!K8S_NAME.test(namespace) || !K8S_NAME.test(name)) {
        return errorPage(
          c,
          400,
          "A canary is named by its namespace and name, both Kubernetes object names (lowercase letters, digits, - and .).",
        );
      }
      const runs = await store.list(namespace, name, CANARY_PAGE_RUNS);
      return render(
        c,
        <CanaryPage
          namespace={namespace}
          name={name}
          runs={runs}
          nonce={c.get("secureHeadersNonce")}
        />,
        runs.length ? 200 : 404,
      );
    })
    .get("/runs/:id", pageHeaders, async (c) => {
      const id = c.req.param("id");
      const [run, output] = await Promise.all([store.get(id), store.getOutput(id)]);
      if (!run) {
        return errorPage(
          c,
          404,
          `No run ${id} is recorded: it may be past the history's retention, or the link is wrong.`,
        );
      }
      const now = Date.now();
      const [inputs, attempts, neighbours, progress] = await Promise.all([
        inputsFor(details, store, id),
        attemptsOf(queue, id),
        details.neighbours(run),
        k6RunProgress(store, run, now),
      ]);
      return render(
        c,
        <RunPage
          run={run}
          output={output ?? ""}
          nonce={c.get("secureHeadersNonce")}
          details={{ inputs, attempts, neighbours, now, progress }}
        />,
      );
    });
}
