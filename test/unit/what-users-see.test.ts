import { readFileSync } from "node:fs";
import { join } from "node:path";
import { runInNewContext } from "node:vm";
import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import {
  createLogger,
  describeScenario,
  formatMs,
  formatNumber,
  formatObserved,
  formatRate,
  inputsOf,
  runSpecOf,
  scenarioOf,
  webhookPayloadSchema,
  type RunStore,
} from "@k6-gate/shared";
import { createApp } from "../../apps/api/src/app";
import { apiConfigSchema } from "../../apps/api/src/config";
import { boardJobData } from "../../apps/api/src/dashboard/queue-board";
import {
  BOARD_TIME_FORMAT,
  clockScript,
  formatSpan,
  localText,
} from "../../apps/api/src/dashboard/time";
import { RunWaiter } from "../../apps/api/src/run-waiter";
import { parseExecutionRequirements } from "../../apps/worker/src/k6/execution-requirements";
import { checksOf, localSecrets } from "../../apps/worker/src/try/try-canary";
import { ROOT } from "@k6-gate/testkit/paths";

/** What `k6 inspect --execution-requirements` (k6 v2.2.0) prints, trimmed, with secrets in options. */
const INSPECT = JSON.stringify({
  vus: null,
  duration: null,
  scenarios: {
    browse: {
      executor: "constant-vus",
      startTime: null,
      gracefulStop: "5s",
      env: { API_KEY: "hunter2" },
      exec: null,
      tags: { team: "shop" },
      vus: 2,
      duration: "5s",
    },
    spike: {
      executor: "ramping-arrival-rate",
      startRate: 1,
      timeUnit: "1s",
      preAllocatedVUs: 3,
      stages: [
        { duration: "10s", target: 5 },
        { duration: "5s", target: 0 },
      ],
    },
  },
  tlsAuth: [{ domains: ["x"], cert: "CERT", key: "PRIVATE KEY" }],
  hosts: { "api.internal": "10.0.0.1" },
  thresholds: { http_req_duration: ["p(95)<500"] },
  totalDuration: "45s",
  maxVUs: 5,
});

describe("what ran: k6 inspect's options, reduced to their load shape", () => {
  it("keeps executors and load, scenario env as names, and drops every other option", () => {
    const requirements = parseExecutionRequirements(INSPECT);
    expect(requirements?.plan).toEqual({
      totalDuration: "45s",
      maxVUs: 5,
      scenarios: [
        {
          name: "browse",
          executor: "constant-vus",
          vus: 2,
          duration: "5s",
          gracefulStop: "5s",
          envNames: ["API_KEY"],
        },
        {
          name: "spike",
          executor: "ramping-arrival-rate",
          startRate: 1,
          timeUnit: "1s",
          preAllocatedVUs: 3,
          stages: [
            { duration: "10s", target: 5 },
            { duration: "5s", target: 0 },
          ],
        },
      ],
    });
    const shown = JSON.stringify(requirements?.plan);
    for (const secret of ["hunter2", "PRIVATE KEY", "10.0.0.1", "shop"]) {
      expect(shown).not.toContain(secret);
    }
  });

  it("describes each scenario in words", () => {
    expect(
      describeScenario(scenarioOf("a", { executor: "constant-vus", vus: 2, duration: "5s" })),
    ).toBe("2 VUs, for 5s");
    expect(
      describeScenario(
        scenarioOf("b", {
          executor: "ramping-vus",
          startVUs: 0,
          stages: [
            { duration: "10s", target: 10 },
            { duration: "10s", target: 0 },
          ],
        }),
      ),
    ).toBe("0 → 10 → 0 VUs in 2 stages (10s, 10s)");
    expect(
      describeScenario(scenarioOf("c", { executor: "shared-iterations", vus: 1, iterations: 24 })),
    ).toBe("1 VU, 24 iterations");
  });

  it("keeps a run's variables by name and its secrets by reference, never a value", () => {
    const payload = webhookPayloadSchema.parse({
      name: "cart",
      namespace: "shop",
      metadata: {
        script: "export default function () {}",
        env_vars: JSON.stringify({ TARGET: "http://cart-canary.shop", API_KEY: "s3cr3t" }),
        kubernetes_secrets: JSON.stringify({ TOKEN: "vault/token" }),
        max_duration: "2m",
      },
    });
    const inputs = inputsOf(runSpecOf(payload));
    expect(inputs).toEqual({
      script: "export default function () {}",
      envNames: ["API_KEY", "TARGET"],
      secretRefs: { TOKEN: "vault/token" },
      uploadToCloud: false,
      maxDurationMs: 120_000,
      maxInterruptedIterations: 0,
    });
    expect(JSON.stringify(inputs)).not.toContain("s3cr3t");
  });

  it("bull-board shows a job's env_vars by name, values hidden", () => {
    expect(boardJobData({ runId: "r", envVars: { API_KEY: "s3cr3t" }, script: "x" })).toEqual({
      runId: "r",
      envVars: { API_KEY: "(hidden)" },
      script: "x",
    });
    expect(boardJobData("not an object")).toBe("not an object");
  });
});

