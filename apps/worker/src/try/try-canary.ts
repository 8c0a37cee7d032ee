import { hostname } from "node:os";
import { parseAllDocuments } from "yaml";
import {
  accepted,
  describeIssues,
  formatDuration,
  identityOf,
  ownerOf,
  refused,
  runSpecOf,
  verdictText,
  webhookPayloadSchema,
  type RunRecord,
} from "@k6-gate/shared";
import type { WorkerConfig } from "../config";
import { createProcessor, type ProcessorDeps } from "../processor";
import type { SecretResolver } from "../secrets";

/**
 * `k6-gate try`: a Canary's k6-gate checks, run here before the Canary is pushed. The
 * metadata is validated by the API's own schema, the script runs through the worker's own
 * processor (same k6 flags, same environment rules, same verdict), no Redis and no
 * cluster; the verdict is the text Flagger would show.
 */

/** One webhook to try: where it came from and the metadata Flagger would send. */
export interface TryCheck {
  /** "test/podinfo webhook k6-load-test (pre-rollout)" or the metadata file's name. */
  label: string;
  namespace: string;
  name: string;
  /** Flagger sends every metadata value as a string. */
  metadata: Record<string, unknown>;
}

/** A webhook that calls k6-gate (or flagger-k6-webhook: same path, same metadata). */
const GATE_URL = /\/launch-test\/?(?:\?.*)?$/;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * The k6-gate webhooks of every Canary in a manifest (YAML, several documents allowed),
 * or, for a file that is a webhook's metadata itself (a map with `script`), that one check
 * under `fallback` as namespace/name.
 */
export function checksOf(
  text: string,
  source: string,
  fallback: { namespace: string; name: string } = { namespace: "default", name: "try" },
): TryCheck[] {
  const checks: TryCheck[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length)
      throw new Error(`${source}: ${doc.errors[0]?.message ?? "invalid YAML"}`);
    const value: unknown = doc.toJS();
    if (!isObject(value)) continue;
    if (value.kind === "Canary") {
      const meta = isObject(value.metadata) ? value.metadata : {};
      const namespace = typeof meta.namespace === "string" ? meta.namespace : "default";
      const name = typeof meta.name === "string" ? meta.name : "";
      const spec = isObject(value.spec) ? value.spec : {};
      const analysis = isObject(spec.analysis) ? spec.analysis : {};
      const webhooks = Array.isArray(analysis.webhooks) ? analysis.webhooks : [];
      for (const hook of webhooks) {
        if (!isObject(hook) || typeof hook.url !== "string" || !GATE_URL.test(hook.url)) continue;
        const type = typeof hook.type === "string" ? hook.type : "rollout";
        checks.push({
          label: `${namespace}/${name} webhook ${typeof hook.name === "string" ? hook.name : "?"} (${type})`,
          namespace,
          name,
          metadata: isObject(hook.metadata) ? hook.metadata : {},
        });
      }
    } else if ("script" in value) {
      checks.push({ label: source, ...fallback, metadata: value });
    }
  }
  return checks;
}

/**
 * `kubernetes_secrets` from values given on the command line: by variable name
 * (`API_TOKEN`) or by reference (`secret/key`, `namespace/secret/key`).
 */
export function localSecrets(given: Record<string, string>): SecretResolver {
  return async (refs, defaultNamespace) => {
    const values: Record<string, string> = {};
    const missing: string[] = [];
    for (const [name, ref] of Object.entries(refs)) {
      const namespace = ref.namespace ?? defaultNamespace;
      const value =
        given[name] ??
        given[`${namespace}/${ref.secret}/${ref.key}`] ??
        given[`${ref.secret}/${ref.key}`];
      if (value === undefined) missing.push(`${name} (${namespace}/${ref.secret}/${ref.key})`);
      else values[name] = value;
    }
    if (missing.length === 0) return accepted(values);
    return refused(
      `kubernetes_secrets not given: ${missing.join(", ")}; pass --secret NAME=value or --secrets FILE`,
    );
  };
}

export type TryConfig = ProcessorDeps["config"] & Pick<WorkerConfig, "K6_BIN">;

export interface TryResult {
  /** 0 pass, 1 fail, 2 metadata the API would refuse (400). */
  exitCode: 0 | 1 | 2;
  /** What the API would answer: the verdict text, or the 400's lines. */
  text: string;
  /** k6's output (the tail the worker would keep). */
  output: string;
}

/** One check, as the webhook would judge it; `signal` stops k6 (Ctrl-C). */
export async function tryCheck(
  check: TryCheck,
  { config, secrets, signal }: { config: TryConfig; secrets: SecretResolver; signal: AbortSignal },
): Promise<TryResult> {
  const parsed = webhookPayloadSchema.safeParse({
    name: check.name,
    namespace: check.namespace,
    phase: "Progressing",
    checksum: "",
    metadata: check.metadata,
  });
  if (!parsed.success) {
    // The API's 400 body (respond.ts problem()): the message, then one line per problem.
    const lines = describeIssues(parsed.error).map((line) => `- ${line}`);
    return { exitCode: 2, text: ["invalid payload", ...lines].join("\n"), output: "" };
  }
  const payload = parsed.data;
  if (
    payload.metadata.maxDurationMs !== undefined &&
    payload.metadata.maxDurationMs > config.MAX_RUN_DURATION
  ) {
    // The API's own limit check (routes/launch-test.ts), in its words.
    const over = `metadata.max_duration: ${formatDuration(payload.metadata.maxDurationMs)} is over the server maximum ${formatDuration(config.MAX_RUN_DURATION)}`;
    return { exitCode: 2, text: `invalid payload\n- ${over}`, output: "" };
  }
  const spec = runSpecOf(payload);
  const judge = createProcessor({ config, pdeathsig: false, resolveSecrets: secrets });
  const startedAt = Date.now();
  const execution = await judge({ ...spec, runId: "try" }, { signal });
  const { result } = execution;
  const record: RunRecord = {
    ...identityOf(spec),
    id: "try",
    status: "finished",
    attempt: 1,
    worker: hostname(),
    enqueuedAt: startedAt,
    startedAt,
    finishedAt: Date.now(),
    delivered: true,
    verdict: result.verdict,
    outcome: result.outcome,
    reason: result.reason,
    result,
    slackChannels: [],
    warnings: spec.warnings ?? [],
    slackThreads: [],
    cloudUrl: result.cloudUrl,
    owner: ownerOf(spec.namespace),
    priority: null,
    supersededBy: null,
    supersededByCaller: null,
    cancelledBy: null,
    k6StartedAt: null,
    expectedMs: null,
    k6Progress: null,
  };
  return {
    exitCode: result.verdict === "pass" ? 0 : 1,
    text: verdictText(record, undefined, payload.metadata.warnings),
    output: execution.output,
  };
}
