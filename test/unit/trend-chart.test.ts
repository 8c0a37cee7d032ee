import { describe, expect, it } from "vitest";
import type { RunRecord } from "@k6-gate/shared";
import {
  baselineLevel,
  chartMetrics,
  p95Chart,
  type ChartMetric,
  type ChartPoint,
} from "../../apps/api/src/dashboard/chart-data";
import { chartLayout, NARROW, WIDE } from "../../apps/api/src/dashboard/chart-layout";
import { passedResult } from "@k6-gate/testkit/run-fixtures";

/** The canary page's trend charts: where the y axis ends, and how the baseline line is named. */
const errorRate = chartMetrics.find((c) => c.metric === "http_req_failed") as ChartMetric;

const pointsOf = (values: number[]): ChartPoint[] =>
  values.map((value, i) => ({
    runId: `run-${i}`,
    checksum: `rev${i}`,
    verdict: "fail",
    value,
    previous: null,
    regressed: false,
  }));

/** The top tick's value, for the wide and the narrow drawing. */
const tops = (chart: ChartMetric, values: number[]) =>
  [WIDE, NARROW].map((size) => {
    const layout = chartLayout(chart, pointsOf(values), [], null, size);
    const top = layout.ticks.at(-1);
    return top?.label?.text;
  });

describe("the error-rate axis", () => {
  it("ends at 100% when every request failed, never above (it drew 150%)", () => {
    expect(tops(errorRate, [0, 1])).toEqual(["100%", "100%"]);
    expect(tops(errorRate, [0.97, 0.99])).toEqual(["100%", "100%"]);
  });

  it("ends at a round bound above the data, for any rate up to 100%", () => {
    expect(tops(errorRate, [0.002, 0.004])).toEqual(["0.6%", "0.6%"]);
    expect(tops(errorRate, [0.3])).toEqual(["40%", "40%"]);
    for (let percent = 1; percent <= 100; percent++) {
      for (const top of tops(errorRate, [0, percent / 100])) {
        const shown = Number(top?.replace("%", ""));
        expect(shown, `data at ${percent}%`).toBeGreaterThanOrEqual(percent);
        expect(shown, `data at ${percent}%`).toBeLessThanOrEqual(100);
      }
    }
  });

  it("a latency axis keeps its headroom: 1 s of data gets a 1.5 s top", () => {
    expect(tops(p95Chart, [900, 1000])).toEqual(["1.5 s", "1.5 s"]);
  });
});

describe("the baseline line", () => {
  /** Only what baselineLevel reads: the latest run's comparison. */
  const latestWith = (baselineRuns: number) => {
    const latest: Pick<RunRecord, "result"> = {
      result: {
        ...passedResult,
        comparison: {
          baselineRuns,
          revisions: [],
          entries: [
            {
              key: "http_req_duration:p(95)",
              observed: 60,
              baseline: 50,
              limit: null,
              regressed: false,
            },
          ],
        },
      },
    };
    return latest as RunRecord;
  };

  it("says revision for one and revisions for more", () => {
    expect(baselineLevel(latestWith(1), p95Chart)?.title).toBe(
      "baseline 50 ms: median of the last 1 passed revision",
    );
    expect(baselineLevel(latestWith(5), p95Chart)?.title).toBe(
      "baseline 50 ms: median of the last 5 passed revisions",
    );
  });
});
