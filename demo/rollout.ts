import { freePort } from "@k6-gate/testkit/ports";
import { startFlaggerSim, type SimLine } from "@k6-gate/testkit/flagger-sim";
import { passingCanaryScript } from "./scripts";

const NAME = "podinfo";
const NAMESPACE = "demo";

/** "run <id>" and the verdict's first line, from k6-gate's answer. */
function verdictOf(body: string | undefined): string {
  const [head = ""] = (body ?? "").split("\n");
  return head.replace(/^k6-gate: /, "");
}

function describe(line: SimLine): string | undefined {
  switch (line.event) {
    case "apply":
      return `revision ${String(line.revision)} applied (pods answer ${
        (line.env as Record<string, string> | undefined)?.STATUS ?? "200"
      })`;
    case "phase":
      return `phase ${line.phase.padEnd(12)} revision ${line.revision || "-"}  (primary runs ${line.primary || "-"})`;
    case "check": {
      const verdict = line.ok ? "passed" : "FAILED";
      return `  ${line.type} check ${verdict} (${line.attempts} request${line.attempts > 1 ? "s" : ""}, run ${line.runId ?? "-"})`;
    }
    case "webhook": {
      if (!line.body) return undefined;
      const again = line.body.includes("min_failure_delay") ? " (same run: min_failure_delay)" : "";
      return `    k6-gate: ${verdictOf(line.body)}${again}`;
    }
    case "flagger":
      return /Rolling back|Copying/.test(line.msg) ? `  flagger: ${line.msg}` : undefined;
    case "outcome":
      return `==> ${line.revision}: ${line.outcome}, primary runs ${line.primary}`;
    default:
      return undefined;
  }
}

/**
 * Flagger's own controller (test/flagger-sim) rolls two revisions of demo/podinfo out
 * through k6-gate: v2 is healthy and is promoted, v3's pods answer 500 and it is rolled
 * back. Flagger analyses at most every 10s, so this takes about a minute and a half.
 * Returns whether both ended as expected.
 */
export async function flaggerRollout(apiUrl: string, log: (line: string) => void) {
  const canaryPort = await freePort();
  const apexPort = await freePort();
  const script = (port: number) => ({
    script: passingCanaryScript,
    env_vars: JSON.stringify({ TARGET_PORT: String(port) }),
    notification_context: "k6-gate demo: Flagger rollout",
  });
  const url = `${apiUrl}/launch-test`;
  const sim = startFlaggerSim({
    canary: {
      name: NAME,
      namespace: NAMESPACE,
      iterations: 1,
      threshold: 2,
      hooks: [
        {
          name: "k6-smoke",
          type: "pre-rollout",
          url,
          timeout: "30s",
          metadata: script(canaryPort),
        },
        { name: "k6-load", type: "rollout", url, timeout: "30s", metadata: script(canaryPort) },
        {
          name: "k6-primary",
          type: "post-rollout",
          url,
          timeout: "30s",
          metadata: script(apexPort),
        },
      ],
    },
    revisions: [
      { name: "v1" },
      { name: "v2", expect: "Succeeded" },
      { name: "v3", env: { STATUS: "500" }, expect: "Failed" },
    ],
    services: { [`${NAME}-canary`]: canaryPort, [NAME]: apexPort },
    deadline: "5m",
    onLine: (line) => {
      const text = describe(line);
      if (text) log(`[flagger ${String(line.t / 1000).padStart(5)}s] ${text}`);
    },
  });
  const result = await sim.result;
  if (result.code !== 0) log(`flagger-sim exited ${result.code}:\n${result.stderr.slice(-2000)}`);
  return result.code === 0;
}

export const rolloutCanaryPage = `/canaries/${NAMESPACE}/${NAME}`;
