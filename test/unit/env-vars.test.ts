import { describe, expect, it } from "vitest";
import { describeIssues, webhookPayloadSchema } from "@k6-gate/shared";

/** The 400 lines for a webhook whose only unusual metadata is `env_vars`. */
function parse(envVars: string) {
  const parsed = webhookPayloadSchema.safeParse({
    name: "podinfo",
    namespace: "test",
    metadata: { script: "export default function () {}", env_vars: envVars },
  });
  return parsed.success
    ? { envVars: parsed.data.metadata.envVars, problems: [] }
    : { envVars: undefined, problems: describeIssues(parsed.error) };
}

describe("env_vars: a JSON object of strings", () => {
  it("passes strings through, as given", () => {
    expect(parse('{"TARGET": "http://podinfo-canary:9898/", "EMPTY": "", "N": "3"}')).toEqual({
      envVars: { TARGET: "http://podinfo-canary:9898/", EMPTY: "", N: "3" },
      problems: [],
    });
  });

  it("is empty when absent or blank", () => {
    expect(parse("").envVars).toEqual({});
    expect(parse("  ").envVars).toEqual({});
  });

  it("names every key whose value is not a string, with what it is", () => {
    const { problems } = parse(
      '{"COUNT": 3, "ON": true, "NOTHING": null, "LIST": ["a"], "MAP": {"a": "b"}, "OK": "yes"}',
    );
    expect(problems).toEqual([
      "metadata.env_vars: COUNT must be a string, got number",
      "metadata.env_vars: ON must be a string, got boolean",
      "metadata.env_vars: NOTHING must be a string, got null",
      "metadata.env_vars: LIST must be a string, got object",
      "metadata.env_vars: MAP must be a string, got object",
    ]);
  });

  it("rejects anything that is not a JSON object", () => {
    for (const text of ['["A=1"]', '"A=1"', "42", "null"]) {
      expect(parse(text).problems).toEqual(["metadata.env_vars: must be a JSON object"]);
    }
    expect(parse("{A: 1}").problems).toEqual([
      "metadata.env_vars: must be a JSON object (invalid JSON)",
    ]);
  });

  it("names invalid variable names and the ones k6-gate sets itself", () => {
    const { problems } = parse('{"1ABC": "x", "WITH-DASH": "x", "PATH": "/tmp", "HOME": "/"}');
    expect(problems).toEqual([
      'metadata.env_vars: "1ABC" is not a valid variable name',
      'metadata.env_vars: "WITH-DASH" is not a valid variable name',
      "metadata.env_vars: PATH is set by k6-gate and cannot be overridden",
      "metadata.env_vars: HOME is set by k6-gate and cannot be overridden",
    ]);
  });
});
