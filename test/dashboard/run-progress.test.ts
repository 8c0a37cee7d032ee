import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDuration } from "@k6-gate/shared";
import { waitFor } from "@k6-gate/testkit/wait";
import { payloadOf, postWebhook } from "@k6-gate/testkit/webhook";
import { useStack } from "@k6-gate/testkit/use-stack";
import { launchChromium, screenshot, watchForInjection } from "./chromium";

/**
 * A run's progress while it runs: its page shows k6's time so far against the script's
 * expected time, with VUs and iterations, updating in place; a 503 says "running Ns of ~Ms"
 * and its Retry-After is the time left.
 */
const twentySeconds = (port: number) => `import http from 'k6/http';
import { sleep } from 'k6';

export const options = { vus: 1, duration: '20s' };

export default function () {
  http.get('http://127.0.0.1:${port}/ok');
  sleep(1);
}
`;

const stack = useStack();
let browser: Browser;
let page: Page;
let runId: string;

const call = (metadata: Record<string, string>, accept?: string) =>
  postWebhook(
    stack.api.url,
    payloadOf({
      namespace: "shop",
      name: "progress",
      checksum: "9e107d9d37",
      metadata: { script: twentySeconds(stack.target.port), ...metadata },
    }),
    accept ? { headers: { accept } } : {},
  );

/** "8.1s" -> 8100, "~20s" -> 20000. */
const msOf = (text: string): number => {
  const ms = parseDuration(text.replace(/^~/, ""));
  if (ms === undefined) throw new Error(`not a duration: ${text}`);
  return ms;
};

/** The page's figures as it shows them now. */
async function figures() {
  return {
    elapsedMs: msOf(await page.locator("#progress-elapsed").innerText()),
    expected: await page.locator("#progress-expected").innerText(),
    vus: await page.locator("#progress-vus").innerText(),
    iterations: Number(await page.locator("#progress-iterations").innerText()),
  };
}

beforeAll(async () => {
  const accepted = await call({ wait_for_results: "false" }, "application/json");
  expect(accepted.status, accepted.text).toBe(202);
  runId = (JSON.parse(accepted.text) as { run: { id: string } }).run.id;
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

describe("progress of a running run", () => {
  it("the run page shows elapsed of ~20s expected advancing, with VUs and iterations", async () => {
    const injection = watchForInjection(page);
    await page.goto(`${stack.api.url}/runs/${encodeURIComponent(runId)}`);
    const progress = page.locator("#run-progress");
    // k6 has run a moment and printed its first progress line.
    const first = await waitFor(
      "the run's progress with k6's first figures",
      async () =>
        (await progress.isVisible()) && (await page.locator("#progress-load").isVisible())
          ? figures()
          : undefined,
      { timeoutMs: 30_000, everyMs: 200 },
    );
    expect(first.expected).toBe("~20s");
    expect(first.vus).toMatch(/^[01]\/1$/);
    expect(await page.locator("#progress-expected-from").innerText()).toBe("(from the script)");
    const bar = page.getByRole("progressbar", { name: "Progress" });
    expect(await bar.getAttribute("max")).toBe("20000");

    // The same page, not reloaded: the figures update with the live output.
    const later = await waitFor(
      "elapsed to advance by a second and an iteration to complete",
      async () => {
        const now = await figures();
        return now.elapsedMs >= first.elapsedMs + 1000 && now.iterations > first.iterations
          ? now
          : undefined;
      },
      { timeoutMs: 15_000, everyMs: 200 },
    );
    expect(later.expected).toBe("~20s");
    expect(later.elapsedMs).toBeLessThan(20_000 + 5_000);
    expect(Number(await bar.getAttribute("value"))).toBeGreaterThan(first.elapsedMs);
    expect(await bar.getAttribute("aria-valuetext")).toMatch(/ of about 20s$/);
    await screenshot(page, "dashboard-run-progress");
    expect(injection).toEqual([]);
  });

  it("a 503 past wait_timeout says `running Ns of ~20s`, with Retry-After the time left", async () => {
    const text = await call({ wait_timeout: "1s" });
    expect(text.status, text.text).toBe(503);
    const lines = text.text.split("\n");
    const match = /is running (\S+) of ~20s; retry to get its verdict$/.exec(lines[0] ?? "");
    expect(match, lines[0]).not.toBeNull();
    const elapsedMs = msOf(match?.[1] ?? "");
    const retryAfter = Number(text.headers.get("retry-after"));
    // Seconds left of the expected 20, bounded to 1..30 (and a second passes between the two).
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(Math.abs(retryAfter - Math.ceil((20_000 - elapsedMs) / 1000))).toBeLessThanOrEqual(1);
    expect(lines).toContainEqual(
      expect.stringMatching(/^- k6: [01]\/1 VUs, \d+ iterations complete, 0 interrupted$/),
    );

    const json = await call({ wait_timeout: "1s" }, "application/json");
    expect(json.status).toBe(503);
    const body = JSON.parse(json.text) as {
      state: string;
      expected: number;
      progress: { elapsedMs: number; expectedMs: number; expectedFrom: string; maxVUs: number };
    };
    expect(body).toMatchObject({
      state: "running",
      expected: 20_000,
      progress: { expectedMs: 20_000, expectedFrom: "script", maxVUs: 1 },
    });
    expect(body.progress.elapsedMs).toBeGreaterThan(elapsedMs);

    // The run's own JSON carries the same progress.
    const run = (await (await fetch(`${stack.api.url}/api/runs/${runId}`)).json()) as {
      progress: { expectedMs: number } | null;
    };
    expect(run.progress?.expectedMs).toBe(20_000);
  });

  it("once judged the page shows the verdict and no progress", async () => {
    await expect
      .poll(() => page.locator("#outcome").textContent(), { timeout: 40_000 })
      .toBe("passed");
    expect(await page.locator("#run-progress").count()).toBe(0);
    // k6's progress lines stayed out of the stored output; its summary did not.
    const { output } = (await (
      await fetch(`${stack.api.url}/api/runs/${runId}/output`)
    ).json()) as {
      output: string;
    };
    expect(output).toContain("TOTAL RESULTS");
    expect(output).not.toMatch(/^running \(/m);
  }, 60_000);
});
