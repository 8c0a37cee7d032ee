import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { K6_BIN } from "@k6-gate/testkit/paths";
import { freePort } from "@k6-gate/testkit/ports";
import { waitFor } from "@k6-gate/testkit/wait";
import { payloadOf, postWebhook } from "@k6-gate/testkit/webhook";
import { k6ProcessesOf, tcpListeners } from "@k6-gate/testkit/proc";
import { useStack } from "@k6-gate/testkit/use-stack";

/** Secrets only the worker has: none may reach k6. */
const WORKER_SECRETS = {
  SLACK_TOKEN: `xoxb-${randomUUID()}`,
  K6_CLOUD_TOKEN: `cloud-${randomUUID()}`,
  WORKER_ONLY_SECRET: `secret-${randomUUID()}`,
};
/** Exactly what k6-gate puts in k6's environment (apps/worker/src/k6/environment.ts). */
const K6GATE_VARIABLES = [
  "HOME",
  "K6_AUTO_EXTENSION_RESOLUTION",
  "K6_NO_COLOR",
  "K6_NO_USAGE_REPORT",
  "PATH",
  "TMPDIR",
];

let runTmpDir: string;
const stack = useStack({
  workerEnv: () => {
    runTmpDir = mkdtempSync(join(tmpdir(), "k6-gate-security-runs-"));
    return { ...WORKER_SECRETS, TMPDIR: runTmpDir };
  },
});

afterAll(async () => {
  rmSync(runTmpDir, { recursive: true, force: true });
});

/** The worker's run directories in its TMPDIR (tsx, which runs the worker, keeps its cache there). */
const runDirs = (): string[] =>
  readdirSync(runTmpDir).filter((name) => name.startsWith("k6-gate-run-"));

let checksum = 0;
interface Call {
  status: number;
  text: string;
  runId: string;
}
/** A webhook call answered in JSON, so the run id is known. */
async function call(metadata: Record<string, string>): Promise<Call> {
  const response = await postWebhook(
    stack.api.url,
    payloadOf({ checksum: `iso-${++checksum}`, metadata: { wait_timeout: "60s", ...metadata } }),
    { headers: { accept: "application/json" } },
  );
  const body = JSON.parse(response.text) as { run?: { id: string }; message?: string };
  return {
    status: response.status,
    text: body.message ?? response.text,
    runId: body.run?.id ?? "",
  };
}

async function outputOf(runId: string): Promise<string> {
  const response = await fetch(`${stack.api.url}/api/runs/${runId}/output`);
  return ((await response.json()) as { output: string }).output;
}

/** The worker's k6 process (setpriv execs k6, so the worker's child is k6 itself). */
const runningK6 = () => k6ProcessesOf(new Set([stack.worker.pid]))[0];

/**
 * What a script printed with `console.log(tag + " " + text)`, from the run's output, where
 * k6's log lines read `12:00:01 INFO <message> source=console`.
 */
function consoleLine(output: string, tag: string): string {
  for (const line of output.split("\n")) {
    const at = line.indexOf(` INFO ${tag} `);
    if (at < 0 || !line.endsWith(" source=console")) continue;
    return line.slice(at + ` INFO ${tag} `.length, -" source=console".length);
  }
  throw new Error(`no ${tag} line in:\n${output.slice(-2000)}`);
}

let held = 0;
/** Hits its own path on the target (so the test knows k6 runs it), then sleeps. */
function holdingScript(body = ""): { script: string; path: string } {
  const path = `/held-${++held}`;
  const script = `
import http from 'k6/http';
import { sleep } from 'k6';
${body}
export const options = { iterations: 1 };
export default function () { http.get('http://127.0.0.1:${stack.target.port}${path}'); sleep(2); }
`;
  return { script, path };
}

/** Runs the script, calls `observe` with k6's pid while it runs, returns the answer. */
async function duringRun(
  { script, path }: { script: string; path: string },
  metadata: Record<string, string>,
  observe: (pid: number) => void,
): Promise<Call> {
  const pending = call({ script, ...metadata });
  await waitFor("the script to reach the target", () => stack.target.hits.has(path), {
    timeoutMs: 20_000,
  });
  const pid = await waitFor("k6 to be running", runningK6, { timeoutMs: 5_000 });
  observe(pid);
  return pending;
}

