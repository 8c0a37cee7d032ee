import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "@k6-gate/testkit/paths";
import { runIdIn } from "@k6-gate/testkit/runs";
import { payloadOf, postWebhook } from "@k6-gate/testkit/webhook";
import { useStack } from "@k6-gate/testkit/use-stack";
import { launchChromium, screenshot, watchForInjection } from "./chromium";

/**
 * The run page shows what ran (script, variables by name, k6 and its load, worker,
 * attempts, the canary's other runs) and never a value; every page fits 360 px; the
 * dashboard and bull-board tell the same time in the browser's zone; bull-board asks no
 * host but the API's.
 */
const SECRET_VALUE = "s3cr3t-value-do-not-show-6b1f";
const DOCS_IMAGE = join(ROOT, "docs", "images", "run-page.png");

const cartScript = (port: number) => `import http from 'k6/http';
import { check } from 'k6';

export const options = {
  scenarios: {
    browse: { executor: 'shared-iterations', vus: 2, iterations: 8 },
  },
  thresholds: { checks: ['rate>0.9'] },
};

export default function () {
  const res = http.get('http://127.0.0.1:${port}/ok', { headers: { 'x-api-key': __ENV.API_KEY } });
  check(res, { 'status is 200': (r) => r.status === 200 });
}
`;

const stack = useStack();
let browser: Browser;
const runIds: string[] = [];

