import { execFileSync, spawn } from "node:child_process";
import {
  chmodSync,
  chownSync,
  closeSync,
  constants,
  mkdtempSync,
  openSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { K6_BIN, ROOT, TOOLS_BIN } from "@k6-gate/testkit/paths";
import { freePort } from "@k6-gate/testkit/ports";
import { specOf } from "@k6-gate/testkit/run-fixtures";
import { startTarget, type Target } from "@k6-gate/testkit/target";
import { loadWorkerConfig, OUTPUT_MAX_BYTES } from "../../apps/worker/src/config";
import { outcomeOfPodLog, POD_RESULT_MARK } from "../../apps/worker/src/k6/pod-result";
import type { K6Runner } from "../../apps/worker/src/k6/runner";
import { podInputOf, type PodInput } from "../../apps/worker/src/pod/pod-input";
import { createProcessor } from "../../apps/worker/src/processor";
import { noSecrets } from "../../apps/worker/src/secrets";

/**
 * The runner pod's side of the Job runner (issue 33), without Kubernetes: `k6-gate
 * pod-run` as the pod runs it (root, k6 as 65534), its stdout read as the worker reads the
 * pod's log. The same runs judged through it and through the process runner agree, and a
 * script can neither read the runner's environment nor add a line to its stdout.
 */

const POD_MAIN = join(ROOT, "apps", "worker", "src", "pod", "main.ts");
const asRoot = process.getuid?.() === 0;
const work = mkdtempSync(join(tmpdir(), "k6-gate-pod-run-test-"));
chmodSync(work, 0o711);
let target: Target;
let deadPort: number;

beforeAll(async () => {
  target = await startTarget();
  deadPort = await freePort();
});
afterAll(async () => {
  await target.close();
  rmSync(work, { recursive: true, force: true });
});

let runs = 0;
/**
 * `k6-gate pod-run <file>` as a runner pod starts it (as root here; `asUser`: as that
 * user instead): its stdout and exit code. `files` gets the paths of its input file and of
 * a file holding its pid, written as it starts (before k6 can start).
 */
async function podRun(
  input: PodInput | ((files: { run: string; pid: string }) => PodInput),
  { env = {}, asUser }: { env?: Record<string, string>; asUser?: number } = {},
) {
  const dir = mkdtempSync(join(work, "run-"));
  const files = { run: join(dir, "run.json"), pid: join(dir, "pid") };
  writeFileSync(files.run, JSON.stringify(typeof input === "function" ? input(files) : input), {
    mode: 0o600,
  });
  // Its TMPDIR, where run directories go: others may pass through, as in a pod's /tmp.
  chmodSync(dir, 0o711);
  if (asUser !== undefined) chownSync(dir, asUser, asUser);
  if (asUser !== undefined) chownSync(files.run, asUser, asUser);
  const user =
    asUser === undefined
      ? []
      : ["setpriv", "--reuid", `${asUser}`, "--regid", `${asUser}`, "--clear-groups"];
  const [command = "", ...args] = [
    ...user,
    process.execPath,
    "--import",
    "tsx",
    POD_MAIN,
    files.run,
  ];
  // Its stdout a FIFO, as a container runtime gives it (a socket, as Node gives children,
  // cannot be opened through /proc/<pid>/fd).
  const fifo = join(dir, "stdout");
  execFileSync("mkfifo", [fifo]);
  if (asUser !== undefined) chownSync(fifo, asUser, asUser);
  const reader = new Socket({
    fd: openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK),
    readable: true,
    writable: false,
  });
  const chunks: Buffer[] = [];
  reader.on("data", (chunk: Buffer) => chunks.push(chunk));
  const drained = new Promise((resolve) => reader.once("close", resolve));
  const writer = openSync(fifo, constants.O_WRONLY);
  const child = spawn(command, args, {
    cwd: ROOT,
    // The image's k6 is on PATH; here the one `make` built.
    env: { PATH: `${TOOLS_BIN}:${process.env.PATH ?? ""}`, HOME: dir, TMPDIR: dir, ...env },
    stdio: ["ignore", writer, "pipe"],
  });
  closeSync(writer);
  writeFileSync(files.pid, `${child.pid}`, { mode: 0o644 });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", resolve);
  });
  await drained;
  return { stdout: Buffer.concat(chunks).toString("utf8"), stderr, exitCode };
}

/** The pod path as the Job runner takes it: input from the options, outcome from the log. */
const podRunner: K6Runner = {
  kind: "job",
  async run(options) {
    const { stdout, stderr } = await podRun(podInputOf(options));
    const read = outcomeOfPodLog(stdout, OUTPUT_MAX_BYTES);
    if (!read.ok) throw new Error(`${read.problem}\n${stderr}`);
    return read.outcome;
  },
};

const config = { ...loadWorkerConfig({}), K6_BIN };
const judge = (runner: K6Runner | undefined, script: string, env: Record<string, string>) =>
  createProcessor({ config, pdeathsig: true, resolveSecrets: noSecrets, runner })(
    {
      runId: `pod-${++runs}`,
      ...specOf({ namespace: "test", name: "podinfo", checksum: `rev-${runs}`, script }),
      envVars: env,
    },
    { signal: new AbortController().signal },
  );

