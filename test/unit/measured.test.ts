import { describe, expect, it } from "vitest";
import { CANARY_K6_SETTINGS, k6SettingProblem } from "@k6-gate/shared";
import { findingsOf } from "../../apps/worker/src/k6/findings";
import { MetricStream } from "../../apps/worker/src/k6/metric-stream";
import { deadTargetOf } from "../../apps/worker/src/k6/evidence";
import { testDigest } from "../../apps/worker/src/regression";

/** Lines as k6 v2.2.0's JSON output writes them. */
const metricLine = (metric: string, type: string, thresholds: string[] = []) =>
  JSON.stringify({
    type: "Metric",
    data: { name: metric, type, contains: "default", thresholds, submetrics: null },
    metric,
  });
const point = (metric: string, value: number, tags: Record<string, string> = {}, second = 0) =>
  JSON.stringify({
    metric,
    type: "Point",
    data: { time: `2026-12-07T10:00:0${second}Z`, value, tags },
  });

/** One HTTP request of k6: its count, duration and failure, tagged with its status. */
const request = (durationMs: number, status: string, second = 0) => [
  point("http_reqs", 1, { status }, second),
  point("http_req_duration", durationMs, { status }, second),
  point("http_req_failed", status === "200" ? 0 : 1, { status }, second),
];

function streamOf(lines: string[], keys: string[] = []): MetricStream {
  const stream = new MetricStream();
  stream.keep(keys);
  // Split anywhere, as a pipe delivers it.
  const text = `${lines.join("\n")}\n`;
  for (let at = 0; at < text.length; at += 37) stream.push(text.slice(at, at + 37));
  stream.end();
  return stream;
}

const thresholds = [
  { metric: "http_req_duration", expression: "p(95)<300" },
  { metric: "http_req_duration{status:200}", expression: "p(90)<50" },
];
const header = [
  metricLine("http_reqs", "counter"),
  metricLine("http_req_duration", "trend", ["p(95)<300"]),
  metricLine("http_req_failed", "rate"),
];

describe("what k6 measured, from its metric stream", () => {
  it("computes k6's percentiles and sub-metrics, and judges thresholds on them", () => {
    const durations = [10, 20, 30, 40, 1000];
    const stream = streamOf(
      [
        ...header,
        ...durations.flatMap((ms, i) => request(ms, i === 4 ? "500" : "200", i)),
        point("iterations", 1),
      ],
      thresholds.map((t) => t.metric),
    );
    const findings = findingsOf(
      { measured: { from: "stream", stream }, declaredThresholds: thresholds, exitCode: 99 },
      [],
    );
    // k6's TrendSink.P: 0.95 * 4 = 3.8 -> 40 + (1000 - 40) * 0.8.
    expect(findings?.metrics.httpReqDurationP95).toBeCloseTo(808);
    expect(findings?.thresholds.map(({ metric, ok, observed }) => [metric, ok, observed])).toEqual([
      ["http_req_duration", false, findings?.metrics.httpReqDurationP95],
      // k6's P(0.9) of 10, 20, 30, 40: 0.9 * 3 = 2.7 -> 30 + 10 * 0.7.
      ["http_req_duration{status:200}", true, 37],
    ]);
    expect(findings?.metrics.httpReqFailedRate).toBe(0.2);
    expect(findings?.http).toEqual({ requests: 5, withStatus: 5, noResponse: 0, serverErrors: 1 });
    expect(findings?.thresholdMismatches).toEqual([]);
  });

  it("judges a Rate's rate, a Counter's count and a Gauge's value as k6 reads them", () => {
    const declared = [
      { metric: "http_req_failed", expression: "rate<0.01" },
      { metric: "http_reqs", expression: "count>=3" },
      { metric: "vus", expression: "value<2" },
    ];
    const stream = streamOf(
      [
        ...header,
        metricLine("vus", "gauge"),
        ...request(5, "503"),
        ...request(5, "200"),
        ...request(5, "200"),
        point("vus", 1),
      ],
      declared.map((t) => t.metric),
    );
    const findings = findingsOf(
      { measured: { from: "stream", stream }, declaredThresholds: declared, exitCode: 99 },
      [],
    );
    expect(findings?.thresholds.map(({ metric, ok, observed }) => [metric, ok, observed])).toEqual([
      ["http_req_failed", false, 1 / 3],
      ["http_reqs", true, 3],
      ["vus", true, 1],
    ]);
  });

  it("says a threshold has no samples, and judges an empty custom counter on 0", () => {
    const declared = [
      { metric: "http_req_duration{status:201}", expression: "p(95)<300" },
      { metric: "server_errors", expression: "count<1" },
    ];
    const stream = streamOf(
      [...header, ...request(10, "200")],
      declared.map((t) => t.metric),
    );
    const findings = findingsOf(
      { measured: { from: "stream", stream }, declaredThresholds: declared, exitCode: 0 },
      [],
    );
    expect(findings?.unsampledThresholds.map((t) => t.metric)).toEqual([
      "http_req_duration{status:201}",
    ]);
    expect(findings?.thresholds.find((t) => t.metric === "server_errors")).toMatchObject({
      ok: true,
      observed: 0,
    });
  });

  it("finds no evidence in a stream with a line k6 does not write", () => {
    const forged = streamOf([...header, '{"metrics":{"http_req_duration":{"p(95)":9}}}']);
    expect(forged.problem).toBe("a line that is not one of k6's metric or sample lines");
    expect(
      findingsOf(
        { measured: { from: "stream", stream: forged }, declaredThresholds: [], exitCode: 0 },
        [],
      ),
    ).toBe(undefined);
  });

  it("names thresholds k6 judged that the script does not declare", () => {
    const stream = streamOf([metricLine("http_req_duration", "trend", ["p(95)<99999"])]);
    const findings = findingsOf(
      {
        measured: { from: "stream", stream },
        declaredThresholds: thresholds.slice(0, 1),
        exitCode: 0,
      },
      [],
    );
    expect(findings?.thresholdMismatches).toEqual([
      "k6 judged http_req_duration on [p(95)<99999], the script declares [p(95)<300]",
    ]);
  });
});