describe("one number format", () => {
  it("prints times with a space and at most two decimals, rates with two", () => {
    expect([formatMs(51.534), formatMs(999.996), formatMs(1234), formatMs(null)]).toEqual([
      "51.53 ms",
      "1 s",
      "1.23 s",
      "–",
    ]);
    expect([formatRate(0.2083333), formatRate(1), formatRate(0)]).toEqual([
      "20.83%",
      "100.00%",
      "0.00%",
    ]);
    expect(formatNumber(24)).toBe("24");
  });

  it("the verdict text prints thresholds with the dashboard's formatter", () => {
    const t = (metric: string, expression: string, observed: number) =>
      formatObserved({ metric, expression, ok: false, observed });
    expect(t("http_req_duration", "p(95)<500", 812.3456)).toBe(formatMs(812.3456));
    expect(t("http_req_failed", "rate<0.01", 0.045)).toBe(formatRate(0.045));
    expect(t("iterations", "count>10", 3)).toBe("3");
  });
});

describe("one clock", () => {
  /** Runs the page's clock script on stand-in time elements; returns their texts. */
  function runClock(elements: { dateTime: string; dataset: Record<string, string> }[]) {
    const all = elements.map((el) => ({ ...el, textContent: "" }));
    const document = {
      querySelectorAll: (selector: string) =>
        all.filter((el) =>
          selector.includes("data-ago") ? "ago" in el.dataset : "local" in el.dataset,
        ),
    };
    // The script as the browser runs it, with stand-ins for the DOM and the timer.
    runInNewContext(clockScript, { document, setInterval: () => 0, Intl, Date, Math });
    return all.map((el) => el.textContent);
  }

  it("the browser's relative times are formatSpan's", () => {
    const spans = [0, 14_000, 59_400, 61_000, 3_599_000, 7_300_000, 90_000_000];
    const texts = runClock(
      spans.map((ago, i) => ({
        dateTime: new Date(Date.now() - ago).toISOString(),
        dataset: { ago: i % 2 ? "for" : "ago" },
      })),
    );
    expect(texts).toEqual(
      spans.map((ago, i) => (i % 2 ? formatSpan(ago) : `${formatSpan(ago)} ago`)),
    );
  });

  it("shows instants year first on a 24-hour clock, in the browser's zone", () => {
    const instant = "2026-12-07T14:03:12.000Z";
    const [text] = runClock([{ dateTime: instant, dataset: { local: "" } }]);
    expect(text).toBe(localText(instant));
    expect(text).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d$/);
    expect(localText(instant, "UTC")).toBe("2026-12-07 14:03");
    // Another zone, another day: the date is the zone's, never the server's.
    expect(localText(instant, "Pacific/Kiritimati")).toBe("2026-12-08 04:03");
    expect(localText("2026-12-07T00:30:00.000Z", "America/New_York")).toBe("2026-12-06 19:30");
  });

  it("gives bull-board a format with the month as a word (its locale is en-US)", () => {
    const text = new Intl.DateTimeFormat("en-US", { ...BOARD_TIME_FORMAT, timeZone: "UTC" }).format(
      new Date("2026-12-07T14:03:12.000Z"),
    );
    expect(text).toBe("Dec 07, 2026, 14:03:12 UTC");
  });
});

