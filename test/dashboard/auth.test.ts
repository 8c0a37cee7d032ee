import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadApiConfig } from "../../apps/api/src/config";
import type { ApiProcess } from "@k6-gate/testkit/k6gate";
import { useStack } from "@k6-gate/testkit/use-stack";
import { launchChromium, watchForInjection } from "./chromium";

const USER = "sre";
const PASSWORD = "correct horse battery staple";
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

/** Every kind of page a person reads: dashboard, its JSON, the queue board and its API. */
const PROTECTED = [
  "/",
  "/canaries/test/podinfo",
  "/runs/no-such-run",
  "/api/canaries",
  "/api/runs/no-such-run",
  "/admin/queues",
  "/admin/queues/api/queues",
];
const QUEUE_API = "/admin/queues/api/queues";

const stack = useStack({ api: false, workers: 0 });
let secured: ApiProcess;
let signedInReadOnly: ApiProcess;
let open: ApiProcess;
let browser: Browser;

beforeAll(async () => {
  const login = { DASHBOARD_USER: USER, DASHBOARD_PASSWORD: PASSWORD };
  [secured, signedInReadOnly, open] = await Promise.all([
    stack.fileGate({ ...login, QUEUE_BOARD_WRITE: "true" }).startApi(),
    stack.fileGate(login).startApi(),
    stack.fileGate().startApi(),
  ]);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await Promise.allSettled([secured?.stop(), signedInReadOnly?.stop(), open?.stop()]);
});

const get = (api: ApiProcess, path: string, authorization?: string) =>
  fetch(`${api.url}${path}`, { headers: authorization ? { authorization } : {} });

const queueState = async (api: ApiProcess, authorization?: string) => {
  const body = (await (await get(api, QUEUE_API, authorization)).json()) as {
    queues: { name: string; isPaused: boolean; readOnlyMode: boolean }[];
  };
  const queue = body.queues.find((q) => q.name === "k6-runs");
  if (!queue) throw new Error("queue k6-runs not on the board");
  return queue;
};

describe("dashboard basic auth (DASHBOARD_USER / DASHBOARD_PASSWORD)", () => {
  it("answers 401 with a challenge without credentials or with wrong ones, everywhere a person reads", async () => {
    for (const path of PROTECTED) {
      const none = await get(secured, path);
      expect(none.status, path).toBe(401);
      expect(none.headers.get("www-authenticate"), path).toMatch(/^Basic realm="k6-gate"/);
      expect((await get(secured, path, basic(USER, "wrong"))).status, path).toBe(401);
      expect((await get(secured, path, basic("root", PASSWORD))).status, path).toBe(401);
    }
  });

  it("lets the right credentials through", async () => {
    for (const path of ["/", "/api/canaries", "/admin/queues", QUEUE_API]) {
      expect((await get(secured, path, basic(USER, PASSWORD))).status, path).toBe(200);
    }
    // No such run: past auth, then a real 404.
    expect((await get(secured, "/api/runs/no-such-run", basic(USER, PASSWORD))).status).toBe(404);
  });

  it("leaves the webhook, health and /metrics to their own rules", async () => {
    expect((await get(secured, "/healthz")).status).toBe(200);
    expect((await get(secured, "/metrics")).status).toBe(200);
    const webhook = await fetch(`${secured.url}/launch-test`, { method: "POST", body: "{}" });
    expect(webhook.status).toBe(400);
  });

  it("keeps bull-board read-only for signed-in users unless QUEUE_BOARD_WRITE=true", async () => {
    const auth = basic(USER, PASSWORD);
    expect((await queueState(signedInReadOnly, auth)).readOnlyMode).toBe(true);
    const pause = `${signedInReadOnly.url}${QUEUE_API}/k6-runs/pause`;
    const refused = await fetch(pause, { method: "PUT", headers: { authorization: auth } });
    expect(refused.status).toBe(405);
    expect(await refused.text()).toContain("QUEUE_BOARD_WRITE=true");
    expect((await queueState(signedInReadOnly, auth)).isPaused).toBe(false);
  });

  it("allows bull-board's write actions (QUEUE_BOARD_WRITE=true) only to a signed-in user", async () => {
    const pause = `${QUEUE_API}/k6-runs/pause`;
    const resume = `${QUEUE_API}/k6-runs/resume`;
    const auth = basic(USER, PASSWORD);
    expect((await fetch(`${secured.url}${pause}`, { method: "PUT" })).status).toBe(401);
    expect((await queueState(secured, auth)).readOnlyMode).toBe(false);
    const paused = await fetch(`${secured.url}${pause}`, {
      method: "PUT",
      headers: { authorization: auth },
    });
    expect(paused.status).toBe(200);
    expect((await queueState(secured, auth)).isPaused).toBe(true);
    await fetch(`${secured.url}${resume}`, { method: "PUT", headers: { authorization: auth } });
    expect((await queueState(secured, auth)).isPaused).toBe(false);
  });

  it("in a browser: 401 without credentials, the page with them", async () => {
    const anonymous = await browser.newContext();
    const page401 = await anonymous.newPage();
    // Chromium asks for credentials on the 401 challenge; with none to give, Playwright
    // cancels and the navigation fails: the 401 itself is seen as a response.
    const challenged = page401.waitForResponse(`${secured.url}/`);
    await page401.goto(`${secured.url}/`).catch((error: Error) => {
      expect(error.message).toContain("ERR_INVALID_AUTH_CREDENTIALS");
    });
    expect((await challenged).status()).toBe(401);
    expect(await page401.locator("h1").count()).toBe(0);
    await anonymous.close();

    const signedIn = await browser.newContext({
      httpCredentials: { username: USER, password: PASSWORD },
    });
    const page = await signedIn.newPage();
    const allowed = await page.goto(`${secured.url}/`);
    expect(allowed?.status()).toBe(200);
    expect(await page.locator("h1").innerText()).toBe("Canaries");
    await signedIn.close();
  });
});