beforeAll(async () => {
  // Two revisions of shop/cart, one after the other: the second run's page links back.
  for (const checksum of ["1a2b3c4d5e6f", "6f5e4d3c2b1a"]) {
    const response = await postWebhook(
      stack.api.url,
      payloadOf({
        namespace: "shop",
        name: "cart",
        checksum,
        metadata: {
          script: cartScript(stack.target.port),
          env_vars: JSON.stringify({ API_KEY: SECRET_VALUE, REGION: "eu-1" }),
        },
      }),
    );
    expect(response.status, response.text).toBe(200);
    runIds.push(runIdIn(response.text));
  }
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

const runUrl = (id: string) => `${stack.api.url}/runs/${encodeURIComponent(id)}`;

describe("the run page shows what ran", () => {
  it("the script with line numbers, variables by name, k6 and its load, worker, attempts", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems = watchForInjection(page);
    await page.goto(runUrl(runIds[1] ?? ""));
    const lines = page.locator("#script code.line");
    expect(await lines.count()).toBe(cartScript(stack.target.port).trimEnd().split("\n").length);
    // Each line keeps its newline: copying the script gives the script.
    expect(await lines.nth(0).textContent()).toBe("import http from 'k6/http';\n");
    // Line numbers are drawn by CSS, not part of the text (copying the script copies code).
    // A string, evaluated in the page: this file's TypeScript has no DOM types.
    const numbering = await page.evaluate(
      'getComputedStyle(document.querySelector("#script code.line"), "::before").content',
    );
    expect(numbering).toBe("counter(line)");
    expect(await page.locator("#script").innerText()).not.toMatch(/^1/);
    expect(await page.locator("#script").getAttribute("contenteditable")).toBeNull();

    const env = await page.locator("#env-names").innerText();
    expect(env).toContain("API_KEY");
    expect(env).toContain("REGION");
    expect(env).toContain("value hidden");
    expect(await page.locator("#k6-version").innerText()).toMatch(/^v\d+\.\d+\.\d+/);
    expect(await page.locator("#scenarios").innerText()).toContain(
      "browse shared-iterations: 2 VUs, 8 iterations",
    );
    expect(await page.locator("#worker").innerText()).toMatch(/\S+-\d+$/);
    expect((await page.locator("#attempts").innerText()).trim()).toMatch(/^1\b/);

    // Never a value: not in the page, its JSON, nor on the queue board.
    expect(await page.content()).not.toContain(SECRET_VALUE);
    for (const path of [`/api/runs/${runIds[1]}`, `/api/runs?namespace=shop&name=cart`]) {
      expect(await (await fetch(`${stack.api.url}${path}`)).text(), path).not.toContain(
        SECRET_VALUE,
      );
    }
    const board = await fetch(
      `${stack.api.url}/admin/queues/api/queues?activeQueue=k6-runs&status=completed&page=1`,
    );
    const boardText = await board.text();
    expect(boardText).toContain("REGION");
    expect(boardText).not.toContain(SECRET_VALUE);
    const path = await screenshot(page, "dashboard-what-ran");
    // The README's picture: refreshed on request, or made when missing.
    if (process.env.DOCS_SCREENSHOT === "1" || !existsSync(DOCS_IMAGE)) {
      mkdirSync(join(ROOT, "docs", "images"), { recursive: true });
      copyFileSync(path, DOCS_IMAGE);
    }
    expect(problems).toEqual([]);
    await page.close();
  });

  it("links the canary's previous and next runs", async () => {
    const page = await browser.newPage();
    await page.goto(runUrl(runIds[1] ?? ""));
    expect(await page.locator("#next-run").count()).toBe(0);
    await page.locator("#previous-run").click();
    await page.waitForURL(`**/runs/${encodeURIComponent(runIds[0] ?? "")}`);
    expect(await page.locator("#previous-run").count()).toBe(0);
    expect(await page.locator("#next-run").getAttribute("href")).toBe(
      `/runs/${encodeURIComponent(runIds[1] ?? "")}`,
    );
    await page.close();
  });
});

describe("layout at 360 px", () => {
  it("no page scrolls sideways", async () => {
    const page = await browser.newPage({ viewport: { width: 360, height: 740 } });
    const pages = [
      "/",
      "/canaries/shop/cart",
      `/runs/${encodeURIComponent(runIds[1] ?? "")}`,
      "/runs/bogus",
      "/canaries/shop/none",
      "/admin/queues",
    ];
    for (const path of pages) {
      await page.goto(`${stack.api.url}${path}`);
      if (path.startsWith("/admin")) await page.getByText("k6-runs").first().waitFor();
      const width = await page.evaluate("document.documentElement.scrollWidth");
      expect(width, path).toBeLessThanOrEqual(360);
    }
    await page.goto(`${stack.api.url}/runs/${encodeURIComponent(runIds[1] ?? "")}`);
    await screenshot(page, "dashboard-run-360px");
    await page.close();
  });
});

describe("one clock and a board that stays in the cluster", () => {
  let context: BrowserContext;
  const requested: string[] = [];

  beforeAll(async () => {
    // Kathmandu is UTC+5:45: no whole-hour coincidence with UTC or the machine's zone.
    context = await browser.newContext({ timezoneId: "Asia/Kathmandu", locale: "en-US" });
    context.on("request", (request) => requested.push(request.url()));
  });
  afterAll(() => context?.close());

  /** "16:05" of "2026-11-29 16:05" or of bull-board's "Nov 29, 2026, 16:05:12 GMT+5:45". */
  const minutesOf = (text: string) => {
    const match = /(\d\d):(\d\d)/.exec(text);
    if (!match) throw new Error(`no time in ${JSON.stringify(text)}`);
    return Number(match[1]) * 60 + Number(match[2]);
  };

  it("the dashboard and bull-board show the same local time, the UTC instant on hover", async () => {
    const id = runIds[1] ?? "";
    const page = await context.newPage();
    await page.goto(runUrl(id));
    const started = page.locator("#started-at time");
    const dashboardText = await started.innerText();
    expect(await started.getAttribute("title")).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    const iso = (await started.getAttribute("datetime")) ?? "";
    const utc = new Date(iso);
    // Year first, in Kathmandu: the day and minute there, never en-US's 11/29/2026.
    const kathmandu = new Date(utc.getTime() + 345 * 60_000).toISOString();
    expect(dashboardText).toBe(`${kathmandu.slice(0, 10)} ${kathmandu.slice(11, 16)}`);
    expect(minutesOf(dashboardText)).toBe(
      (utc.getUTCHours() * 60 + utc.getUTCMinutes() + 345) % 1440,
    );

    // The job of the same run on bull-board: named by canary and revision, linked back.
    await page.goto(`${stack.api.url}/admin/queues/queue/k6-runs?status=completed`);
    const name = "shop/cart@6f5e4d3c2b1a";
    await page.getByText(name).first().waitFor({ timeout: 15_000 });
    const link = page.getByRole("link", { name: /run page/i }).first();
    expect(await link.getAttribute("href")).toBe(`/runs/${encodeURIComponent(id)}`);
    const boardTimes = await page.locator("time").allInnerTexts();
    expect(boardTimes.length).toBeGreaterThan(0);
    // Queued, started and finished are within seconds: the board's times are the run's minute.
    for (const text of boardTimes.filter((t) => /\d\d:\d\d:\d\d/.test(t))) {
      expect(Math.abs(minutesOf(text) - minutesOf(dashboardText)), text).toBeLessThanOrEqual(1);
      expect(text).not.toMatch(/\b(AM|PM)\b/);
      // The month as a word: bull-board's en-US dates cannot be read as another day.
      expect(text).toMatch(/^[A-Z][a-z]{2} \d\d, \d{4}, \d\d:\d\d:\d\d GMT\+5:45$/);
    }
    await screenshot(page, "queue-board-local-time");
    await page.close();
  });

  it("bull-board asks no host but the API's", async () => {
    const page = await context.newPage();
    requested.length = 0;
    await page.goto(`${stack.api.url}/admin/queues`);
    await page.getByText("k6-runs").first().waitFor({ timeout: 15_000 });
    await page.goto(`${stack.api.url}/admin/queues/queue/k6-runs?status=completed`);
    await page.getByText("shop/cart@").first().waitFor({ timeout: 15_000 });
    await page.waitForLoadState("networkidle");
    const origin = new URL(stack.api.url).origin;
    expect(requested.length).toBeGreaterThan(3);
    expect(requested.filter((url) => !url.startsWith(origin) && !url.startsWith("data:"))).toEqual(
      [],
    );
    await page.close();
  });

  it("bull-board has a way back to the dashboard: its header menu's Dashboard link", async () => {
    const page = await context.newPage();
    await page.goto(`${stack.api.url}/admin/queues`);
    await page.getByText("k6-runs").first().waitFor({ timeout: 15_000 });
    // bull-board's one place for links of the host app (uiConfig.miscLinks): a header menu.
    await page.locator("header ul li").last().locator("button").click();
    const back = page.getByRole("menuitem", { name: "Dashboard" });
    await back.waitFor({ timeout: 5_000 });
    await screenshot(page, "queue-board-way-back");
    await back.click();
    await page.waitForURL(`${stack.api.url}/`);
    expect(await page.locator("h1").first().innerText()).toMatch(/canaries/i);
    await page.close();
  });
});