describe("k6-gate try: reading a Canary", () => {
  it("finds the k6-gate webhooks of the example Canary", () => {
    const file = join(ROOT, "k8s", "examples", "canary.yaml");
    const checks = checksOf(readFileSync(file, "utf8"), "canary.yaml");
    expect(checks.map((check) => check.label)).toEqual([
      "test/podinfo webhook k6-load-test (pre-rollout)",
    ]);
    expect(checks[0]?.metadata.script).toContain("k6/http");
  });

  it("reads a metadata file as one check", () => {
    const checks = checksOf('script: "export default function () {}"\nenv_vars: "{}"\n', "m.yaml", {
      namespace: "shop",
      name: "cart",
    });
    expect(checks).toEqual([
      {
        label: "m.yaml",
        namespace: "shop",
        name: "cart",
        metadata: { script: "export default function () {}", env_vars: "{}" },
      },
    ]);
  });

  it("takes kubernetes_secrets from values given by name or by reference", async () => {
    const resolve = localSecrets({ TOKEN: "a", "vault/key": "b" });
    expect(
      await resolve(
        { TOKEN: { secret: "x", key: "y" }, OTHER: { secret: "vault", key: "key" } },
        "shop",
      ),
    ).toEqual({ ok: true, value: { TOKEN: "a", OTHER: "b" } });
    const missing = await resolve({ GONE: { namespace: "ops", secret: "s", key: "k" } }, "shop");
    expect(missing).toEqual({
      ok: false,
      problem: expect.stringContaining("GONE (ops/s/k)") as unknown,
    });
  });
});

describe("dashboard dead ends and the queue board's writes", () => {
  const config = apiConfigSchema.parse({ LOG_LEVEL: "silent" });
  const unused = <T>(given: Record<string, unknown> = {}) =>
    new Proxy(given, {
      get: (target, property) => (typeof property === "string" ? target[property] : undefined),
    }) as T;
  const app = createApp({
    config,
    redis: unused<Redis>(),
    store: unused<RunStore>(),
    details: unused(),
    queue: unused<Queue>({ name: "k6-runs", metaValues: { version: "bullmq:6" } }),
    waiter: new RunWaiter(unused<Redis>(), unused<RunStore>()),
    logger: createLogger("k6-gate-api", "silent"),
  });

  it("answers an unknown page with a styled 404 page for a browser, text for curl", async () => {
    const page = await app.request("/no/such/page", { headers: { accept: "text/html" } });
    expect(page.status).toBe(404);
    const html = await page.text();
    expect(html).toContain('<h1 id="error" data-status="404">Not found</h1>');
    expect(html).toContain('href="/"');
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    const text = await app.request("/no/such/page");
    expect(text.status).toBe(404);
    expect(await text.text()).toMatch(/not found/i);
  });

  it("answers a canary page with an impossible name with a styled 400 page", async () => {
    const page = await app.request("/canaries/Not_A_Namespace/x", {
      headers: { accept: "text/html" },
    });
    expect(page.status).toBe(400);
    expect(await page.text()).toContain("Bad request");
  });

  it("makes the queue board writable only with QUEUE_BOARD_WRITE=true and a dashboard login", () => {
    expect(() => apiConfigSchema.parse({ QUEUE_BOARD_WRITE: "true" })).toThrow(/QUEUE_BOARD_WRITE/);
    const login = { DASHBOARD_USER: "sre", DASHBOARD_PASSWORD: "pw" };
    expect(apiConfigSchema.parse(login).QUEUE_BOARD_WRITE).toBe(false);
    expect(apiConfigSchema.parse({ ...login, QUEUE_BOARD_WRITE: "true" }).QUEUE_BOARD_WRITE).toBe(
      true,
    );
  });
});
