import { failingCanaryScript, passingCanaryScript } from "./scripts";

export interface DemoVerdict {
  canary: string;
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
      return { canary: `demo/${name}`, status: response.status, body: await response.text() };
    }),
  );
}

export function printVerdicts(verdicts: DemoVerdict[]): boolean {
  for (const verdict of verdicts) {
    const mark =
      verdict.status <= 202 ? "PASS -> Flagger promotes" : "FAIL -> Flagger counts a failed check";
    console.log(`\n=== ${verdict.canary}: HTTP ${verdict.status} (${mark})`);
    console.log(verdict.body);
  }
  const [good, bad] = verdicts;
  return good?.status === 200 && bad?.status === 422;
}
