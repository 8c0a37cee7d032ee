import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RunStore, type RunResult } from "@k6-gate/shared";
import { ARTIFACTS, ROOT } from "@k6-gate/testkit/paths";
import { createRun, passedResult, specOf } from "@k6-gate/testkit/run-fixtures";
import { useStack } from "@k6-gate/testkit/use-stack";
import { launchChromium, watchForInjection } from "./chromium";

/**
 * The canary page with 60 revisions, checked on element geometry rather than by eye: no
 * two chart labels overlap (wide and at 360 px), the p(95)<500 threshold line sits where
 * the axis ticks put 500 ms, points carry their change from the previous revision, and
 * the last revision's regression is marked. It also makes the README's picture.
 */
const REVISIONS = 60;
const DOCS_IMAGE = join(ROOT, "docs", "images", "canary-page.png");
const checksumOf = (i: number) => (0x3a5f0000 + i * 40_503).toString(16).padStart(12, "0");
/** About 50 ms, the one before last exactly 50 and the last twice that: "+100%". */
const p95Of = (i: number) =>
  i === REVISIONS - 1 ? 100 : i === REVISIONS - 2 ? 50 : 46 + ((i * 7) % 9);
const LAST = checksumOf(REVISIONS - 1);

function resultOf(i: number): RunResult {
  const p95 = p95Of(i);
  const last = i === REVISIONS - 1;
  return {
    ...passedResult,
    ...(last && { verdict: "fail", outcome: "regressed", reason: "p95 regressed" }),
    thresholds: [
      { metric: "http_req_duration", expression: "p(95)<500", ok: true, observed: p95 },
      { metric: "http_req_failed", expression: "rate<0.01", ok: true, observed: 0 },
    ],
    metrics: {
      httpReqDurationAvg: p95 / 2,
      httpReqDurationP95: p95,
      httpReqFailedRate: i % 9 === 0 ? 0.002 : 0,
      iterations: 200,
      checksRate: 1,
    },
    ...(last && {
      comparison: {
        baselineRuns: 5,
        revisions: [55, 56, 57, 58, 54].map(checksumOf),
        entries: [
          {
            key: "http_req_duration:p(95)",
            observed: p95,
            baseline: 50,
            limit: "+20%",
            regressed: true,
          },
          { key: "http_req_failed:rate", observed: 0, baseline: 0, limit: null, regressed: false },
        ],
      },
    }),
  };
}

const stack = useStack({ workers: 0 });
let browser: Browser;

