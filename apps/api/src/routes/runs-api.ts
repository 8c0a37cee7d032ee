import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import type { AppDeps, AppEnv } from "../deps";
import { browserWriteRefusal } from "../browser-writes";
import { canaryLimit } from "../canary-limit";
import type { ApiMetrics } from "../metrics";
import { isoTime, problem, runJson } from "../respond";
import { queueEstimate } from "../retry-after";
import { k6RunProgress } from "../run-progress";
import { removeQueuedJobs } from "../stopped-runs";

const cancelBodySchema = z.object({
  reason: z.string().trim().max(500, "at most 500 characters").optional(),
});

/** JSON API over run history, and cancelling a run (behind the dashboard login). */
export function runsApi(
  { config, store, queue, logger }: AppDeps,
  metrics: Pick<ApiMetrics, "countStopped">,
) {
  return new Hono<AppEnv>()
    .get("/runs", async (c) => {
      const namespace = c.req.query("namespace");
      const name = c.req.query("name");
      if (!namespace || !name)
        return problem(c, 400, "namespace and name query parameters are required");
      const runs = await store.list(namespace, name, 100);
      return c.json({ runs: runs.map(runJson) });
    })
    .get("/runs/:id", async (c) => {
      const run = await store.get(c.req.param("id"));
      if (!run) return problem(c, 404, "no such run");
      // A queued run's place in the queue and estimated start; null once it runs.
      const standing = run.status === "queued" ? await queueEstimate(store, run.id) : null;
      // A running run's k6: elapsed, expected, VUs and iterations; null otherwise.
      const progress = await k6RunProgress(store, run);
      return c.json({ ...runJson(run), queue: standing, progress });
    })
    .post(
      "/runs/:id/cancel",
      bodyLimit({
        maxSize: 4096,
        onError: (c) => problem(c as Context<AppEnv>, 413, "body larger than 4096 bytes"),
      }),
      async (c) => {
        // Who cancelled is recorded on the run: without a login there is no one to name.
        const who = config.DASHBOARD_USER;
        if (!who || !config.DASHBOARD_PASSWORD) {
          return problem(
            c,
            403,
            "cancelling runs is off: it needs the dashboard login (set DASHBOARD_USER and DASHBOARD_PASSWORD)",
          );
        }
        const refusal = browserWriteRefusal(c, config.PUBLIC_URL);
        if (refusal) return refusal;
        const text = await c.req.text();
        let body: unknown = {};
        try {
          if (text.trim()) body = JSON.parse(text);
        } catch {
          return problem(c, 400, "invalid body", ["body: not valid JSON"]);
        }
        const parsed = cancelBodySchema.safeParse(body);
        if (!parsed.success) {
          const details = parsed.error.issues.map(
            (issue) => `${issue.path.join(".") || "body"}: ${issue.message}`,
          );
          return problem(c, 400, "invalid body", details);
        }
        const id = c.req.param("id");
        const cancelled = await store.cancel(id, {
          reason: parsed.data.reason || "no reason given",
          by: who,
        });
        if (cancelled.state === "missing") return problem(c, 404, "no such run");
        if (cancelled.state === "finished") {
          const { run } = cancelled;
          return problem(
            c,
            409,
            `run ${run.id} has already finished (${run.outcome ?? run.verdict ?? "judged"}): there is nothing to cancel`,
            [],
            undefined,
            { run: runJson(run) },
          );
        }
        const { run, was } = cancelled;
        metrics.countStopped("cancelled");
        logger.info({ runId: run.id, was, by: who, reason: run.reason }, "run cancelled");
        c.set("log", { ...c.get("log"), runId: run.id });
        if (was === "queued") await removeQueuedJobs(queue, [run.id], logger);
        const message = `k6-gate: run ${run.id} cancelled (it was ${was})${was === "running" ? "; its worker stops k6" : ""}`;
        return c.json({ message, run: runJson(run) });
      },
    )
    .get("/runs/:id/output", async (c) => {
      const run = await store.get(c.req.param("id"));
      if (!run) return problem(c, 404, "no such run");
      // The run page polls this: its progress figures come with the output.
      const [output, progress] = await Promise.all([
        store.getOutput(run.id),
        k6RunProgress(store, run),
      ]);
      return c.json({ status: run.status, output: output ?? "", progress });
    })
    .get("/canaries", async (c) => {
      const limit = canaryLimit(c.req.query("limit"));
      const [canaries, total, inFlight] = await Promise.all([
        store.listCanaries(limit),
        store.canaryCount(),
        store.inFlight(),
      ]);
      const idle = { queued: 0, running: 0 };
      return c.json({
        // Most recently run first; `total` says how many exist beyond `limit`.
        total,
        limit,
        canaries: canaries.map((canary) => ({
          ...canary,
          lastRunAt: isoTime(canary.lastRunAt),
          ...(inFlight.get(`${canary.namespace}/${canary.name}`) ?? idle),
        })),
      });
    })
    .get("/canaries/:namespace/:name/runs", async (c) => {
      const runs = await store.list(c.req.param("namespace"), c.req.param("name"), 100);
      return c.json({ runs: runs.map(runJson) });
    });
}