describe("evidence of a live target", () => {
  const answers = (lines: string[]) => {
    const findings = findingsOf(
      {
        measured: { from: "stream", stream: streamOf([...header, ...lines]) },
        declaredThresholds: [],
        exitCode: 0,
      },
      [],
    );
    if (!findings) throw new Error("no findings");
    return deadTargetOf(findings);
  };

  it("fails refused connections, all-5xx answers and a mix of both; passes one good answer", () => {
    expect(answers([...request(0, "0"), ...request(0, "0")])).toBe(
      "no HTTP request got a response (2 requests: connection refused, reset or timed out)",
    );
    expect(answers(request(5, "503"))).toBe("every HTTP response was a 5xx (1 request)");
    expect(answers([...request(0, "0"), ...request(5, "502")])).toContain(
      "1 without response, 1 5xx",
    );
    expect(answers([...request(0, "0"), ...request(5, "200")])).toBeUndefined();
  });

  it("falls back on http_req_failed when the script dropped the status tag", () => {
    expect(answers([point("http_reqs", 1), point("http_req_failed", 1)])).toBe(
      "every HTTP request failed (http_req_failed 100% of 1 request)",
    );
  });
});

describe("k6 settings a canary may set", () => {
  it("allows the listed ones and a canary's own variables, and names every other", () => {
    expect(k6SettingProblem("K6_VUS")).toBeUndefined();
    expect(k6SettingProblem("TARGET")).toBeUndefined();
    for (const name of ["K6_THRESHOLDS", "K6_CONFIG", "K6_SUMMARY_EXPORT", "K6_FUTURE_SETTING"]) {
      expect(k6SettingProblem(name)).toContain(`${name} is not one of the k6 settings`);
    }
    expect(Object.keys(CANARY_K6_SETTINGS).every((name) => name.startsWith("K6_"))).toBe(true);
  });
});

describe("the test a baseline belongs to", () => {
  const run = {
    script: `import http from 'k6/http';\nexport default function () { http.get(__ENV.TARGET); }\n`,
    envVars: { TARGET: "http://podinfo-canary.test:9898/" },
    kubernetesSecrets: {},
  };

  it("is kept by comments, formatting and quote style", () => {
    const restyled = {
      ...run,
      script: `// smoke test\nimport http from "k6/http";\n\nexport default function () {\n  http.get(__ENV.TARGET); /* the canary */\n}\n`,
    };
    expect(testDigest(restyled)).toBe(testDigest(run));
  });

  it("changes with the load, the target or the script's code", () => {
    const digest = testDigest(run);
    expect(testDigest({ ...run, envVars: { ...run.envVars, K6_VUS: "10" } })).not.toBe(digest);
    expect(testDigest({ ...run, envVars: { TARGET: "http://podinfo.test:9898/" } })).not.toBe(
      digest,
    );
    expect(testDigest({ ...run, script: run.script.replace("TARGET", "OTHER") })).not.toBe(digest);
  });
});