describe("k6 runs isolated from its worker", () => {
  it("builds k6's environment from nothing: a script sees its env_vars and none of the worker's", async () => {
    const script = holdingScript(`
let environ;
try { environ = open('/proc/self/environ'); } catch (error) { environ = 'unreadable: ' + error; }
console.log('ENV-SEEN ' + JSON.stringify(Object.keys(__ENV).sort()));
console.log('ENVIRON-SEEN ' + environ);
if (__ENV.GREETING !== 'hello' || __ENV.constructor !== 'c' || __ENV.toString !== 't') {
  throw new Error('env_vars missing');
}`);
    let environ: string[] = [];
    const answer = await duringRun(
      script,
      { env_vars: JSON.stringify({ GREETING: "hello", constructor: "c", toString: "t" }) },
      (pid) => {
        environ = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").filter(Boolean);
      },
    );
    expect(answer.status).toBe(200);

    // Seen from outside: exactly k6-gate's variables plus the canary's env_vars.
    const names = environ.map((line) => line.slice(0, line.indexOf("="))).sort();
    expect(names).toEqual([...K6GATE_VARIABLES, "GREETING", "constructor", "toString"].sort());
    // Seen from the script: the same names, and k6 cannot read /proc/self/environ anyway.
    const output = await outputOf(answer.runId);
    expect(JSON.parse(consoleLine(output, "ENV-SEEN"))).toEqual(names);
    console.info(`a script reading /proc/self/environ got: ${consoleLine(output, "ENVIRON-SEEN")}`);
    for (const secret of Object.values(WORKER_SECRETS)) {
      expect(environ.join("\n")).not.toContain(secret);
      expect(output).not.toContain(secret);
    }
    expect(environ.join("\n")).not.toContain(stack.redis.url);
  });

  it("runs each check in a fresh private directory (0700, k6's cwd and HOME), removed afterwards", async () => {
    let seen: { dir: string; mode: number; cwd: string; scriptMode: number } | undefined;
    const answer = await duringRun(holdingScript(), {}, (pid) => {
      const dirs = runDirs();
      expect(dirs).toHaveLength(1);
      const dir = join(runTmpDir, dirs[0] ?? "");
      seen = {
        dir,
        mode: statSync(dir).mode & 0o777,
        cwd: readlinkSync(`/proc/${pid}/cwd`),
        scriptMode: statSync(join(dir, "script.js")).mode & 0o777,
      };
      expect(readFileSync(`/proc/${pid}/environ`, "utf8").split("\0")).toContain(`HOME=${dir}`);
    });
    expect(answer.status).toBe(200);
    expect(seen?.dir).toMatch(/\/k6-gate-run-[^/]+$/);
    expect(seen?.mode).toBe(0o700);
    expect(seen?.scriptMode).toBe(0o600);
    expect(seen?.cwd).toBe(seen?.dir);
    expect(existsSync(seen?.dir ?? "")).toBe(false);
    expect(runDirs()).toEqual([]);
  });

  it("opens no TCP listener: k6's REST API is off", async () => {
    let listeners: string[] | undefined;
    const answer = await duringRun(holdingScript(), {}, (pid) => {
      listeners = tcpListeners(pid);
    });
    expect(answer.status).toBe(200);
    expect(listeners).toEqual([]);
  });

  it("the listener check does see k6's REST API when it is turned on (control)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "k6-gate-control-"));
    writeFileSync(join(dir, "script.js"), holdingScript().script);
    const port = await freePort();
    const k6 = spawn(K6_BIN, ["run", "--quiet", "--address", `127.0.0.1:${port}`, "script.js"], {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: dir, K6_NO_USAGE_REPORT: "true" },
      stdio: "ignore",
    });
    try {
      const listeners = await waitFor("k6's REST API to listen", () => {
        const found = tcpListeners(k6.pid ?? -1);
        return found.length > 0 ? found : undefined;
      });
      expect(listeners).toContain(`0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`);
    } finally {
      k6.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("passes the payload to k6 with no shell: metacharacters in the script and env_vars are inert", async () => {
    const marker = join(tmpdir(), `k6-gate-pwned-${randomUUID()}`);
    const nasty = [
      `$(touch ${marker}-a)`,
      `\`touch ${marker}-b\``,
      `; touch ${marker}-c`,
      `| touch ${marker}-d`,
      `&& touch ${marker}-e`,
      `' "; touch ${marker}-f; echo "`,
    ];
    const script = holdingScript(
      nasty.map((text, i) => `// ${text}\nconst s${i} = ${JSON.stringify(text)};`).join("\n"),
    );
    let argv: string[] = [];
    const answer = await duringRun(
      script,
      {
        env_vars: JSON.stringify(Object.fromEntries(nasty.map((text, i) => [`NASTY_${i}`, text]))),
        notification_context: nasty.join(" "),
      },
      (pid) => {
        argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
      },
    );
    expect(answer.status).toBe(200);
    // The script is a file in the run directory, never part of the command line.
    expect(argv).toEqual([
      K6_BIN,
      "run",
      "--no-color",
      "--log-format",
      "json",
      "--log-output",
      "stderr",
      "--summary-trend-stats",
      "avg,min,med,max,p(90),p(95),count",
      "--out",
      "json=k6-metrics.fifo",
      "script.js",
    ]);
    for (const suffix of ["a", "b", "c", "d", "e", "f"]) {
      expect(existsSync(`${marker}-${suffix}`)).toBe(false);
    }
  });

  it("leaves no run directory behind after all of these runs", () => {
    expect(runDirs()).toEqual([]);
  });
});
