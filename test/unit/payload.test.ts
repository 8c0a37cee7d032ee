import { describe, expect, it } from "vitest";
import {
  describeIssues,
  LIMITS,
  METADATA_KEYS,
  parseMetadata,
  webhookPayloadSchema,
  type Metadata,
} from "@k6-gate/shared";

/**
 * Flagger's metadata is a map of strings; each key is parsed here once. env_vars' rules
 * (names, reserved and forbidden variables) are in env-vars.test.ts.
 */

const SCRIPT = "export default function () {}";

/** The metadata parsed from `raw` (with a script unless given), or its 400 lines. */
function parse(raw: Record<string, string>) {
  const parsed = webhookPayloadSchema.safeParse({
    name: "podinfo",
    namespace: "test",
    metadata: { script: SCRIPT, ...raw },
  });
  return parsed.success
    ? { metadata: parsed.data.metadata, problems: [] as string[], paths: [] as unknown[] }
    : {
        metadata: undefined,
        problems: describeIssues(parsed.error),
        paths: parsed.error.issues.map((issue) => issue.path),
      };
}

function metadataOf(raw: Record<string, string>): Metadata {
  const { metadata, problems } = parse(raw);
  if (!metadata) throw new Error(`unexpected problems: ${problems.join("; ")}`);
  return metadata;
}

describe("defaults (Flagger's minimal Canary: a script only)", () => {
  it("match flagger-k6-webhook's, and k6-gate's keys are off", () => {
    expect(metadataOf({})).toEqual({
      script: SCRIPT,
      uploadToCloud: false,
      waitForResults: true,
      slackChannels: [],
      notificationContext: undefined,
      minFailureDelayMs: 120_000,
      envVars: {},
      kubernetesSecrets: {},
      maxDurationMs: undefined,
      waitTimeoutMs: undefined,
      maxInterruptedIterations: 0,
      supersede: true,
      maxRegression: {},
      baselineRuns: 5,
      failOnSaturation: false,
      parallelism: 1,
      allowFailedRequests: false,
      warnings: [],
    });
  });

  it("treat an empty value as absent", () => {
    const empty = Object.fromEntries(
      METADATA_KEYS.filter((key) => key !== "script").map((key) => [key, ""]),
    );
    expect(metadataOf(empty)).toEqual(metadataOf({}));
  });

  it("run despite keys k6-gate does not know (other tools share the Canary's metadata), and say so", () => {
    const { warnings, ...rest } = metadataOf({ cmd: "hey -z 1m", wait_timout: "30s" });
    const { warnings: none, ...plain } = metadataOf({});
    expect(rest).toEqual(plain);
    expect(none).toEqual([]);
    expect(warnings).toEqual([
      'metadata key "cmd" is not one k6-gate knows; ignored',
      'metadata key "wait_timout" is not one k6-gate knows (did you mean wait_timeout?)',
    ]);
  });
});

/** Each key: a good value and what it parses to, a bad value and its 400 line. */
const cases: {
  key: string;
  good: string;
  parsed: Partial<Metadata>;
  bad: string;
  problem: string;
}[] = [
  {
    key: "script",
    good: "import http from 'k6/http';\nexport default function () {}",
    parsed: { script: "import http from 'k6/http';\nexport default function () {}" },
    bad: " \n\t",
    problem: "is required: the k6 script to run",
  },
  {
    key: "upload_to_cloud",
    good: "true",
    parsed: { uploadToCloud: true },
    bad: "yes",
    problem: 'must be "true" or "false", got "yes"',
  },
  {
    key: "wait_for_results",
    good: "false",
    parsed: { waitForResults: false },
    bad: "maybe",
    problem: 'must be "true" or "false", got "maybe"',
  },
  {
    key: "slack_channels",
    good: " #deploys, ,C024BE91L,, ",
    parsed: { slackChannels: ["#deploys", "C024BE91L"] },
    bad: Array.from({ length: LIMITS.slackChannels + 1 }, (_, i) => `#c${i}`).join(","),
    problem: "at most 20 channels",
  },
  {
    key: "notification_context",
    good: "release 1.4.2 by @ana",
    parsed: { notificationContext: "release 1.4.2 by @ana" },
    bad: "é".repeat(LIMITS.metadataValueBytes / 2 + 1),
    problem: "is larger than 65536 bytes",
  },
  {
    key: "min_failure_delay",
    good: "5m",
    parsed: { minFailureDelayMs: 300_000 },
    bad: "soon",
    problem: 'must be a duration like 30s, 2m or 1h, got "soon"',
  },
  {
    key: "env_vars",
    good: '{"TARGET": "http://podinfo-canary:9898/"}',
    parsed: { envVars: { TARGET: "http://podinfo-canary:9898/" } },
    bad: "TARGET=http://podinfo-canary:9898/",
    problem: "must be a JSON object (invalid JSON)",
  },
  {
    key: "kubernetes_secrets",
    good: '{"API_TOKEN": "team-a/api/token", "DB_PASSWORD": "db.creds/password"}',
    parsed: {
      kubernetesSecrets: {
        API_TOKEN: { namespace: "team-a", secret: "api", key: "token" },
        DB_PASSWORD: { namespace: undefined, secret: "db.creds", key: "password" },
      },
    },
    bad: '{"API_TOKEN": "Team_A/api"}',
    problem: 'API_TOKEN must be "[namespace/]secret/key"',
  },
  {
    key: "max_duration",
    good: "10m",
    parsed: { maxDurationMs: 600_000 },
    bad: "0s",
    problem: "must be more than 0",
  },
  {
    key: "wait_timeout",
    good: "1m30s",
    parsed: { waitTimeoutMs: 90_000 },
    bad: "-5s",
    problem: 'must be a duration like 30s, 2m or 1h, got "-5s"',
  },
  {
    key: "max_interrupted_iterations",
    good: " 3 ",
    parsed: { maxInterruptedIterations: 3 },
    bad: "-1",
    problem: 'must be a whole number, 0 or more, got "-1"',
  },
  {
    key: "supersede",
    good: "false",
    parsed: { supersede: false },
    bad: "never",
    problem: 'must be "true" or "false", got "never"',
  },
];

