import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { stringify } from "yaml";
import { TOOLS_BIN } from "./paths";

/** Flagger's own controller on a simulated cluster (test/flagger-sim), built by `make`. */
export const FLAGGER_SIM = join(TOOLS_BIN, "flagger-sim");

export type HookType = "pre-rollout" | "rollout" | "post-rollout";
export type Outcome = "Initialized" | "Succeeded" | "Failed" | "Superseded";

export interface SimHook {
  name: string;
  type: HookType;
  url: string;
  timeout?: string;
  retries?: number;
  metadata: Record<string, string>;
}

export interface SimCanary {
  name: string;
  namespace: string;
  /** Flagger never ticks faster than every 10s: shorter values are raised to 10s. */
  interval?: string;
  iterations: number;
  threshold: number;
  hooks: SimHook[];
}

/** One version of the workload; env STATUS and DELAY set how its simulated pods answer. */
export interface SimRevision {
  name: string;
  image?: string;
  env?: Record<string, string>;
  /** "tested": applied once the previous revision's pods answer a request (its test is under way). */
  when?: "settled" | "tested";
  expect?: Outcome;
}

/** The Canary as a user would write it: kubernetes provider, blue/green, webhooks only. */
export function canaryYaml(canary: SimCanary): string {
  return stringify({
    apiVersion: "flagger.app/v1beta1",
    kind: "Canary",
    metadata: { name: canary.name, namespace: canary.namespace },
    spec: {
      provider: "kubernetes",
      targetRef: { apiVersion: "apps/v1", kind: "Deployment", name: canary.name },
      progressDeadlineSeconds: 60,
      service: { port: 9898, targetPort: 9898 },
      analysis: {
        interval: canary.interval ?? "10s",
        iterations: canary.iterations,
        threshold: canary.threshold,
        webhooks: canary.hooks.map((hook) => ({
          name: hook.name,
          type: hook.type,
          url: hook.url,
          ...(hook.timeout ? { timeout: hook.timeout } : {}),
          ...(hook.retries ? { retries: hook.retries } : {}),
          metadata: hook.metadata,
        })),
      },
    },
  });
}

interface Line {
  t: number;
}
/** "phase": the phase or the analysed revision changed; "status": only the counters did. */
export interface PhaseLine extends Line {
  event: "phase" | "status";
  phase: string;
  revision: string;
  checksum: string;
  failedChecks: number;
  iterations: number;
  primary: string;
  canary: string;
}
export interface WebhookLine extends Line {
  event: "webhook";
  hook: string;
  type: HookType;
  phase: string;
  revision: string;
  checksum: string;
  endpoint: string;
  attempt: number;
  status: number;
  error?: string;
  runId?: string;
  runAttempt?: number;
  body?: string;
  durationMs: number;
}
export interface CheckLine extends Line {
  event: "check";
  hook: string;
  type: HookType;
  phase: string;
  revision: string;
  checksum: string;
  ok: boolean;
  status: number;
  attempts: number;
  runId?: string;
  error?: string;
}
export interface FlaggerLine extends Line {
  event: "flagger";
  level: string;
  msg: string;
}
export interface OutcomeLine extends Line {
  event: "outcome";
  revision: string;
  outcome: Outcome;
  expected?: string;
  primary: string;
}
export interface DoneLine extends Line {
  event: "done";
  ok: boolean;
  reason?: string;
  outcomes: Record<string, Outcome>;
}
export type SimLine =
  | (Line & { event: "start" | "apply" } & Record<string, unknown>)
  | PhaseLine
  | WebhookLine
  | CheckLine
  | FlaggerLine
  | OutcomeLine
  | DoneLine;

export interface SimResult {
  code: number | null;
  lines: SimLine[];
  stderr: string;
}

export interface SimOptions {
  canary: SimCanary;
  revisions: SimRevision[];
  /** Services of the simulated cluster to serve, name -> port on 127.0.0.1. */
  services: Record<string, number>;
  /** Webhook host names resolved to k6-gate endpoints on 127.0.0.1 (round robin). */
  endpoints?: Record<string, string[]>;
  readyAfter?: string;
  deadline?: string;
  onLine?: (line: SimLine) => void;
}

export interface FlaggerSim {
  result: Promise<SimResult>;
  lines(): SimLine[];
  /** SIGTERM: the program reports `done` (not ok) and exits. */
  stop(): void;
}

/** Starts flagger-sim; `result` resolves when it exits (it exits on its own when done). */
export function startFlaggerSim(options: SimOptions): FlaggerSim {
  const dir = mkdtempSync(join(tmpdir(), "k6-gate-flagger-sim-"));
  const canaryPath = join(dir, "canary.yaml");
  const revisionsPath = join(dir, "revisions.yaml");
  writeFileSync(canaryPath, canaryYaml(options.canary));
  writeFileSync(revisionsPath, stringify(options.revisions));
  const args = [
    "-canary",
    canaryPath,
    "-revisions",
    revisionsPath,
    "-ready-after",
    options.readyAfter ?? "0s",
    "-deadline",
    options.deadline ?? "4m",
    "-log-level",
    "warn",
  ];
  for (const [name, port] of Object.entries(options.services)) {
    args.push("-service", `${name}=127.0.0.1:${port}`);
  }
  for (const [host, endpoints] of Object.entries(options.endpoints ?? {})) {
    args.push("-endpoints", `${host}=${endpoints.join(",")}`);
  }
  const child = spawn(FLAGGER_SIM, args, { stdio: ["ignore", "pipe", "pipe"] });
  const lines: SimLine[] = [];
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-20_000);
  });
  createInterface({ input: child.stdout }).on("line", (text) => {
    const line = JSON.parse(text) as SimLine;
    lines.push(line);
    options.onLine?.(line);
  });
  const result = new Promise<SimResult>((resolve) => {
    child.once("close", (code) => {
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, lines, stderr });
    });
  });
  return { result, lines: () => lines, stop: () => void child.kill("SIGTERM") };
}

export const phasesOf = (lines: SimLine[]) =>
  lines.filter((line): line is PhaseLine => line.event === "phase");
export const checksOf = (lines: SimLine[]) =>
  lines.filter((line): line is CheckLine => line.event === "check");
export const webhooksOf = (lines: SimLine[]) =>
  lines.filter((line): line is WebhookLine => line.event === "webhook");
export const flaggerMessages = (lines: SimLine[]) =>
  lines.filter((line): line is FlaggerLine => line.event === "flagger").map((line) => line.msg);
export const outcomeOf = (lines: SimLine[], revision: string) =>
  lines.find((line): line is OutcomeLine => line.event === "outcome" && line.revision === revision);
export const doneOf = (lines: SimLine[]) =>
  lines.find((line): line is DoneLine => line.event === "done");
