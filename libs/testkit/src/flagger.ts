import { execFile } from "node:child_process";
import { FLAGGER_CLIENT } from "./paths";

export interface FlaggerCall {
  url: string;
  timeout?: string;
  retries?: number;
  name?: string;
  namespace?: string;
  /** Becomes the Canary's LastAppliedSpec; Flagger hashes it into `checksum`. */
  revision?: string;
  /** A webhook token, in the URL as a Canary's webhook spec gives it (`?token=`). */
  token?: string;
  metadata: Record<string, string>;
}

export interface FlaggerResult {
  ok: boolean;
  /** CallWebhook's error text (for a 4xx: the response body, as Kubernetes events show it). */
  error: string;
  durationMs: number;
  /** The payload's `checksum` (Flagger's hash of `revision`), as run records carry it. */
  checksum: string;
}

/** Calls k6-gate through Flagger's real `controller.CallWebhook`. */
export function callFlagger(call: FlaggerCall): Promise<FlaggerResult> {
  const args = [
    "-url",
    `${call.url}/launch-test${call.token ? `?token=${call.token}` : ""}`,
    "-timeout",
    call.timeout ?? "10s",
    "-retries",
    String(call.retries ?? 0),
    "-name",
    call.name ?? "podinfo",
    "-namespace",
    call.namespace ?? "test",
    "-checksum",
    call.revision ?? "rev1",
    "-meta",
    JSON.stringify(call.metadata),
    "-print-checksum",
  ];
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(FLAGGER_CLIENT, args, { timeout: 180_000 }, (_error, stdout, stderr) => {
      const text = stdout.trim();
      resolve({
        ok: text === "ok",
        error: text.startsWith("error: ") ? text.slice("error: ".length) : "",
        durationMs: Date.now() - started,
        checksum: /^checksum: (\S+)$/m.exec(stderr)?.[1] ?? "",
      });
    });
  });
}