describe("each metadata key", () => {
  it.each(cases)("$key: a good value is parsed", ({ key, good, parsed }) => {
    expect(metadataOf({ [key]: good })).toEqual({ ...metadataOf({}), ...parsed });
  });

  it.each(cases)("$key: a bad value is a 400 naming the key", ({ key, bad, problem }) => {
    const { problems, paths } = parse({ [key]: bad });
    expect(paths).toEqual([["metadata", key]]);
    expect(problems).toEqual([`metadata.${key}: ${problem}`]);
  });
});

describe("more bad values, each named with its key", () => {
  const more: [key: string, value: string, problem: string][] = [
    ["script", "", "is required: the k6 script to run"],
    ["script", "x".repeat(LIMITS.scriptBytes + 1), "is larger than 262144 bytes"],
    ["upload_to_cloud", "on", 'must be "true" or "false", got "on"'],
    ["wait_for_results", " true", 'must be "true" or "false", got " true"'],
    ["min_failure_delay", "2", 'must be a duration like 30s, 2m or 1h, got "2"'],
    ["env_vars", '["A=1"]', "must be a JSON object"],
    ["env_vars", '{"A": 1}', "A must be a string, got number"],
    ["kubernetes_secrets", '"s/k"', "must be a JSON object"],
    ["kubernetes_secrets", "{", "must be a JSON object (invalid JSON)"],
    [
      "kubernetes_secrets",
      '{"T": {"secret": "s", "key": "k"}}',
      'T must be "[namespace/]secret/key"',
    ],
    ["kubernetes_secrets", '{"T": "a/b/c/d"}', 'T must be "[namespace/]secret/key"'],
    ["kubernetes_secrets", '{"HOME": "s/k"}', "HOME is set by k6-gate and cannot be overridden"],
    ["max_duration", "0", "must be more than 0"],
    ["max_duration", "ten minutes", 'must be a duration like 30s, 2m or 1h, got "ten minutes"'],
    ["wait_timeout", "30", 'must be a duration like 30s, 2m or 1h, got "30"'],
    ["max_interrupted_iterations", "1.5", 'must be a whole number, 0 or more, got "1.5"'],
    ["max_interrupted_iterations", "1e3", 'must be a whole number, 0 or more, got "1e3"'],
    [
      "max_interrupted_iterations",
      "1234567890",
      'must be a whole number, 0 or more, got "1234567890"',
    ],
    ["parallelism", "0", "must be between 1 and 20, got 0"],
    ["parallelism", "21", "must be between 1 and 20, got 21"],
    ["parallelism", "3 pods", 'must be a whole number, 0 or more, got "3 pods"'],
  ];

  it.each(more)("%s = %j", (key, value, problem) => {
    expect(parse({ [key]: value }).problems).toEqual([`metadata.${key}: ${problem}`]);
  });

  it("quotes at most 40 characters of a bad value", () => {
    const { problems } = parse({ upload_to_cloud: "y".repeat(500) });
    expect(problems).toEqual([
      `metadata.upload_to_cloud: must be "true" or "false", got "${"y".repeat(40)}"`,
    ]);
  });

  it("bounds an unknown key's value too", () => {
    expect(parse({ other: "x".repeat(LIMITS.metadataValueBytes + 1) }).problems).toEqual([
      "metadata.other: is larger than 65536 bytes",
    ]);
  });
});

