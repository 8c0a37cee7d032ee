import fc from "fast-check";
import { METADATA_KEYS } from "@k6-gate/shared";

/**
 * fast-check generators of what a hostile or broken caller sends to /launch-test: wrong
 * types, huge and deep values, every kind of unicode, prototype-pollution keys, and
 * payloads that are valid but for one field. No generated namespace is ever allowed, so
 * a payload that passes validation stops at the allow-list (403) and never reaches Redis.
 */
export const ALLOWED_NAMESPACE = "fuzz-allowed-only";

export const POLLUTION_KEYS = [
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "valueOf",
  "hasOwnProperty",
  "__defineGetter__",
];

/** A JSON text nested up to 100,000 levels: arrays or objects. */
const deepJson = fc
  .tuple(fc.integer({ min: 1, max: 100_000 }), fc.boolean())
  .map(([depth, arrays]) =>
    arrays
      ? "[".repeat(depth) + "]".repeat(depth)
      : '{"a":'.repeat(depth) + "1" + "}".repeat(depth),
  );

/** Up to ~600 KB: past the script, metadata value and body limits. */
const hugeString = fc
  .tuple(fc.string({ minLength: 1, maxLength: 3 }), fc.integer({ min: 1_000, max: 200_000 }))
  .map(([unit, times]) => unit.repeat(times));

/** Rare in any one place (they are slow to build), common across a run. */
const oversized = fc.oneof(hugeString, deepJson);

const loneSurrogates = fc.string({
  unit: fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code)),
  maxLength: 8,
});

const nastyString = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  loneSurrogates,
  fc.constantFrom(
    "",
    " ",
    "\u0000",
    "\u202e",
    "$(touch /tmp/k6-gate-pwned)",
    "`id`; rm -rf /",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "null",
    "1e309",
    "-1s",
    "0s",
    "99999999h",
  ),
);

/** Objects whose own keys include `__proto__` & co (Object.fromEntries keeps them own). */
const pollutedObject = <T>(value: fc.Arbitrary<T>) =>
  fc
    .array(fc.tuple(fc.oneof(fc.constantFrom(...POLLUTION_KEYS), fc.string()), value), {
      maxLength: 6,
    })
    .map((entries) => Object.fromEntries(entries) as Record<string, T>);

const anyJson = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  pollutedObject(fc.jsonValue({ maxDepth: 2 })),
  nastyString,
);

/** Mostly right; else a wrong string, another JSON type, something oversized, or absent. */
const mostly = <T>(right: fc.Arbitrary<T>) =>
  fc.oneof(
    { weight: 40, arbitrary: right },
    { weight: 4, arbitrary: nastyString },
    { weight: 1, arbitrary: anyJson },
    { weight: 1, arbitrary: oversized },
  );

/** Env var names: valid (`constructor` is one), polluting, reserved, isolation-breaking. */
const envName = fc.oneof(
  { weight: 30, arbitrary: fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,12}$/) },
  { weight: 6, arbitrary: fc.constantFrom(...POLLUTION_KEYS) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "PATH",
      "HOME",
      "K6_ADDRESS",
      "K6_CLOUD_TOKEN",
      "K6_AUTO_EXTENSION_RESOLUTION",
      "K6_WEB_DASHBOARD",
      "LD_PRELOAD",
      "K6_BROWSER_EXECUTABLE_PATH",
      "1BAD",
      "A-B",
      "",
    ),
  },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 10 }) },
);

/** env_vars / kubernetes_secrets: a JSON object string, or too many keys, or not an object. */
const jsonObjectString = (value: fc.Arbitrary<unknown>) =>
  mostly(
    fc
      .oneof(
        { weight: 20, arbitrary: fc.array(fc.tuple(envName, value), { maxLength: 6 }) },
        // Over the 100-variable limit.
        {
          weight: 1,
          arbitrary: fc
            .integer({ min: 101, max: 2_000 })
            .map((n) => Array.from({ length: n }, (_, i) => [`V${i}`, "x"] as [string, unknown])),
        },
      )
      .map((entries) => JSON.stringify(Object.fromEntries(entries))),
  );

const durationText = mostly(fc.constantFrom("2m", "30s", "1h", "0s", "1ms", "1.5m", ""));
const boolText = mostly(fc.constantFrom("true", "false", "TRUE", "1", "0", ""));

