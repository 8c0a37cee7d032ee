import { Hono, type Context } from "hono";
import { html } from "hono/html";
import { NONCE, secureHeaders, type SecureHeadersVariables } from "hono/secure-headers";
import type { JSX } from "hono/jsx/jsx-runtime";
import { canaryLimit } from "../canary-limit";
import type { AppDeps, AppEnv } from "../deps";
import { CanariesPage, type CanaryRow } from "./canaries-page";
import { CanaryPage } from "./canary-page";
import { RunPage } from "./run-page";
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

/** The dashboard's own pages, server-rendered; the JSON behind them is under /api. */
export function dashboardPages({ store }: AppDeps) {
  return new Hono<PageEnv>()
    .get("/", pageHeaders, async (c) => {
      const limit = canaryLimit(c.req.query("limit"));
      const [canaries, total, inFlight] = await Promise.all([
        store.listCanaries(limit),
        store.canaryCount(),
        store.inFlight(),
      ]);
      const rows: CanaryRow[] = await Promise.all(
        canaries.map(async ({ namespace, name, lastRunAt }) => {
          const runs = await store.list(namespace, name, RECENT_RUNS);
          return {
            namespace,
            name,
            lastRunAt,
            lastJudged: runs.find((run) => run.result !== null),
            revisions: latestPerRevision(runs).slice(-SPARKLINE_REVISIONS),
            inFlight: inFlight.get(`${namespace}/${name}`) ?? { queued: 0, running: 0 },
          };
        }),
      );
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
      if (!run) return c.text("no such run (it may be past retention)", 404);
      return render(
        c,
        <RunPage run={run} output={output ?? ""} nonce={c.get("secureHeadersNonce")} />,
      );
    });
}
