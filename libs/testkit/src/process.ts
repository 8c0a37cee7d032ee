import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";

export interface ManagedProcess {
  child: ChildProcess;
  pid: number;
  output(): string;
  /** Resolves when the combined output matches; rejects on exit or timeout. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM (or `signal`), then SIGKILL after `graceMs`; resolves on exit. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
  exited: Promise<number | null>;
}

export function startProcess(
  command: string,
  args: string[],
  { env, name, cwd }: { env?: NodeJS.ProcessEnv; name: string; cwd?: string },
): ManagedProcess {
  const child = spawn(command, args, {
    env: env ?? process.env,
    cwd,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > 4_000_000) output = output.slice(-2_000_000);
    for (const listener of listeners) listener();
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  // The output is complete once both pipes have drained ("close"); a grandchild that
  // outlives a killed process may hold them open, so "exit" plus at most 2 s.
  const closed = once(child, "close").catch(() => undefined);
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      const drained = setTimeout(() => resolve(code), 2_000);
      void closed.then(() => {
        clearTimeout(drained);
        resolve(code);
      });
    }),
  );
  let alive = true;
  void exited.then(() => {
    alive = false;
    for (const listener of listeners) listener();
  });

  return {
    child,
    pid: child.pid ?? -1,
    exited,
    output: () => output,
    waitForOutput(pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(output);
          if (match) return finish(() => resolve(match[0]));
          if (!alive)
            finish(() =>
              reject(
                new Error(`${name} exited before printing ${pattern}:\n${output.slice(-3000)}`),
              ),
            );
        };
        const timer = setTimeout(
          () =>
            finish(() =>
              reject(
                new Error(`${name}: no ${pattern} within ${timeoutMs}ms:\n${output.slice(-3000)}`),
              ),
            ),
          timeoutMs,
        );
        const finish = (settle: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          settle();
        };
        listeners.add(check);
        check();
      });
    },
    async stop(signal = "SIGTERM", graceMs = 15_000) {
      if (!alive) return exited;
      child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

export async function exitOf(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await once(child, "exit");
}
