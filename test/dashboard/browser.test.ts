import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { payloadOf, postWebhook } from "@k6-gate/testkit/webhook";
import { useStack } from "@k6-gate/testkit/use-stack";
import { launchChromium, screenshot, watchForInjection } from "./chromium";
import { releaseScript, tickingScript } from "./scripts";

/** Releases of shop/checkout, oldest first: p95 target (ms) and one failure in `failEvery`. */
const RELEASES = [
  { checksum: "5f1c9a2e07", ms: 20, failEvery: 0 },
  { checksum: "a93d0b7c41", ms: 30, failEvery: 0 },
  // A second run of the same revision (Flagger's `rollout` hook runs each iteration).
  { checksum: "a93d0b7c41", ms: 30, failEvery: 0 },
  { checksum: "c0e84f5d12", ms: 25, failEvery: 0 },
  { checksum: "e7b2613af9", ms: 110, failEvery: 5 },
];

/** The revision of shop/cart that Flagger rolled back. */
const ROLLED_BACK = "bad0c0ffee1234";

const stack = useStack({
  env: { PUBLIC_URL: "http://127.0.0.1" },
  workerEnv: { WORKER_CONCURRENCY: "2", WORKER_METRICS_PORT: "0" },
});
let browser: Browser;
let page: Page;
let injection: string[];
let liveRunId: string;