/** A plausible value for each known metadata key, or garbage in its place. */
const metadataValue: Record<string, fc.Arbitrary<unknown>> = {
  script: mostly(fc.constantFrom("export default function () {}", "x", "// $(id)\n")),
  upload_to_cloud: boolText,
  wait_for_results: boolText,
  slack_channels: mostly(
    fc.oneof(
      { weight: 10, arbitrary: fc.constantFrom("#a,#b", ",,,,", "#c") },
      {
        weight: 1,
        arbitrary: fc
          .integer({ min: 21, max: 2_000 })
          .map((n) => Array.from({ length: n }, (_, i) => `#c${i}`).join(",")),
      },
    ),
  ),
  notification_context: mostly(fc.string()),
  min_failure_delay: durationText,
  env_vars: jsonObjectString(mostly(fc.string())),
  kubernetes_secrets: jsonObjectString(mostly(fc.constantFrom("s/key", "ns/s/key", "bad ref"))),
  max_duration: durationText,
  wait_timeout: durationText,
};

const metadata = fc
  .tuple(
    fc.record(metadataValue, { requiredKeys: [] }),
    fc.array(
      fc.tuple(
        fc.oneof(fc.constantFrom(...POLLUTION_KEYS, ...METADATA_KEYS), fc.string()),
        mostly(fc.string()),
      ),
      { maxLength: 4 },
    ),
  )
  .map(([known, extra]) => Object.fromEntries([...Object.entries(known), ...extra]));

const k8sName = fc
  .oneof(
    fc.constantFrom("podinfo", "test", "team-a", "a".repeat(253)),
    fc.stringMatching(/^[a-z0-9]([-a-z0-9.]{0,20}[a-z0-9])?$/),
  )
  .filter((name) => name !== ALLOWED_NAMESPACE);

const structured = fc
  .tuple(
    fc.record(
      {
        name: mostly(k8sName),
        namespace: mostly(k8sName),
        phase: mostly(fc.constantFrom("Progressing", "")),
        checksum: mostly(fc.string({ maxLength: 300 })),
        metadata: mostly(metadata),
      },
      { requiredKeys: ["name", "namespace", "metadata"] },
    ),
    pollutedObject(anyJson),
  )
  .map(([payload, extra]) => JSON.stringify({ ...extra, ...payload }));

/** Request bodies as text: structured payloads, any JSON, broken JSON, deep JSON. */
export const hostileBody: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: structured },
  { weight: 1, arbitrary: fc.jsonValue().map((value) => JSON.stringify(value)) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(structured, fc.nat())
      .map(([text, cut]) => text.slice(0, cut % Math.max(1, text.length))),
  },
  { weight: 1, arbitrary: nastyString },
  { weight: 1, arbitrary: oversized },
);

export type Auth =
  | { kind: "bearer" | "bearer-lowercase" | "query" }
  | { kind: "missing" }
  | { kind: "wrong"; token: string; where: "bearer" | "query" };

/** How the caller presents the token: right most of the time, so bodies get parsed. */
export const hostileAuth: fc.Arbitrary<Auth> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.constantFrom<Auth>(
      { kind: "bearer" },
      { kind: "bearer-lowercase" },
      { kind: "query" },
    ),
  },
  { weight: 1, arbitrary: fc.constant<Auth>({ kind: "missing" }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("wrong" as const),
      token: fc.string({ maxLength: 80 }),
      where: fc.constantFrom("bearer" as const, "query" as const),
    }),
  },
);

/** Path and headers for `auth` when the right token is `token`. */
export function authRequest(
  auth: Auth,
  token: string,
): { path: string; headers: Record<string, string> } {
  switch (auth.kind) {
    case "bearer":
      return { path: "/launch-test", headers: { authorization: `Bearer ${token}` } };
    case "bearer-lowercase":
      return { path: "/launch-test", headers: { authorization: `bearer ${token}` } };
    case "query":
      return { path: `/launch-test?token=${encodeURIComponent(token)}`, headers: {} };
    case "missing":
      return { path: "/launch-test", headers: {} };
    case "wrong":
      return auth.where === "bearer"
        ? { path: "/launch-test", headers: { authorization: `Bearer ${auth.token}` } }
        : { path: `/launch-test?token=${encodeURIComponent(auth.token)}`, headers: {} };
  }
}