describe("queue board hardening (bull-board)", () => {
  const auth = basic(USER, PASSWORD);
  const waiting = async () => {
    const body = (await (await get(secured, QUEUE_API, auth)).json()) as {
      queues: { name: string; counts: Record<string, number> }[];
    };
    return body.queues.find((q) => q.name === "k6-runs")?.counts;
  };

  it("refuses writes a cross-site form or no-cors fetch could send (415), even signed in", async () => {
    const before = await waiting();
    const add = `${secured.url}${QUEUE_API}/k6-runs/add`;
    const job = JSON.stringify({ name: "k6-run", data: {} });
    const multipart = new FormData();
    multipart.append("name", "k6-run");
    const forged: [string, Record<string, string>, RequestInit["body"]][] = [
      ["text/plain", { "content-type": "text/plain" }, job],
      ["form", { "content-type": "application/x-www-form-urlencoded" }, "name=k6-run"],
      ["multipart", {}, multipart],
      ["no content type, no body", {}, undefined],
    ];
    for (const [what, headers, body] of forged) {
      const response = await fetch(add, {
        method: "POST",
        headers: { authorization: auth, ...headers },
        body,
      });
      expect(response.status, what).toBe(415);
    }
    const pauseWithBody = await fetch(`${secured.url}${QUEUE_API}/k6-runs/pause`, {
      method: "PUT",
      headers: { authorization: auth, "content-type": "text/plain" },
      body: "{}",
    });
    expect(pauseWithBody.status).toBe(415);
    expect((await queueState(secured, auth)).isPaused).toBe(false);
    expect(await waiting()).toEqual(before);
  });

  it("serves its pages with a CSP that lets only this origin's scripts run", async () => {
    const page = await get(secured, "/admin/queues", auth);
    expect(page.status).toBe(200);
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toMatch(/script-src 'self'(;|$)/);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
  });

  it("in a browser: the board works under its CSP (queue shown, nothing refused)", async () => {
    const context = await browser.newContext({
      httpCredentials: { username: USER, password: PASSWORD },
    });
    const page = await context.newPage();
    const problems = watchForInjection(page);
    await page.goto(`${secured.url}/admin/queues`);
    await page.getByText("k6-runs").first().waitFor({ timeout: 15_000 });
    // A JSON write still works; its job (hostile-looking data) is shown, highlighted by
    // bull-board's own worker script, without anything refused or run.
    const added = await fetch(`${secured.url}${QUEUE_API}/k6-runs/add`, {
      method: "POST",
      headers: { authorization: auth, "content-type": "application/json" },
      body: JSON.stringify({
        name: "csp-probe",
        data: { note: "<img src=x onerror=\"document.title='pwned'\">" },
        options: { delay: 3_600_000 },
      }),
    });
    expect(added.status).toBe(200);
    await page.goto(`${secured.url}/admin/queues/queue/k6-runs?status=delayed`);
    await page.getByText("csp-probe").first().waitFor({ timeout: 15_000 });
    await page.getByText("onerror").first().waitFor({ timeout: 15_000 });
    expect(await page.title()).not.toBe("pwned");
    expect(problems).toEqual([]);
    await context.close();
  });
});

describe("dashboard without auth configured", () => {
  it("is open to read, and bull-board is read-only: writes are refused", async () => {
    for (const path of ["/", "/api/canaries", "/admin/queues", QUEUE_API]) {
      expect((await get(open, path)).status, path).toBe(200);
    }
    const queue = await queueState(open);
    expect(queue.readOnlyMode).toBe(true);
    for (const action of ["pause", "empty", "clean/completed", "retry/failed"]) {
      const response = await fetch(`${open.url}${QUEUE_API}/k6-runs/${action}`, { method: "PUT" });
      expect(response.status, action).toBe(405);
    }
    const add = await fetch(`${open.url}${QUEUE_API}/k6-runs/add`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "k6-run", data: {} }),
    });
    expect(add.status).toBe(405);
    expect((await queueState(open)).isPaused).toBe(false);
  });

  it("refuses to start with only half a login configured", () => {
    expect(() => loadApiConfig({ DASHBOARD_USER: USER })).toThrow(
      /DASHBOARD_PASSWORD: set both DASHBOARD_USER and DASHBOARD_PASSWORD/,
    );
    expect(() => loadApiConfig({ DASHBOARD_PASSWORD: PASSWORD })).toThrow(/set both/);
  });
});