const script = (thresholds: string, extra = "") => `
import http from 'k6/http';
export const options = { vus: 1, iterations: 5, thresholds: ${thresholds} };
${extra}
export default function () { http.get(__ENV.TARGET); }
`;

describe("a run judged in a runner pod is judged as the worker would judge it (real k6)", () => {
  it.each([
    ["a healthy target", "/ok", `{ http_req_duration: ['p(95)<1000'] }`, "pass", "passed"],
    [
      "a target answering 500",
      "/fail",
      `{ http_req_failed: ['rate<0.1'] }`,
      "fail",
      "thresholds_failed",
    ],
    [
      "a dead canary, p(95)<300",
      null,
      `{ http_req_duration: ['p(95)<300'] }`,
      "fail",
      "no_evidence",
    ],
  ])("%s", async (_name, path, thresholds, verdict, outcome) => {
    const url = path ? `${target.url}${path}` : `http://127.0.0.1:${deadPort}/`;
    const [inProcess, inPod] = await Promise.all([
      judge(undefined, script(thresholds), { TARGET: url }),
      judge(podRunner, script(thresholds), { TARGET: url }),
    ]);
    expect(inProcess.result).toMatchObject({ verdict, outcome });
    expect(inPod.result).toMatchObject({ verdict, outcome });
    expect(inPod.result.reason).toBe(inProcess.result.reason);
    expect(inPod.output).toContain("iterations");
  });
});

/**
 * Reads the runner's input file (mode 600) and, from handleSummary(), writes a forged
 * result to its own stdout (a pipe to the runner) and to the runner's (`/proc/<pid>/fd/1`).
 * The runner prints its result after k6 exited, so even a write that lands does not come
 * last; k6 as another user keeps it from landing, and from /proc/<pid>/mem and the rest.
 */
const FORGED = JSON.stringify({ [POD_RESULT_MARK]: 1, forged: true });
const PROBE = script(
  `{ http_req_failed: ['rate<0.1'] }`,
  `
let runFile;
try { runFile = 'run file read: ' + open(__ENV.RUN_FILE).length + ' bytes'; }
catch (e) { runFile = 'run file refused: ' + e; }
console.log(runFile);
const runner = open(__ENV.PID_FILE).trim();
export function handleSummary() {
  return { stdout: '${FORGED}\\n', ['/proc/' + runner + '/fd/1']: '${FORGED}\\n' };
}`,
);
const probeInput = (files: { run: string; pid: string }): PodInput => ({
  script: PROBE,
  env: { TARGET: `${target.url}/fail`, RUN_FILE: files.run, PID_FILE: files.pid },
  maxDurationMs: null,
  maxRunDurationMs: 60_000,
  statKeys: [],
});

describe.runIf(asRoot)("a script in a runner pod (k6 as another user than the runner)", () => {
  it("reads nothing of the runner's and adds nothing to its stdout", async () => {
    const secret = `runner-only-${Date.now()}`;
    const { stdout, exitCode } = await podRun(probeInput, { env: { RUNNER_ONLY_SECRET: secret } });
    expect(exitCode).toBe(0);
    // One line, the runner's own: the forged ones went nowhere it prints.
    expect(stdout.trim().split("\n")).toHaveLength(1);
    const read = outcomeOfPodLog(stdout, OUTPUT_MAX_BYTES);
    if (!read.ok) throw new Error(read.problem);
    expect(read.outcome.output.text()).toMatch(/run file refused: .*permission denied/);
    expect(stdout).not.toContain(secret);
    // k6 judged the 500s: the forged pass changed nothing.
    expect(read.outcome.exitCode).toBe(99);
  });

  it("(control) with k6 as the runner's own user, the same script reads its input and writes its stdout", async () => {
    const { stdout } = await podRun(probeInput, { asUser: 1000 });
    const lines = stdout.trim().split("\n");
    expect(lines).toContain(FORGED);
    // Before the result, which the runner prints once k6 has exited: the last line stands.
    const read = outcomeOfPodLog(stdout, OUTPUT_MAX_BYTES);
    if (!read.ok) throw new Error(read.problem);
    expect(read.outcome.output.text()).toMatch(/run file read: \d+ bytes/);
  });
});

describe("the result line the worker reads", () => {
  it("names what is wrong with a pod log that does not end in a result", () => {
    expect(outcomeOfPodLog("k6 was OOMKilled\n", OUTPUT_MAX_BYTES)).toEqual({
      ok: false,
      problem: "the runner pod printed no result (its last line is not one)",
    });
    const forged = outcomeOfPodLog(`${FORGED}\n`, OUTPUT_MAX_BYTES);
    expect(forged.ok ? "read" : forged.problem).toMatch(
      /^the runner pod's result is not valid: outcome: /,
    );
  });
});
