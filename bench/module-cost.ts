import { execFileSync } from "node:child_process";
import { ROOT } from "@k6-gate/testkit/paths";

/**
 * What each library adds to a process's resident memory when loaded, in the order the API
 * and the worker load them: a fresh `node` imports them one after another and reads its
 * VmRSS after each (a library's cost includes the parts of Node it pulls in first).
 */
export const LIBRARIES = [
  "zod",
  "pino",
  "ioredis",
  "bullmq",
  "prom-client",
  "execa",
  "hono",
  "@hono/node-server",
] as const;

/** Loaded only when used (decision 36): what they would cost at start. */
export const ON_DEMAND = ["@slack/web-api", "@bull-board/hono", "@kubernetes/client-node"] as const;

const PROBE = `
const rss = () => process.memoryUsage().rss;
const settle = () => new Promise((resolve) => setTimeout(resolve, 200));
await settle();
const costs = [["node itself", rss()]];
for (const name of process.argv.slice(1)) {
  const before = rss();
  await import(name);
  await settle();
  costs.push([name, rss() - before]);
}
console.log(JSON.stringify(costs));
`;

/** [module, bytes] with "node itself" first: its RSS before any import. */
export function moduleCosts(modules: readonly string[]): [string, number][] {
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", PROBE, ...modules], {
    cwd: ROOT,
    encoding: "utf8",
  });
  return JSON.parse(out) as [string, number][];
}
