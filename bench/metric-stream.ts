import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildK6Environment } from "../apps/worker/src/k6/environment";
import { findingsOf } from "../apps/worker/src/k6/findings";
import { runK6 } from "../apps/worker/src/k6/run-k6";
import { K6_BIN } from "@k6-gate/testkit/paths";
import { cpuOf } from "./proc";
import { codeBlock, table, type Section } from "./report";
import { quantile } from "./stats";

/**
 * What judging on k6's metric stream costs (decision 37): k6 serialises every sample, and
 * the worker parses and aggregates them. The heaviest case a gate sees: 10 VUs requesting
 * as fast as 127.0.0.1 answers for 5 s, with a threshold on a sub-metric. Each way 3 times,
 * interleaved; k6's CPU is its reaped time, the worker's is this process's own.
 */
const SECONDS = 5;
const ROUNDS = 3;

const script = (port: number) => `
import http from 'k6/http';
export const options = {
  vus: 10, duration: '${SECONDS}s',
  thresholds: { http_req_duration: ['p(95)<500'], 'http_req_duration{status:200}': ['p(99)<800'] },
};
export default function () { http.get('http://127.0.0.1:${port}/ok'); }
`;

interface Round {
  requests: number;
  k6CpuMs: number;
  workerCpuMs: number;
}

/** k6 as it was run before the stream: a summary file, no output. */
async function summaryFileRun(text: string): Promise<Round> {
  const runDir = await mkdtemp(join(tmpdir(), "k6-gate-bench-stream-"));
  try {
    await writeFile(join(runDir, "script.js"), text, { mode: 0o600 });
    const before = cpuOf(process.pid).children;
    const child = spawn(
      K6_BIN,
      ["run", "--quiet", "--no-color", "--summary-export", "summary.json", "script.js"],
      {
        cwd: runDir,
        env: buildK6Environment({ runDir, envVars: {}, secrets: {} }),
        stdio: "ignore",
      },
    );
    await new Promise((resolve, reject) => {
      child.once("error", reject);
      child.once("close", resolve);
    });
    const summary = JSON.parse(await readFile(join(runDir, "summary.json"), "utf8")) as {
      metrics: { http_reqs?: { count?: number } };
    };
    return {
      requests: summary.metrics.http_reqs?.count ?? 0,
      k6CpuMs: cpuOf(process.pid).children - before,
      workerCpuMs: 0,
    };
  } finally {
    await rm(runDir, { recursive: true, force: true });
  }
}

/** The worker's way: runK6 with its FIFO, then the findings the verdict reads. */
async function streamRun(text: string): Promise<Round> {
  const before = cpuOf(process.pid).children;
  const usage = process.cpuUsage();
  const outcome = await runK6({
    k6Bin: K6_BIN,
    script: text,
    env: (runDir) => buildK6Environment({ runDir, envVars: {}, secrets: {} }),
    maxDurationMs: 60_000,
    maxRunDurationMs: 60_000,
    killGraceMs: 2000,
    tmpRoot: tmpdir(),
    outputMaxBytes: 64 * 1024,
    pdeathsig: false,
    signal: new AbortController().signal,
  });
  const findings = findingsOf(outcome, []);
  const spent = process.cpuUsage(usage);
  if (!findings) throw new Error("no findings from the stream");
  return {
    requests: findings.http?.requests ?? 0,
    k6CpuMs: cpuOf(process.pid).children - before,
    workerCpuMs: (spent.user + spent.system) / 1000,
  };
}

/**
 * A target in a process of its own, so this process's CPU is the worker's work alone (and
 * the target, reaped only at the end, never counts as k6's).
 */
async function targetProcess(): Promise<{ port: number; stop: () => void }> {
  const child = spawn(
    process.execPath,
    [
      "-e",
      "require('node:http').createServer((q, s) => s.end('ok')).listen(0, '127.0.0.1', function () { console.log(this.address().port); });",
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    child.once("error", reject);
    child.stdout.once("data", (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
  });
  return { port, stop: () => child.kill("SIGKILL") };
}

export async function metricStream(): Promise<Section> {
  const target = await targetProcess();
  const text = script(target.port);
  const file: Round[] = [];
  const stream: Round[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      file.push(await summaryFileRun(text));
      stream.push(await streamRun(text));
    }
  } finally {
    target.stop();
  }
  const median = (rounds: Round[], pick: (round: Round) => number) =>
    quantile(rounds.map(pick), 0.5);
  const row = (name: string, rounds: Round[]) => {
    const requests = median(rounds, (r) => r.requests);
    const k6Cpu = median(rounds, (r) => r.k6CpuMs);
    const workerCpu = median(rounds, (r) => r.workerCpuMs);
    return [
      name,
      Math.round(requests / SECONDS),
      `${(k6Cpu / requests).toFixed(3)} ms`,
      workerCpu ? `${(workerCpu / requests).toFixed(3)} ms` : "–",
    ];
  };
  return {
    title: "k6's metric stream: what judging on k6's own samples costs",
    body: [
      `10 VUs request a target on 127.0.0.1 (a process of its own) as fast as it answers for ${SECONDS} s, median of ${ROUNDS} interleaved rounds each way: k6 with the summary file k6-gate used to read, and k6 as the worker now runs it (\`--out json\` into its FIFO, parsed and aggregated by the worker, a sub-metric and its percentiles included). CPU per request: k6's own, and the worker's for reading the stream. On 2 cores k6, the target and the worker compete, so requests/s falls when either side spends more.`,
      table(
        ["k6 run", "requests/s", "k6 CPU per request", "worker CPU per request"],
        [
          row("--summary-export (before)", file),
          row("--out json=<fifo> + MetricStream (now)", stream),
        ],
      ),
      codeBlock("npx tsx bench/main.ts stream"),
    ].join("\n\n"),
    targets: [],
  };
}
