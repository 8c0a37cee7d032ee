import { afterEach, describe, expect, it } from "vitest";
import { launchApp } from "@k6-gate/testkit/k6gate";
import type { ManagedProcess } from "@k6-gate/testkit/process";

/**
 * A setting a process cannot start with: one JSON log line naming the variable, exit 1,
 * before anything is connected (no Redis is given: none is needed to refuse).
 */
const started: ManagedProcess[] = [];
afterEach(async () => {
  await Promise.allSettled(started.splice(0).map((child) => child.stop("SIGKILL")));
});

async function refusal(app: "api" | "worker" | "all", env: Record<string, string>) {
  const child = launchApp(app, { LOG_LEVEL: "info", ...env });
  started.push(child);
  const code = await child.exited;
  const lines = child.output().trim().split("\n");
  return { code, lines, entry: JSON.parse(lines[0] ?? "{}") as Record<string, unknown> };
}

describe("a bad setting stops the process with one JSON line naming it", () => {
  it.each([
    ["api", "ALLOWED_NAMESPACES"],
    ["worker", "SECRET_NAMESPACES"],
  ] as const)("%s: %s='test|(' (a regex that does not compile)", async (app, variable) => {
    const { code, lines, entry } = await refusal(app, { [variable]: "test|(" });
    expect(code).toBe(1);
    expect(lines).toHaveLength(1);
    expect(entry).toMatchObject({
      level: 60,
      service: `k6-gate-${app}`,
      variables: [variable],
      msg: `invalid configuration: ${variable}: must be a valid regular expression (Unterminated group)`,
    });
  });

  it("names every bad variable in the one line, in words", async () => {
    const { code, lines, entry } = await refusal("worker", {
      WORKER_CONCURRENCY: "many",
      SHUTDOWN_GRACE: "soon",
    });
    expect(code).toBe(1);
    expect(lines).toHaveLength(1);
    expect(entry.variables).toEqual(
      expect.arrayContaining(["WORKER_CONCURRENCY", "SHUTDOWN_GRACE"]),
    );
    expect(entry.msg).toContain('WORKER_CONCURRENCY: "many" is not auto or a whole number above 0');
    expect(entry.msg).toContain('SHUTDOWN_GRACE: "soon" is not a duration like 30s, 5m or 1h');
  });

  it("all-in-one: names the API's and the worker's bad variables in its one line", async () => {
    const { code, lines, entry } = await refusal("all", {
      ALLOWED_NAMESPACES: "test|(",
      WORKER_CONCURRENCY: "many",
      LOG_LEVEL: "loud",
    });
    expect(code).toBe(1);
    expect(lines).toHaveLength(1);
    expect(entry).toMatchObject({ level: 60, service: "k6-gate" });
    // A setting both read (LOG_LEVEL) is named once.
    expect([...(entry.variables as string[])].sort()).toEqual([
      "ALLOWED_NAMESPACES",
      "LOG_LEVEL",
      "WORKER_CONCURRENCY",
    ]);
  });
});