describe("several problems at once", () => {
  it("are all listed, each with its key", () => {
    const { problems } = parse({
      script: "",
      upload_to_cloud: "yes",
      wait_for_results: "no",
      min_failure_delay: "soon",
      env_vars: "[]",
      kubernetes_secrets: '{"T": "bad ref!"}',
      max_duration: "0",
      wait_timeout: "later",
      max_interrupted_iterations: "some",
    });
    expect(problems.map((line) => line.slice(0, line.indexOf(":"))).sort()).toEqual([
      "metadata.env_vars",
      "metadata.kubernetes_secrets",
      "metadata.max_duration",
      "metadata.max_interrupted_iterations",
      "metadata.min_failure_delay",
      "metadata.script",
      "metadata.upload_to_cloud",
      "metadata.wait_for_results",
      "metadata.wait_timeout",
    ]);
  });

  it("lists the payload's own fields with non-string metadata values", () => {
    const parsed = webhookPayloadSchema.safeParse({
      name: "",
      namespace: "Team_A",
      phase: 3,
      metadata: { script: SCRIPT, wait_for_results: false, max_duration: 60 },
    });
    expect(parsed.success ? [] : describeIssues(parsed.error)).toEqual([
      "name: is required",
      "namespace: must be a Kubernetes object name (lowercase letters, digits, - and .)",
      "phase: must be a string, got number",
      "metadata.wait_for_results: must be a string (Flagger sends map[string]string), got boolean",
      "metadata.max_duration: must be a string (Flagger sends map[string]string), got number",
    ]);
  });

  it("lists metadata value problems along with problems of the payload's shape", () => {
    const parsed = webhookPayloadSchema.safeParse({
      name: "podinfo",
      namespace: "Team_A",
      metadata: { script: "", wait_for_results: "maybe" },
    });
    expect(parsed.success ? [] : describeIssues(parsed.error)).toEqual([
      "namespace: must be a Kubernetes object name (lowercase letters, digits, - and .)",
      "metadata.script: is required: the k6 script to run",
      'metadata.wait_for_results: must be "true" or "false", got "maybe"',
    ]);
  });
});

describe("plain words for every problem", () => {
  it("says what is missing or of the wrong kind, never zod's own wording", () => {
    const problemsOf = (body: unknown) => {
      const parsed = webhookPayloadSchema.safeParse(body);
      return parsed.success ? [] : describeIssues(parsed.error);
    };
    expect(problemsOf({ metadata: { script: SCRIPT } })).toEqual([
      "name: is required",
      "namespace: is required",
    ]);
    expect(problemsOf({ name: ["podinfo"], namespace: "test", checksum: 1, metadata: {} })).toEqual(
      [
        "name: must be a string, got array",
        "checksum: must be a string, got number",
        "metadata.script: is required: the k6 script to run",
      ],
    );
    expect(problemsOf("podinfo")).toEqual([
      "body: must be a JSON object: Flagger's {name, namespace, phase, checksum, metadata}, got string",
    ]);
  });

  it("suggests the required key a misspelled one meant, as for optional keys", () => {
    const { problems } = parse({ script: "", scirpt: SCRIPT });
    expect(problems).toEqual([
      'metadata.script: is required: the k6 script to run (metadata has "scirpt": did you mean script?)',
    ]);
    // A key nothing like it adds nothing.
    expect(parse({ script: "", cmd: "hey" }).problems).toEqual([
      "metadata.script: is required: the k6 script to run",
    ]);
  });
});

describe("parseMetadata on its own", () => {
  it("reports each problem by metadata key through the callback", () => {
    const issues: [string, string][] = [];
    const metadata = parseMetadata({ script: SCRIPT, wait_timeout: "soon" }, (key, message) =>
      issues.push([key, message]),
    );
    expect(issues).toEqual([["wait_timeout", 'must be a duration like 30s, 2m or 1h, got "soon"']]);
    // A bad value falls back to the default, so the other keys still parse.
    expect(metadata.waitTimeoutMs).toBeUndefined();
    expect(metadata.script).toBe(SCRIPT);
  });

  it("accepts strconv.ParseBool's spellings, as flagger-k6-webhook does", () => {
    const read = (value: string) => {
      const issues: string[] = [];
      const { uploadToCloud } = parseMetadata({ script: SCRIPT, upload_to_cloud: value }, (_k, m) =>
        issues.push(m),
      );
      return issues.length ? "bad" : uploadToCloud;
    };
    for (const value of ["1", "t", "T", "TRUE", "true", "True"]) expect(read(value)).toBe(true);
    for (const value of ["0", "f", "F", "FALSE", "false", "False"]) expect(read(value)).toBe(false);
    for (const value of ["tRUE", "yes", "y", "2", "on"]) expect(read(value)).toBe("bad");
  });
});
