import { Hono } from "hono";
import type { AppDeps, AppEnv } from "../deps";
import { canaryLimit } from "../canary-limit";
import { problem, runJson } from "../respond";

/** JSON API over run history. */
export function runsApi({ store }: AppDeps) {
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
      return c.json(runJson(run));
    })
    .get("/runs/:id/output", async (c) => {
      const run = await store.get(c.req.param("id"));
      if (!run) return problem(c, 404, "no such run");
      return c.json({ status: run.status, output: (await store.getOutput(run.id)) ?? "" });
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
          ...(inFlight.get(`${canary.namespace}/${canary.name}`) ?? idle),
        })),
      });
    })
    .get("/canaries/:namespace/:name/runs", async (c) => {
      const runs = await store.list(c.req.param("namespace"), c.req.param("name"), 100);
      return c.json({ runs: runs.map(runJson) });
    });
}
