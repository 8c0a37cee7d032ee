import { table } from "../../bench/report";
import { summarize } from "../../bench/stats";
import { isInfrastructureFail } from "./invariants";
import { faultKinds, JOBLESS_BOUND_MS, type Check, type SoakReport } from "./model";

const seconds = (ms: number | null) => (ms === null ? "n/a" : `${(ms / 1000).toFixed(1)} s`);
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

/** "0: 3, 1: 41, 2: 2": how many checks had each count. */
function distribution(values: number[]): string {
  const counts = new Map<number, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return [...counts.entries()]
    .sort(([a], [b]) => a - b)
    .map(([value, count]) => `${value}: ${count}`)
    .join(", ");
}

function recoveryCell(samples: number[]): string {
  if (samples.length === 0) return "n/a";
  const summary = summarize(samples);
  return `${seconds(summary.median)} / ${seconds(summary.max)}`;
}

/** How a check's verdict came about, one line: for the lists of notable checks. */
const checkLine = (check: Check, report: SoakReport) => {
  // Calls without a verdict, by what Flagger's client said (URLs and ports left out).
  const said = [
    ...new Set(check.verdictless.map((text) => text.replace(/https?:\/\/\S+/g, "<api>"))),
  ];
  return `- ${check.id} (${check.kind}${check.kind === "long" ? ` ${check.seconds} s` : ""}): ${check.verdict ?? "no verdict"}${check.outcome ? ` (${check.outcome})` : ""}, k6 runs ${report.k6Runs[check.id] ?? 0}, faults ${check.hits.join(", ") || "none"}, ${check.calls} calls${said.length ? `; calls without a verdict: ${said.join(" | ")}` : ""}`;
};

