import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, loadavg, release, totalmem } from "node:os";
import { join } from "node:path";
import { K6_BIN, ROOT } from "@k6-gate/testkit/paths";

function run(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: "utf8", cwd: ROOT }).trim();
  } catch {
    return "unknown";
  }
}

/** What the numbers were measured on, as rows for a two-column table. */
export function describeMachine(): [string, string][] {
  const model = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1];
  const bullmq = JSON.parse(
    readFileSync(join(ROOT, "node_modules", "bullmq", "package.json"), "utf8"),
  ) as { version: string };
  const dirty = run("git", ["status", "--porcelain", "--", "apps", "libs"]) !== "";
  return [
    ["date", new Date().toISOString()],
    ["CPU", `${model ?? "unknown"}, ${cpus().length} cores`],
    ["RAM", `${(totalmem() / 1024 ** 3).toFixed(1)} GiB`],
    ["kernel", `Linux ${release()}`],
    ["Node", process.version],
    ["k6", run(K6_BIN, ["version"]).split("\n")[0] ?? "unknown"],
    ["redis-server", run("redis-server", ["--version"])],
    ["BullMQ", bullmq.version],
    [
      "code",
      `commit ${run("git", ["rev-parse", "--short", "HEAD"])}${dirty ? " plus uncommitted changes in apps/ or libs/" : ""}`,
    ],
    [
      "load average at start (1/5/15 min)",
      loadavg()
        .map((l) => l.toFixed(2))
        .join(" / "),
    ],
  ];
}
