import { describe, expect, it } from "vitest";
import {
  derivedMaxDurationMs,
  parseExecutionRequirements,
  summaryTrendStats,
} from "../../apps/worker/src/k6/execution-requirements";
import { K6Log } from "../../apps/worker/src/k6/k6-log";
import { missingEvidence } from "../../apps/worker/src/k6/evidence";
import type { K6Exit } from "../../apps/worker/src/k6/k6-exit";
import { verdictOf } from "../../apps/worker/src/k6/verdict";
import { exitOf, findingsOf } from "./k6-exit";

/** Lines as k6 v2.2.0 writes them with `--log-format json` (captured from real runs). */
const k6Lines = {
  thrown:
    '{"executor":"shared-iterations","hint":"script exception","level":"error","msg":"GoError: the body is null so we can\'t transform it to JSON - this likely was because of a request error getting the response\\n\\tat reflect.methodValueCall (native)\\n\\tat default (file:///tmp/r/script.js:6:24(8))\\n","scenario":"default","source":"stacktrace","time":"2026-11-29T14:37:11Z"}',
  rejected:
    '{"executor":"shared-iterations","level":"error","msg":"Uncaught (in promise) TypeError: async boom\\n\\tat default (file:///tmp/r/script.js:2:67(8))\\n","scenario":"default","time":"2026-11-29T14:37:47Z"}',
  inSetup:
    '{"hint":"script exception","level":"error","msg":"Error: setup boom\\n\\tat setup (file:///tmp/r/script.js:2:33(3))\\n","source":"stacktrace","time":"2026-11-29T14:37:48Z"}',
  requestFailed:
    '{"error":"Get \\"http://127.0.0.1:9/x\\": dial tcp 127.0.0.1:9: connect: connection refused","level":"warning","msg":"Request Failed","time":"2026-11-29T14:37:11Z"}',
  consoleForgery:
    '{"level":"error","msg":"{\\"executor\\":\\"x\\",\\"hint\\":\\"script exception\\",\\"level\\":\\"error\\",\\"msg\\":\\"fake\\"}","source":"console","time":"2026-11-29T14:37:48Z"}',
  thresholdsCrossed:
    '{"level":"error","msg":"thresholds on metrics \'http_req_failed\' have been crossed","time":"2026-11-29T14:37:25Z"}',
};

function logOf(...chunks: string[]): K6Log {
  const log = new K6Log();
  for (const chunk of chunks) log.push(Buffer.from(chunk));
  log.end();
  return log;
}

describe("K6Log (k6's JSON log, read as it streams)", () => {
  it("counts thrown and rejected exceptions of iterations, nothing else", () => {
    const log = logOf(
      [
        k6Lines.requestFailed,
        k6Lines.thrown,
        k6Lines.consoleForgery,
        k6Lines.rejected,
        k6Lines.inSetup,
        "not json at all",
        "",
      ].join("\n"),
    );
    expect(log.interruptedIterations).toBe(2);
    expect(log.firstInterruption).toBe(
      "GoError: the body is null so we can't transform it to JSON - this likely was because of a request error getting the response",
    );
    expect(log.lastError).toBe("Error: setup boom");
  });

  it("reads lines split across chunks, and a last line without its newline", () => {
    const text = `${k6Lines.thrown}\n${k6Lines.rejected}`;
    const log = logOf(...(text.match(/[\s\S]{1,7}/g) ?? []));
    expect(log.interruptedIterations).toBe(2);
  });

  it("judges a line too long to keep on the fields before msg", () => {
    const huge = k6Lines.thrown.replace("GoError: the body", `Error: ${"x".repeat(200_000)}`);
    const log = logOf(huge.slice(0, 70_000), huge.slice(70_000), "\n", k6Lines.rejected, "\n");
    expect(log.interruptedIterations).toBe(2);
    expect(log.firstInterruption).toBe(`Error: ${"x".repeat(293)}`);
  });

  it("keeps the last error for the reason, but not k6's closing thresholds line", () => {
    expect(logOf(`${k6Lines.thrown}\n${k6Lines.thresholdsCrossed}\n`).lastError).toMatch(
      /^GoError: the body is null/,
    );
    expect(logOf(k6Lines.requestFailed).lastError).toBeNull();
  });
});

/** Metrics as k6 v2.2.0 exports them with `--summary-trend-stats avg,...,count`. */
const emptyMetricsExport = {
  checks: { passes: 0, fails: 0, value: 0, thresholds: { "rate>0.9": false } },
  "http_req_duration{scenario:nope}": {
    avg: 0,
    min: 0,
    med: 0,
    max: 0,
    "p(90)": 0,
    "p(95)": 0,
    count: 0,
    thresholds: { "p(95)<500": false },
  },
  errors: { count: 0, rate: 0, thresholds: { "count<1": false } },
  my_gauge: { value: 0, min: 0, max: 0, thresholds: { "value<1": false } },
};

describe("thresholds without samples", () => {
  it("are told from the export of an empty Rate and an empty Trend, not of a Counter or Gauge at 0", () => {
    const findings = findingsOf(emptyMetricsExport);
    expect(
      findings.unsampledThresholds.map((t) => `${t.metric} '${t.expression}' ${t.observed}`),
    ).toEqual(["checks 'rate>0.9' null", "http_req_duration{scenario:nope} 'p(95)<500' null"]);
  });

  it("are not reported for metrics with samples", () => {
    const findings = findingsOf({
      checks: { passes: 0, fails: 3, value: 0, thresholds: { "rate>0.9": true } },
      http_req_duration: {
        avg: 2,
        med: 2,
        count: 3,
        "p(99.9)": 4,
        thresholds: { "p(99.9)<9": false },
      },
    });
    expect(findings.unsampledThresholds).toEqual([]);
    expect(findings.thresholds.find((t) => t.metric === "http_req_duration")?.observed).toBe(4);
  });
});

