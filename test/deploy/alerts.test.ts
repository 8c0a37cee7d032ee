// The alerts k6-gate ships (k8s/components/alerts and the chart's PrometheusRule, off by
// default): Prometheus's own rule parser accepts them (test/deploy/promrules runs
// model/rulefmt, what `promtool check rules` runs), every alert has a runbook paragraph
// in docs/operations.md where its runbook_url points, and every metric they read is one
// k6-gate exports.
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "@k6-gate/testkit/paths";
import { arr, at, find, rec, str, toObjects } from "./k8s-objects";

const TOOLS_BIN = join(ROOT, ".tools/bin");
const KUSTOMIZE = join(TOOLS_BIN, "kustomize");
const HELM = join(TOOLS_BIN, "helm");
const PROMRULES = join(TOOLS_BIN, "promrules");

beforeAll(() => {
  // No-ops when up to date; else builds them (Go; a minute or two the first time).
  execFileSync("make", ["--no-print-directory", "-f", "mk/deploy.mk", KUSTOMIZE, HELM, PROMRULES], {
    cwd: ROOT,
    stdio: "inherit",
  });
}, 900_000);

const sources = {
  "k8s/overlays/example (components/alerts)": () =>
    execFileSync(KUSTOMIZE, ["build", join(ROOT, "k8s/overlays/example")], { encoding: "utf8" }),
  "the chart with metrics.prometheusRule.enabled": () =>
    execFileSync(
      HELM,
      [
        "template",
        "k6-gate",
        join(ROOT, "charts/k6-gate"),
        "--set",
        "metrics.prometheusRule.enabled=true",
      ],
      { encoding: "utf8" },
    ),
};

/** Every metric name k6-gate's code registers (`name: "k6gate_..."`), with a histogram's series. */
function exportedMetrics(): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/\.tsx?$/.test(entry.name)) {
        for (const match of readFileSync(path, "utf8").matchAll(/name: "(k6gate_\w+)"/g)) {
          const name = match[1] ?? "";
          for (const suffix of ["", "_bucket", "_sum", "_count"]) names.add(name + suffix);
        }
      }
    }
  };
  for (const dir of ["apps", "libs"]) walk(join(ROOT, dir));
  return names;
}

/** The GitHub anchors of docs/operations.md's headings. */
const anchors = new Set(
  readFileSync(join(ROOT, "docs/operations.md"), "utf8")
    .split("\n")
    .filter((line) => line.startsWith("#"))
    .map((line) =>
      line
        .replace(/^#+\s*/, "")
        .toLowerCase()
        .replace(/[^a-z0-9 -]/g, "")
        .replace(/ /g, "-"),
    ),
);

describe.each(Object.entries(sources))("alerts of %s", (_what, build) => {
  let text = "";
  beforeAll(() => {
    text = build();
  });

  it("pass Prometheus's rule parser, each with a severity, a summary and a runbook", () => {
    const report = execFileSync(PROMRULES, { input: text, encoding: "utf8" });
    expect(report).toMatch(/1 PrometheusRule objects, 5 rules: SUCCESS/);
  });

  it("cover what the on-call must hear of, each with its runbook paragraph", () => {
    const rule = find(toObjects(text, "alerts"), "PrometheusRule", "k6-gate");
    const rules = arr(at(rule.raw, "spec.groups.0.rules"), "rules").map((r) => rec(r, "rule"));
    expect(rules.map((r) => str(r.alert, "alert"))).toEqual([
      "K6GateRedisUnreachable",
      "K6GateNoWorker",
      "K6GateBacklogGrowing",
      "K6GateRunsErroring",
      "K6GateRunStalled",
    ]);
    const exported = exportedMetrics();
    for (const r of rules) {
      const alert = str(r.alert, "alert");
      const url = str(at(r, "annotations.runbook_url"), `${alert} runbook_url`);
      expect(url, alert).toMatch(/\/docs\/operations\.md#/);
      expect(anchors, `${alert}: docs/operations.md has no heading for ${url}`).toContain(
        url.split("#")[1],
      );
      for (const metric of str(r.expr, "expr").match(/\bk6gate_\w+/g) ?? []) {
        expect(exported, `${alert} reads ${metric}`).toContain(metric);
      }
    }
  });
});