/** The soak's report in Markdown: what ran, what was injected, what held. */
export function renderReport(report: SoakReport, replay: string): string {
  const { checks, faults, options } = report;
  const ended = checks.filter((check) => check.verdict !== null);
  const byKind = (["pass", "fail", "long"] as const).map((kind) => {
    const of = checks.filter((check) => check.kind === kind);
    const count = (verdict: Check["verdict"]) => of.filter((c) => c.verdict === verdict).length;
    const infra = of.filter(isInfrastructureFail).length;
    return [kind, of.length, count("pass"), count("fail"), infra, count(null)];
  });
  const kinds = faults.some((fault) => fault.kind === "spontaneous failover")
    ? [...faultKinds, "spontaneous failover" as const]
    : faultKinds;
  const faultRows = kinds.map((kind) => {
    const of = faults.filter((fault) => fault.kind === kind);
    const recoveries = of.flatMap((fault) => (fault.recoveryMs === null ? [] : [fault.recoveryMs]));
    return [
      kind,
      of.length,
      of.reduce((sum, fault) => sum + fault.hits.length, 0),
      recoveryCell(recoveries),
    ];
  });
  const hitChecks = checks.filter((check) => check.hits.length > 0);
  const k6Runs = checks.map((check) => report.k6Runs[check.id] ?? 0);
  const notable = checks.filter(
    (check) =>
      check.verdict === null || isInfrastructureFail(check) || (report.k6Runs[check.id] ?? 0) !== 1,
  );
  const calls = checks.map((check) => check.calls);
  const durations = ended.map((check) => (check.endedAt ?? 0) - check.startedAt);
  return [
    `Seed **${report.seed}**, started ${report.startedAt}, ${seconds(report.wallMs)} end to end ` +
      `(${seconds(options.durationMs)} of play and faults, then the last checks, the drain and the checks).`,
    "",
    `Replay: \`${replay}\`. The seed fixes every canary's scripts and Flagger settings and the chaos loop's faults (kinds, victims, signals, gaps); process timing still varies from run to run, so which checks a fault hits does too.`,
    "",
    "## Setup",
    "",
    table(
      ["", ""],
      [
        ["Redis", "Sentinel: a primary, 2 replicas, 3 sentinels (quorum 2), 127.0.0.1"],
        ["APIs", options.apis],
        ["workers", `${options.workers} x WORKER_CONCURRENCY ${options.workerConcurrency}`],
        [
          "canaries",
          `${options.canaries}, side by side, each revision after revision through Flagger's own webhook client`,
        ],
        [
          "scripts",
          `pass (3 requests to /ok), fail (3 to /fail: a threshold fails), long (1 request, then ${options.longSeconds[0]}-${options.longSeconds[1]} s of sleep; passes)`,
        ],
        [
          "fault gap",
          `${options.faultGapMs[0] / 1000}-${options.faultGapMs[1] / 1000} s, then a 0-1.5 s downtime before the restart`,
        ],
        ["check deadline", seconds(options.checkDeadlineMs)],
      ],
    ),
    "",
    "## Invariants",
    "",
    report.violations.length === 0
      ? "**No violation.**"
      : [
          `**${report.violations.length} violations:**`,
          "",
          ...report.violations.map((v) => `- ${v.invariant}: ${v.detail.replace(/\n/g, " / ")}`),
        ].join("\n"),
    "",
    table(
      ["invariant", "figure"],
      [
        ["every check ended", `${ended.length} of ${checks.length}`],
        [
          "verdicts that contradict their script",
          `${report.violations.filter((v) => v.invariant === "verdict matches the script").length}`,
        ],
        ["k6 runs per check (runs: checks)", distribution(k6Runs)],
        ["checks a fault hit (their allowance: 1 + faults)", `${hitChecks.length}`],
        ["k6 orphans", `${report.violations.filter((v) => v.invariant === "no k6 orphan").length}`],
        [
          "longest a run stayed counted as queued or running without a job",
          `${seconds(report.jobAudit.longestJoblessMs)} (${report.jobAudit.audits} audits, one a second; bound ${seconds(JOBLESS_BOUND_MS)})`,
        ],
        [
          "runs counted as queued or running after the last check",
          `${report.inFlightAtEnd}, drained in ${seconds(report.settleMs)}`,
        ],
        [
          "Redis used_memory",
          `${mib(report.redis.baselineBytes)} at start, peak ${mib(report.redis.peakBytes)}, end ${mib(report.redis.endBytes)}; bound ${mib(report.redis.boundBytes)}`,
        ],
      ],
    ),
    "",
    "## Redis memory",
    "",
    `used_memory grew by ${kib((report.redis.endBytes - report.redis.baselineBytes) / Math.max(1, checks.length))} per check over the soak. At the end, by kind of key (MEMORY USAGE, grouped as bench/redis-sizing.ts groups them):`,
    "",
    table(
      ["key kind", "bytes", "per check"],
      Object.entries(report.redis.byKind)
        .sort(([, a], [, b]) => b - a)
        .map(([kind, bytes]) => [
          `\`${kind}\``,
          kib(bytes),
          kib(bytes / Math.max(1, checks.length)),
        ]),
    ),
    "",
    "## Checks",
    "",
    table(["script", "checks", "pass", "fail", "of which infrastructure", "no verdict"], byKind),
    "",
    `Flagger calls per check: ${distribution(calls)} (a call is one \`CallWebhook\` with its retries; the next one is Flagger's next interval). ` +
      `Check duration (start to verdict): median ${seconds(summarize(durations).median)}, max ${seconds(summarize(durations).max)}.`,
    "",
    `Attempts recorded per check (k6-gate's run records, summed over the runs of its revision; 0: pruned by HISTORY_MAX_RUNS_PER_CANARY, 200, or lost with a failover): ${distribution(checks.map((check) => report.attempts[check.id] ?? 0))}.`,
    "",
    "## Faults",
    "",
    table(["kind", "injected", "checks hit", "recovery median / max"], faultRows),
    "",
    "Recovery: api, from the kill to the restarted process answering `/readyz`; worker, from the kill until every run it held was running again on a new attempt or judged (only faults that held runs); redis failover, from the primary's kill until every API reaches the new primary (`/readyz`). A failover's window (the checks it hits) lasts until one data server alone is primary, the one the sentinels name. A spontaneous failover is one the sentinels started on their own (`+switch-master` with no fault injected): a primary that missed their PINGs for `down-after-milliseconds`.",
    "",
    notable.length
      ? "Checks with something to note (no verdict, an infrastructure verdict, or other than one k6 run):"
      : "Every check ran k6 exactly once and got its script's verdict.",
    "",
    ...notable.map((check) => checkLine(check, report)),
    "",
    "### Timeline",
    "",
    table(
      ["#", "at", "fault", "victim", "hits", "recovery", "notes"],
      faults.map((fault) => [
        fault.id,
        seconds(fault.at),
        fault.kind,
        fault.victim,
        fault.hits.join(" ") || "-",
        seconds(fault.recoveryMs),
        fault.notes.join("; "),
      ]),
    ),
    "",
  ].join("\n");
}
