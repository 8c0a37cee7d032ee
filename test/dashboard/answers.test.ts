import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RUN_QUEUE } from "@k6-gate/shared";
import { inProcessApi, type InProcessApi } from "../security/in-process-api";
import { payloadOf } from "@k6-gate/testkit/webhook";
import { useStack } from "@k6-gate/testkit/use-stack";

/**
 * What a caller gets while a run is not judged yet, with no worker running: a 202 and a
 * 503 that say where the run is (dashboard link, and in JSON its state, time so far, the
 * expected time and its place in the queue), and jobs named for people on bull-board.
 */
const stack = useStack({ api: false, workers: 0 });
let api: InProcessApi;
let client: Redis;
let queue: Queue;
const PUBLIC_URL = "https://k6-gate.example.com";

beforeAll(async () => {
  api = await inProcessApi(stack.redis, { PUBLIC_URL });
  client = new Redis(stack.redis.url);
  queue = new Queue(RUN_QUEUE, { connection: client, prefix: api.prefix });
});
afterAll(async () => {
  await queue?.close();
  client?.disconnect();
  await api?.close();
});

const call = (name: string, metadata: Record<string, string>, accept?: string) =>
  api.app.request("/launch-test", {
    method: "POST",
    headers: { "content-type": "application/json", ...(accept ? { accept } : {}) },
    body: JSON.stringify(
      payloadOf({
        namespace: "shop",
        name,
        checksum: "0123456789abcdef",
        metadata: { script: "export default function () {}", ...metadata },
      }),
    ),
  });

describe("answers that are not a verdict yet", () => {
  it("202 (wait_for_results false) carries the dashboard link, in text and JSON", async () => {
    const text = await call("accepted", { wait_for_results: "false" });
    expect(text.status).toBe(202);
    const body = await text.text();
    const id = /run (\S+) accepted/.exec(body)?.[1] ?? "";
    expect(body).toContain(`Dashboard: ${PUBLIC_URL}/runs/${encodeURIComponent(id)}`);
    const json = await call("accepted-json", { wait_for_results: "false" }, "application/json");
    const parsed = (await json.json()) as {
      dashboard: string;
      run: { id: string; enqueuedAt: string };
    };
    expect(parsed.dashboard).toBe(`${PUBLIC_URL}/runs/${encodeURIComponent(parsed.run.id)}`);
    // Instants in JSON are ISO 8601.
    expect(parsed.run.enqueuedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it("503 JSON says the run's state, time so far, expected time and queue position", async () => {
    const first = await call("waits", { wait_timeout: "1s" }, "application/json");
    expect(first.status).toBe(503);
    expect(Number(first.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    const body = (await first.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      state: "queued",
      expected: null,
      position: expect.any(Number) as unknown,
    });
    expect(body.elapsed).toBeGreaterThanOrEqual(900);
    expect(body.dashboard).toMatch(new RegExp(`^${PUBLIC_URL}/runs/`));

    // Another canary queued after it stands behind it.
    const second = await call("waits-too", { wait_timeout: "1s" }, "application/json");
    const behind = (await second.json()) as { position: number };
    expect(behind.position).toBe((body.position as number) + 1);

    const text = await call("waits", { wait_timeout: "1s" });
    expect(text.status).toBe(503);
    const lines = (await text.text()).split("\n");
    expect(lines[0]).toMatch(/is queued \(\d+(\.\d+)?s so far\); retry to get its verdict$/);
    expect(lines).toContainEqual(expect.stringMatching(/^- place in the queue: \d+ of \d+/));
    expect(lines.at(-1)).toMatch(new RegExp(`^- Dashboard: ${PUBLIC_URL}/runs/`));
  });

  it("names each job namespace/name@revision for bull-board", async () => {
    const response = await call("named", { wait_for_results: "false" }, "application/json");
    const { run } = (await response.json()) as { run: { id: string } };
    const job = await queue.getJob(run.id);
    expect(job?.name).toBe("shop/named@0123456789ab");
  });

  it("a missing run is a styled 404 page in a browser, JSON for the API", async () => {
    const page = await api.app.request("/runs/bogus", { headers: { accept: "text/html" } });
    expect(page.status).toBe(404);
    const html = await page.text();
    expect(html).toContain("Not found");
    expect(html).toContain("No run bogus is recorded");
    const json = await api.app.request("/api/runs/bogus", {
      headers: { accept: "application/json" },
    });
    expect(json.status).toBe(404);
    expect(await json.json()).toMatchObject({ error: "no such run" });
  });
});
