import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { parseArgs } from "node:util";
import { workerConfigSchema } from "../config";
import { checksOf, localSecrets, tryCheck } from "./try-canary";

const USAGE = `usage: npx k6-gate try [options] <canary.yaml | metadata.yaml>...

Runs the k6-gate webhooks of a Flagger Canary here, as k6-gate would: the metadata
checked by the API's rules, the script run by the worker's k6 with the same
environment and evidence rules, the verdict printed as Flagger would show it.
The Canary's script is code: it runs on THIS machine, as you, with a temporary
HOME and working directory that are removed afterwards. Try only scripts you trust.
Exit code: 0 every check passed, 1 one failed, 2 metadata k6-gate would refuse (400).

  --secret NAME=value   a kubernetes_secrets value, by variable name or by
                        reference (secret/key or namespace/secret/key); repeatable
  --secrets FILE        the same as a JSON object {"NAME or ref": "value", ...}
  --canary NS/NAME      namespace/name for a metadata file (default default/try)
  --output              print k6's output before each verdict
Environment: K6_BIN (default: this repository's .tools/bin/k6, else k6 on PATH),
MAX_RUN_DURATION, REQUIRE_THRESHOLDS and the worker's other k6 settings.`;

function fail(message: string): never {
  console.error(`k6-gate try: ${message}\n\n${USAGE}`);
  process.exit(2);
}

async function main(): Promise<number> {
  const { values, positionals } = (() => {
    try {
      return parseArgs({
        allowPositionals: true,
        options: {
          secret: { type: "string", multiple: true, default: [] },
          secrets: { type: "string" },
          canary: { type: "string", default: "default/try" },
          output: { type: "boolean", default: false },
          help: { type: "boolean", short: "h", default: false },
        },
      });
    } catch (error) {
      return fail((error as Error).message);
    }
  })();
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length === 0) fail("no file given");

  const given: Record<string, string> = {};
  if (values.secrets) {
    const parsed: unknown = JSON.parse(readFileSync(values.secrets, "utf8"));
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
      fail(`${values.secrets} is not a JSON object`);
    for (const [key, value] of Object.entries(parsed)) given[key] = String(value);
  }
  for (const pair of values.secret) {
    const at = pair.indexOf("=");
    if (at < 1) fail(`--secret ${pair}: expected NAME=value`);
    given[pair.slice(0, at)] = pair.slice(at + 1);
  }
  const [namespace = "default", name = "try"] = values.canary.split("/");

  const repoK6 = join(import.meta.dirname, "..", "..", "..", "..", ".tools", "bin", "k6");
  const config = workerConfigSchema.parse({
    ...process.env,
    K6_BIN: process.env.K6_BIN ?? (existsSync(repoK6) ? repoK6 : "k6"),
  });
  const controller = new AbortController();
  process.once("SIGINT", () => controller.abort());

  console.error(
    "k6-gate try: running the Canary's k6 scripts on this machine, as you (temporary HOME, removed afterwards)",
  );
  let exitCode = 0;
  let found = 0;
  for (const file of positionals) {
    const checks = checksOf(readFileSync(file, "utf8"), basename(file), { namespace, name });
    found += checks.length;
    for (const check of checks) {
      console.log(`== ${check.label}`);
      const result = await tryCheck(check, {
        config,
        secrets: localSecrets(given),
        signal: controller.signal,
      });
      if (values.output && result.output) console.log(result.output.trimEnd());
      console.log(result.text);
      console.log(
        result.exitCode === 0 ? "-> PASS" : result.exitCode === 1 ? "-> FAIL" : "-> 400, not run",
      );
      exitCode = Math.max(exitCode, result.exitCode);
    }
  }
  if (found === 0)
    fail("no k6-gate webhook (url ending in /launch-test) and no metadata with a script");
  return exitCode;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`k6-gate try: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(2);
  },
);
