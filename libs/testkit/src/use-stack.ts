import { afterAll, afterEach, beforeAll, expect } from "vitest";
import type { ApiProcess } from "./k6gate";
import type { ManagedProcess } from "./process";
import type { TestRedis } from "./redis";
import { GateProcesses, startStack, type Env, type StackOptions, type StartedStack } from "./stack";
import type { Target } from "./target";

export interface Stack {
  readonly redis: TestRedis;
  readonly target: Target;
  /** The file's k6-gate processes (started before its tests, stopped after them). */
  readonly gate: GateProcesses;
  /** Their env: testEnv's, the stack's `env`, one queue prefix. */
  readonly env: Env;
  readonly api: ApiProcess;
  /** The first of `workers`. */
  readonly worker: ManagedProcess;
  readonly workers: readonly ManagedProcess[];
  /**
   * k6-gate processes for the running test alone: the same Redis, a fresh queue prefix,
   * testEnv's defaults and `extra` (not the stack's `env`); killed (SIGKILL) after the test.
   */
  testGate(extra?: Env): GateProcesses;
  /** As testGate, for a file's (or a describe's) beforeAll: killed after the file's tests. */
  fileGate(extra?: Env): GateProcesses;
}

/**
 * The harness of every process-level test file: startStack(options) before its tests
 * (the API and one worker by default; `api: false, workers: 0` for files whose tests
 * start their own), stopped after them.
 */
export function useStack(options: StackOptions = {}): Stack {
  let stack: StartedStack | undefined;
  let perTest: GateProcesses[] = [];
  const perFile: GateProcesses[] = [];
  beforeAll(async () => {
    stack = await startStack(options);
  });
  afterAll(async () => {
    await Promise.allSettled(perFile.map((gate) => gate.stop("SIGKILL")));
    await stack?.stop();
  });
  afterEach(async () => {
    await Promise.allSettled(perTest.map((p) => p.stop("SIGKILL")));
    perTest = [];
  });
  const started = (): StartedStack => {
    if (!stack) throw new Error("the stack is not started yet (use it inside a test)");
    return stack;
  };
  return {
    get redis() {
      return started().redis;
    },
    get target() {
      return started().target;
    },
    get gate() {
      return started().gate;
    },
    get env() {
      return started().gate.env;
    },
    get api() {
      const { api } = started().gate;
      if (!api) throw new Error("this stack has no API (api: false)");
      return api;
    },
    get worker() {
      const [worker] = started().gate.workers;
      if (!worker) throw new Error("this stack has no worker (workers: 0)");
      return worker;
    },
    get workers() {
      return started().gate.workers;
    },
    testGate(extra = {}) {
      // Killed after the current test: in a beforeAll there is none (fileGate is for that).
      if (expect.getState().currentTestName === undefined)
        throw new Error("testGate is for a test's own processes: in beforeAll, use fileGate");
      const gate = new GateProcesses(started().redis.url, extra);
      perTest.push(gate);
      return gate;
    },
    fileGate(extra = {}) {
      const gate = new GateProcesses(started().redis.url, extra);
      perFile.push(gate);
      return gate;
    },
  };
}