beforeAll(async () => {
  for (const release of RELEASES) {
    const response = await postWebhook(
      stack.api.url,
      payloadOf({
        namespace: "shop",
        name: "checkout",
        checksum: release.checksum,
        metadata: { script: releaseScript(stack.target.port, release.ms, release.failEvery) },
      }),
    );
    expect(response.status).toBe(release.failEvery ? 422 : 200);
  }
  // shop/cart, rolled back: its new revision failed pre-rollout, then Flagger called the
  // post-rollout hook with phase Failed, whose check (of the old version, serving again) passed.
  for (const [phase, failEvery, status] of [
    ["Progressing", 5, 422],
    ["Failed", 0, 200],
  ] as const) {
    const response = await postWebhook(
      stack.api.url,
      payloadOf({
        namespace: "shop",
        name: "cart",
        phase,
        checksum: ROLLED_BACK,
        metadata: { script: releaseScript(stack.target.port, 20, failEvery) },
      }),
    );
    expect(response.status).toBe(status);
  }
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  injection = watchForInjection(page);
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

describe("dashboard in headless Chromium", () => {
  it("/ lists the canary with its last verdict and p95 / error-rate sparklines", async () => {
    const response = await page.goto(`${stack.api.url}/`);
    expect(response?.status()).toBe(200);
    const row = page.locator('tr[data-canary="shop/checkout"]');
    await expect.poll(() => row.count()).toBe(1);
    expect(await row.locator(".badge").innerText()).toBe("FAIL");
    expect(await row.locator("svg.sparkline").count()).toBe(2);
    // One point per revision: four revisions, the last one the failing release.
    const p95Titles = await row.locator("svg.sparkline title").first().textContent();
    expect(p95Titles?.split("\n")).toHaveLength(4);
    await screenshot(page, "dashboard-canaries");
  });

  it("/ shows a rolled-back canary as rolled back, with the revision that failed, not its post-rollout PASS", async () => {
    await page.goto(`${stack.api.url}/`);
    const state = page.locator('tr[data-canary="shop/cart"] td.state');
    expect(await state.locator(".badge").innerText()).toBe("ROLLED BACK");
    expect(await state.innerText()).toMatch(
      new RegExp(
        `revision ${ROLLED_BACK.slice(0, 10)} failed its check\\s+post-rollout check PASS`,
      ),
    );
    // The revision links to the run that failed it.
    await state.getByRole("link", { name: /revision/ }).click();
    await page.waitForURL("**/runs/**");
    expect(await page.locator("h1 .badge").innerText()).toBe("FAIL");
    expect(await page.locator("#outcome").innerText()).toBe("thresholds_failed");
    await page.goto(`${stack.api.url}/`);
  });

  it("/ fits 360 px: a card per canary, nothing in the table scrolls sideways", async () => {
    const phone = await browser.newPage({ viewport: { width: 360, height: 740 } });
    await phone.goto(`${stack.api.url}/`);
    const box = phone.locator("#canaries");
    const sizes = await phone.evaluate<number[]>(`(() => {
      const table = document.querySelector("#canaries");
      const box = table.parentElement;
      return [table.scrollWidth, table.clientWidth, box.scrollWidth, box.clientWidth,
        document.documentElement.scrollWidth];
    })()`);
    const [tableScroll = 0, tableClient = 0, boxScroll = 0, boxClient = 0, pageScroll = 0] = sizes;
    expect(tableScroll).toBeLessThanOrEqual(tableClient);
    expect(boxScroll).toBeLessThanOrEqual(boxClient);
    expect(pageScroll).toBeLessThanOrEqual(360);
    // Every cell of every card is on screen: no column was simply cut off.
    for (const cell of await box.locator("tbody td").all()) {
      const rect = await cell.boundingBox();
      expect(rect && rect.x + rect.width).toBeLessThanOrEqual(360);
    }
    await screenshot(phone, "dashboard-canaries-360px");
    await phone.close();
  });

  it("the canary page charts every run across revisions, each point labelled by checksum", async () => {
    await page.getByRole("link", { name: "shop/checkout" }).click();
    await page.waitForURL("**/canaries/shop/checkout");
    const charts = page.locator("figure.chart");
    expect(await charts.locator("figcaption").allInnerTexts()).toEqual([
      "p95 latency",
      "Error rate (http_req_failed)",
      "Checks pass rate",
    ]);
    // The wide drawing of the chart (a narrow one stands in below 440 px).
    const p95 = charts.first().locator("svg.wide");
    expect(await p95.getAttribute("data-points")).toBe(String(RELEASES.length));
    const pointChecksums = await Promise.all(
      (await p95.locator("circle.point").all()).map((point) => point.getAttribute("data-checksum")),
    );
    expect(pointChecksums).toEqual(RELEASES.map((r) => r.checksum));
    const axisLabels = await p95.locator("text.revision").allTextContents();
    expect(axisLabels).toEqual([...new Set(RELEASES.map((r) => r.checksum))]);
    expect(await p95.locator("circle.point.fail").count()).toBe(1);
    expect(await page.locator("#runs tbody tr").count()).toBe(RELEASES.length);

    // The README's picture is canary-chart.test.ts's: a page showing a regression.
    await screenshot(page, "dashboard-canary");
  });

  it("a failed run shows each threshold with pass/fail and the observed value", async () => {
    // Follow the red point on the p95 chart to its run.
    await page.locator("figure.chart").first().locator("svg.wide circle.point.fail").click();
    await page.waitForURL("**/runs/**");
    expect(await page.locator("h1 .badge").innerText()).toBe("FAIL");
    expect(await page.locator("#outcome").innerText()).toBe("thresholds_failed");
    const rows = await Promise.all(
      (await page.locator("#thresholds tbody tr").all()).map(async (row) =>
        (await row.locator("td").allTextContents()).map((cell) => cell.trim()),
      ),
    );
    expect(rows).toContainEqual(["http_req_failed", "rate<0.05", "fail", "20.83%"]);
    expect(rows).toContainEqual(["checks", "rate>0.95", "fail", "79.17%"]);
    // The slower release still kept its latency threshold: a pass row among the fails.
    const duration = rows.find((row) => row[0] === "http_req_duration");
    expect(duration?.slice(0, 3)).toEqual(["http_req_duration", "p(95)<1000", "pass"]);
    expect(Number.parseFloat(duration?.[3] ?? "")).toBeGreaterThanOrEqual(100);
    // Times in the browser's zone (test/dashboard/what-ran.test.ts), the UTC instant on hover.
    for (const id of ["queued-at", "started-at", "finished-at"]) {
      const time = page.locator(`#${id} time`);
      // `2026-12-07 14:03` in the browser's zone: year first, no locale reads another day.
      expect(await time.innerText(), id).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d$/);
      expect(await time.getAttribute("title"), id).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
      expect(await time.getAttribute("datetime"), id).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z$/);
    }
    await screenshot(page, "dashboard-failed-run");
  });

  it("shows a running run's output live, growing, and the run as running on /", async () => {
    const accepted = await postWebhook(
      stack.api.url,
      payloadOf({
        namespace: "shop",
        name: "live",
        checksum: "d41d8cd98f",
        metadata: { script: tickingScript(6), wait_for_results: "false" },
      }),
      { headers: { accept: "application/json" } },
    );
    expect(accepted.status).toBe(202);
    liveRunId = (JSON.parse(accepted.text) as { run: { id: string } }).run.id;

    await page.goto(`${stack.api.url}/runs/${encodeURIComponent(liveRunId)}`);
    const output = page.locator("#output");
    await expect.poll(() => output.textContent(), { timeout: 15_000 }).toContain("tick 1");
    const early = (await output.textContent())?.length ?? 0;
    expect(await page.locator("#live-state").innerText()).toContain("running");
    // What the page says beside the live progress: k6 is running, and Flagger was answered
    // 202 without a verdict (wait_for_results "false"), not "delivered: yes".
    expect(await page.locator("#k6-version").innerText()).toMatch(/^k6 is running/);
    expect(await page.locator("#delivered").innerText()).toMatch(/^accepted \(202/);

    const home = await browser.newPage();
    await home.goto(`${stack.api.url}/`);
    const liveRow = home.locator('tr[data-canary="shop/live"] td.num');
    // p95, errors, then running and queued.
    const runningQueued = (await liveRow.allInnerTexts()).slice(2);
    const apiView = await (await fetch(`${stack.api.url}/api/canaries`)).text();
    expect(runningQueued, apiView).toEqual(["1", "0"]);
    // Its last run is going now: said so, not "3s ago" as if it were done.
    const lastRun = await home.locator('tr[data-canary="shop/live"] td.last-run').innerText();
    expect(lastRun).toMatch(/^running · queued \d+s ago$/);
    await home.close();

    await expect.poll(() => output.textContent(), { timeout: 15_000 }).toContain("tick 3");
    expect((await output.textContent())?.length ?? 0).toBeGreaterThan(early);
    await screenshot(page, "dashboard-live-output");

    // When the verdict is in the page reloads itself with it.
    await expect
      .poll(() => page.locator("#outcome").textContent(), { timeout: 20_000 })
      .toBe("passed");
    expect(await output.textContent()).toContain("tick 5");
  });

  it("output containing <script> and onerror markup shows as text and runs nothing", async () => {
    // The page is the finished live run: rendered by the server this time.
    expect(page.url()).toContain(encodeURIComponent(liveRunId));
    const text = (await page.locator("#output").textContent()) ?? "";
    expect(text).toContain("<script>window.__xss=1</script>");
    expect(text).toContain("<img src=x onerror=window.__xss=2>");
    expect(await page.locator("#output *").count()).toBe(0);
    // A string, evaluated in the page: this file's TypeScript has no DOM types.
    expect(await page.evaluate("typeof window.__xss")).toBe("undefined");
    expect(await page.locator("img").count()).toBe(0);
    // Neither the live updates nor the final render tripped the CSP or threw.
    expect(injection).toEqual([]);
  });
});