beforeAll(async () => {
  // Recorded as a worker records them (RunStore), one revision after another.
  const client = new Redis(stack.redis.url);
  const store = new RunStore(client, stack.env.QUEUE_PREFIX ?? "", {
    maxRunsPerCanary: 100,
    maxAgeMs: 86_400_000,
    maxOutputsPerCanary: 100,
  });
  const start = Date.now() - REVISIONS * 60_000;
  for (let i = 0; i < REVISIONS; i++) {
    const at = start + i * 60_000;
    const spec = specOf({ namespace: "shop", name: "checkout", checksum: checksumOf(i) });
    const run = await createRun(store, spec, at);
    const attemptToken = `attempt-${i}`;
    await store.start(run.id, { worker: "w1", attemptToken, now: at + 1000 });
    const finished = await store.finish(run.id, {
      result: resultOf(i),
      attemptToken,
      now: at + 31_000,
    });
    expect(finished.state).toBe("recorded");
  }
  client.disconnect();
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

interface Rect {
  left: number;
  top: number;
  right: number;
  bottom: number;
}
interface ChartGeometry {
  key: string;
  svg: Rect;
  texts: (Rect & { cls: string; text: string })[];
  ticks: { label: string; y: number }[];
  levels: { kind: string; value: number; y: number }[];
  points: { checksum: string; delta: string | null; cls: string; title: string }[];
  rings: number;
}

/** The visible chart of each figure (wide or narrow), measured in the page. */
const MEASURE = `(() => {
  const rect = (el) => { const r = el.getBoundingClientRect(); return { left: r.left, top: r.top, right: r.right, bottom: r.bottom }; };
  const midY = (el) => { const r = el.getBoundingClientRect(); return (r.top + r.bottom) / 2; };
  return [...document.querySelectorAll("figure.chart svg.plot")]
    .filter((svg) => svg.getBoundingClientRect().width > 0)
    .map((svg) => ({
      key: svg.closest("figure").dataset.key,
      svg: rect(svg),
      texts: [...svg.querySelectorAll("text")].map((t) => ({ ...rect(t), cls: t.getAttribute("class"), text: t.textContent })),
      ticks: [...svg.querySelectorAll("g.grid")].map((g) => ({ label: g.querySelector("text")?.textContent ?? "", y: midY(g.querySelector("line")) })),
      levels: [...svg.querySelectorAll("g.level > line")].map((line) => ({ kind: line.parentNode.classList[1], value: Number(line.parentNode.dataset.value), y: midY(line) })),
      points: [...svg.querySelectorAll("circle.point")].map((c) => ({ checksum: c.dataset.checksum, delta: c.dataset.delta ?? null, cls: c.getAttribute("class"), title: c.querySelector("title").textContent })),
      rings: svg.querySelectorAll("circle.regressed-mark").length,
    }));
})()`;

const overlaps = (a: Rect, b: Rect) =>
  Math.min(a.right, b.right) - Math.max(a.left, b.left) > 0 &&
  Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 0;

/** "200 ms", "1.5 s", "0.5%" as a number in the chart's unit (ms, or a 0–1 rate). */
function tickValue(label: string): number {
  const match = /^([\d.]+) ?(ms|s|%)$/.exec(label);
  if (!match) throw new Error(`tick label without a unit: ${JSON.stringify(label)}`);
  const n = Number(match[1]);
  return match[2] === "s" ? n * 1000 : match[2] === "%" ? n / 100 : n;
}

async function chartsAt(page: Page, width: number): Promise<ChartGeometry[]> {
  await page.setViewportSize({ width, height: 1000 });
  await page.goto(`${stack.api.url}/canaries/shop/checkout`);
  const charts = await page.evaluate<ChartGeometry[]>(MEASURE);
  expect(charts.map((c) => c.key)).toEqual([
    "http_req_duration:p(95)",
    "http_req_failed:rate",
    "checks:rate",
  ]);
  return charts;
}

describe.each([
  { name: "desktop", width: 1280 },
  { name: "phone", width: 360 },
])("canary page with $name width ($width px)", ({ width }) => {
  let page: Page;
  let injection: string[];
  let charts: ChartGeometry[];

  beforeAll(async () => {
    page = await browser.newPage();
    injection = watchForInjection(page);
    charts = await chartsAt(page, width);
  });
  afterAll(() => page?.close());

  it("draws every point, and no two labels overlap, each inside its chart at a readable size", () => {
    const texts = charts.flatMap((chart) => chart.texts.map((t) => ({ ...t, chart })));
    for (const chart of charts) expect(chart.points).toHaveLength(REVISIONS);
    for (const [i, a] of texts.entries()) {
      expect(a.bottom - a.top, a.text).toBeGreaterThanOrEqual(10);
      expect(a.left, a.text).toBeGreaterThanOrEqual(a.chart.svg.left - 0.5);
      expect(a.right, a.text).toBeLessThanOrEqual(a.chart.svg.right + 0.5);
      for (const b of texts.slice(i + 1)) {
        expect(overlaps(a, b), `"${a.text}" overlaps "${b.text}"`).toBe(false);
      }
    }
    // Thinned, but the axis says which revisions: the newest one always.
    const p95 = charts[0];
    const revisions = p95?.texts.filter((t) => t.cls === "revision").map((t) => t.text) ?? [];
    expect(revisions.length).toBeGreaterThanOrEqual(3);
    expect(revisions).toContain(LAST.slice(0, 10));
  });

  it("ticks are round values with units, evenly spaced, and the 500 ms threshold line sits at 500 ms", () => {
    const [p95, errors] = charts;
    const ticks = (p95?.ticks ?? []).map((t) => ({ value: tickValue(t.label), y: t.y }));
    expect(ticks.length).toBeGreaterThanOrEqual(3);
    const step = (ticks[1]?.value ?? 0) - (ticks[0]?.value ?? 0);
    expect(ticks[0]?.value).toBe(0);
    expect([1, 2, 2.5, 5].map((m) => m * 10 ** Math.floor(Math.log10(step)))).toContain(step);
    const first = ticks[0] ?? { value: 0, y: 0 };
    const last = ticks.at(-1) ?? first;
    const pxPerMs = (last.y - first.y) / (last.value - first.value);
    for (const tick of ticks) expect(tick.y).toBeCloseTo(first.y + tick.value * pxPerMs, 0);

    const threshold = p95?.levels.find((l) => l.kind === "threshold");
    expect(threshold?.value).toBe(500);
    expect(Math.abs((threshold?.y ?? 0) - (first.y + 500 * pxPerMs))).toBeLessThan(1);
    expect(p95?.texts.map((t) => t.text)).toContain("p(95)<500");
    // The error chart's limit is 1%, on a percent axis.
    expect(errors?.levels.find((l) => l.kind === "threshold")?.value).toBe(0.01);
    expect(errors?.ticks.every((t) => t.label.endsWith("%"))).toBe(true);
  });

  it("each point has its change from the previous revision; changes are shown where room allows", () => {
    const p95 = charts[0];
    const deltas = p95?.points.map((p) => p.delta) ?? [];
    expect(deltas[0]).toBeNull();
    expect(deltas.slice(1).every((d) => d !== null && /^[+-±][\d.]+%$/.test(d))).toBe(true);
    expect(deltas.at(-1)).toBe("+100%");
    expect(p95?.points.at(-1)?.title).toContain(`+100% vs ${checksumOf(REVISIONS - 2)}`);
    const shown = p95?.texts.filter((t) => t.cls.startsWith("delta")) ?? [];
    expect(shown.length).toBeGreaterThanOrEqual(2);
  });

  it("marks the regressed revision on its chart and draws the baseline it regressed from", () => {
    const [p95, errors] = charts;
    const regressed = p95?.points.filter((p) => p.cls.includes("regressed")) ?? [];
    expect(regressed.map((p) => p.checksum)).toEqual([LAST]);
    expect(regressed[0]?.title).toContain("regressed");
    expect(p95?.rings).toBe(1);
    expect(p95?.texts.find((t) => t.cls === "delta regressed")?.text).toBe("+100% regressed");
    expect(p95?.levels.find((l) => l.kind === "baseline")?.value).toBe(50);
    // Only p95 regressed: the error chart does not cry wolf.
    expect(errors?.rings).toBe(0);
  });

  it("fits the width (no sideways scroll) and the runs table says the change too", async () => {
    expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(width);
    const newest = page.locator(`#runs tbody tr`).first();
    expect(await newest.locator("td.regressed").innerText()).toBe("+100%");
    expect(injection).toEqual([]);
  });

  it("shows the regression on screen (the desktop one is the README's picture)", async () => {
    const path = join(ARTIFACTS, `dashboard-canary-regression-${width}px.png`);
    mkdirSync(ARTIFACTS, { recursive: true });
    // The charts and the newest runs, without 60 table rows: what the README shows.
    await page.screenshot({ path });
    if (width < 1000) return;
    // Refreshed on request (DOCS_SCREENSHOT=1), or made when missing: a test run leaves
    // the tracked picture alone.
    if (process.env.DOCS_SCREENSHOT === "1" || !existsSync(DOCS_IMAGE))
      copyFileSync(path, DOCS_IMAGE);
  });
});