const passedExit = (overrides: Partial<K6Exit> = {}): K6Exit =>
  exitOf(
    findingsOf({
      iterations: { count: 10, rate: 5 },
      checks: { passes: 10, fails: 0, value: 1, thresholds: { "rate>0.9": false } },
    }),
    overrides,
  );

describe("no pass without evidence (verdictOf)", () => {
  it("passes a k6 pass with completed iterations, samples and no exceptions", () => {
    const result = verdictOf(passedExit());
    expect(result).toMatchObject({ verdict: "pass", outcome: "passed" });
    expect(missingEvidence(passedExit())).toEqual([]);
  });

  it("fails when every iteration threw: k6 counts them in `iterations`", () => {
    const result = verdictOf(
      passedExit({
        findings: findingsOf({ iterations: { count: 12, rate: 6 }, ...emptyMetricsExport }),
        interruptedIterations: 12,
        firstInterruption: "TypeError: Cannot read property 'ok' of null",
      }),
    );
    expect(result.verdict).toBe("fail");
    expect(result.outcome).toBe("no_evidence");
    expect(result.reason).toBe(
      "no iteration completed (12 interrupted by exceptions: TypeError: Cannot read property 'ok' of null); " +
        "threshold checks 'rate>0.9' has no samples; " +
        "threshold http_req_duration{scenario:nope} 'p(95)<500' has no samples",
    );
  });

  it("fails when no iteration ran at all (no `iterations` metric)", () => {
    const result = verdictOf(passedExit({ findings: findingsOf({ vus: { value: 1 } }) }));
    expect(result.outcome).toBe("no_evidence");
    expect(result.reason).toBe("no iteration completed");
  });

  it("fails when k6's metric stream is missing or holds a line k6 did not write", () => {
    const result = verdictOf(passedExit({ findings: undefined }));
    expect(result.outcome).toBe("no_evidence");
    expect(result.reason).toBe(
      "k6's metric stream is missing or holds what k6 does not write, so nothing shows what it measured",
    );
  });

  it("allows exceptions up to max_interrupted_iterations, and no more", () => {
    const threw = { interruptedIterations: 3, firstInterruption: "SyntaxError: bad JSON" };
    expect(verdictOf(passedExit({ ...threw, maxInterruptedIterations: 5 })).outcome).toBe("passed");
    expect(verdictOf(passedExit({ ...threw, maxInterruptedIterations: 3 })).outcome).toBe("passed");
    const refused = verdictOf(passedExit({ ...threw, maxInterruptedIterations: 2 }));
    expect(refused.outcome).toBe("no_evidence");
    expect(refused.reason).toBe(
      "3 iterations interrupted by exceptions (max_interrupted_iterations 2): SyntaxError: bad JSON",
    );
    expect(
      verdictOf(passedExit({ interruptedIterations: 1, firstInterruption: null })).reason,
    ).toBe("1 iteration interrupted by exceptions (max_interrupted_iterations 0)");
  });

  it("leaves k6's own failures as they are", () => {
    const result = verdictOf(passedExit({ exitCode: 99, findings: undefined }));
    expect(result.outcome).toBe("thresholds_failed");
  });

  it("says where a derived time limit came from", () => {
    const result = verdictOf(
      passedExit({ timedOut: true, maxDurationMs: 152_000, scriptDurationMs: 32_000 }),
    );
    expect(result.reason).toBe(
      "run exceeded its max duration of 2m32s (the script's 32s of scenarios plus margin) and was stopped",
    );
  });
});

describe("k6 inspect --execution-requirements", () => {
  const inspected = (fields: Record<string, unknown>) =>
    parseExecutionRequirements(
      JSON.stringify({
        setupTimeout: null,
        teardownTimeout: null,
        thresholds: null,
        totalDuration: "32s",
        maxVUs: 1,
        ...fields,
      }),
    );

  it("gives the scenarios' duration, k6's setup/teardown timeouts and the thresholds", () => {
    expect(
      inspected({
        totalDuration: "1m30s",
        setupTimeout: "5s",
        thresholds: { checks: ["rate>0.9"], http_req_duration: [{ threshold: "p(99.9)<300" }] },
      }),
    ).toEqual({
      scenariosMs: 90_000,
      setupTimeoutMs: 5_000,
      teardownTimeoutMs: 60_000,
      thresholds: [
        { metric: "checks", expression: "rate>0.9" },
        { metric: "http_req_duration", expression: "p(99.9)<300" },
      ],
      plan: { totalDuration: "1m30s", maxVUs: 1, scenarios: [] },
    });
    expect(parseExecutionRequirements("not json")).toBeUndefined();
    expect(inspected({ totalDuration: "0s" })).toBeUndefined();
  });

  it("derives the time limit: k6's own limits plus half the scenarios (at least 1m), capped", () => {
    const short = inspected({ totalDuration: "2s" });
    const long = inspected({ totalDuration: "10m30s" });
    if (!short || !long) throw new Error("not read");
    expect(derivedMaxDurationMs(short, 30 * 60_000)).toBe(2_000 + 120_000 + 60_000);
    expect(derivedMaxDurationMs(long, 30 * 60_000)).toBe(630_000 + 120_000 + 315_000);
    expect(derivedMaxDurationMs(long, 10 * 60_000)).toBe(600_000);
  });

  it("asks for count and every percentile a threshold reads", () => {
    expect(summaryTrendStats(["p(99.9)<300", "p(95)<200", "avg<100", "rate>0.9"])).toBe(
      "avg,min,med,max,p(90),p(95),count,p(99.9)",
    );
  });
});
