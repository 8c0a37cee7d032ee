import { failingCanaryScript, passingCanaryScript } from "./scripts";

export interface DemoVerdict {
  canary: string;
  /** The Flagger hook type the call stands for. */
  hook: string;
  status: number;
  body: string;
}

/** Sends Flagger's pre-rollout webhook for a good and a bad release; returns both answers. */
export async function sendDemoCanaries(apiUrl: string, targetPort: number): Promise<DemoVerdict[]> {
  const canaries = [
    { name: "podinfo-good", script: passingCanaryScript },
    { name: "podinfo-bad", script: failingCanaryScript },
  ];
  const checksum = Date.now().toString(36);
  return Promise.all(
    canaries.map(async ({ name, script }) => {
      const metadata = {
        script,
        env_vars: JSON.stringify({ TARGET_PORT: String(targetPort) }),
        wait_timeout: "60s",
        notification_context: "k6-gate demo",
      };
      const response = await fetch(`${apiUrl}/launch-test`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name, namespace: "demo", phase: "Progressing", checksum, metadata }),
        signal: AbortSignal.timeout(120_000),
      });
      return {
        canary: `demo/${name}`,
        hook: "pre-rollout",
        status: response.status,
        body: await response.text(),
      };
    }),
  );
}

export function printVerdicts(verdicts: DemoVerdict[]): boolean {
  for (const verdict of verdicts) {
    const mark = flaggerReads(verdict.hook, verdict.status);
    console.log(`\n=== ${verdict.canary} (${verdict.hook} hook): HTTP ${verdict.status} (${mark})`);
    console.log(verdict.body);
  }
  const [good, bad] = verdicts;
  return good?.status === 200 && bad?.status === 422;
}

/**
 * What Flagger does with a webhook's answer, by hook type: a pass lets it go on, it does
 * not promote by itself (except at confirm-promotion); a fail is one failed check, and at
 * the analysis threshold a rollback.
 */
export function flaggerReads(hookType: string, status: number): string {
  if (status > 202) {
    return "FAIL -> Flagger counts a failed check; at the analysis threshold it rolls back";
  }
  switch (hookType) {
    case "pre-rollout":
      return "PASS -> Flagger goes on with the analysis";
    case "rollout":
      return "PASS -> this iteration's check passed; Flagger goes on shifting traffic";
    case "confirm-traffic-increase":
      return "PASS -> Flagger increases the canary's traffic";
    case "confirm-promotion":
      return "PASS -> Flagger promotes the canary";
    case "post-rollout":
      return "PASS -> noted (Flagger has already decided)";
    default:
      return "PASS -> Flagger goes on";
  }
}
