// What the chart, k8s/base and docker-compose.yml set is what the processes read (issue 32):
// a variable that was removed, renamed or misspelled would be ignored at run time (with a
// warning in the log nobody reads at install), so it fails here instead. The chart README's
// values table itself is checked against values.yaml by scripts/chart-readme.mjs --check
// (chart.test.ts, "one version").
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { z } from "zod";
import { ROOT, TOOLS_BIN } from "@k6-gate/testkit/paths";
import { apiConfigSchema } from "../../apps/api/src/config";
import { workerConfigSchema } from "../../apps/worker/src/config";
import { CHART, render } from "./helm-chart";
import {
  type K8sObject,
  type Rec,
  arr,
  at,
  containers,
  find,
  isRec,
  str,
  toObjects,
} from "./k8s-objects";

/** The object schema under a config schema's transforms (zod pipes keep it as `in`). */
function keysOf(schema: unknown): string[] {
  const node = schema as { shape?: Record<string, z.ZodType>; in?: unknown };
  if (node.shape) return Object.keys(node.shape);
  if (node.in) return keysOf(node.in);
  throw new Error("not an object schema");
}

/** Read by Node or OpenSSL, not k6-gate (ci/all-features-values.yaml sets them as extraEnv). */
const RUNTIME = new Set(["NODE_OPTIONS", "NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE"]);
const READ = {
  api: new Set([...keysOf(apiConfigSchema), ...RUNTIME]),
  worker: new Set([...keysOf(workerConfigSchema), ...RUNTIME]),
};
READ.worker.forEach((name) => READ.api.has(name) || READ.api.add(name)); // `all` reads both
const readByAll = READ.api;

/** Every variable name a container gets: its env entries and the ConfigMaps it loads. */
function variablesOf(objs: K8sObject[], c: Rec): string[] {
  const names = arr(c.env ?? [], "env").map((e) => str(at(e, "name"), "env name"));
  for (const source of arr(c.envFrom ?? [], "envFrom")) {
    const name = at(source, "configMapRef.name");
    const map =
      typeof name === "string" && objs.find((o) => o.kind === "ConfigMap" && o.name === name);
    if (map && isRec(map.raw.data)) names.push(...Object.keys(map.raw.data));
  }
  return names;
}

/** What each k6-gate container sets that its process does not read. */
function unread(objs: K8sObject[]): string[] {
  return objs
    .filter((o) => o.kind === "Deployment" || o.kind === "StatefulSet")
    .flatMap((o) =>
      containers(o).flatMap((c) => {
        const name = str(c.name, "container name");
        const read = name === "api" ? READ.api : name === "worker" ? READ.worker : readByAll;
        if (!["api", "worker", "all-in-one"].includes(name)) return [];
        return variablesOf(objs, c)
          .filter((variable) => !read.has(variable))
          .map((variable) => `${o.name}/${name}: ${variable}`);
      }),
    );
}

describe("variables set by the deployment files are read by the processes", () => {
  const valueSets = [
    "(defaults)",
    ...readdirSync(join(CHART, "ci"))
      .filter((f) => f.endsWith("-values.yaml"))
      .map((f) => `ci/${f}`),
  ];

  it.each(valueSets)("helm template with %s", (set) => {
    expect(unread(render(set === "(defaults)" ? undefined : set).objs)).toEqual([]);
  });

  it("kustomize build k8s/base", () => {
    const built = execFileSync(join(TOOLS_BIN, "kustomize"), ["build", join(ROOT, "k8s/base")], {
      encoding: "utf8",
    });
    const objs = toObjects(built, "kustomize build k8s/base");
    expect(find(objs, "Deployment", "k6-gate-worker")).toBeDefined();
    expect(unread(objs)).toEqual([]);
  });

  it("docker-compose.yml", () => {
    const compose = parse(readFileSync(join(ROOT, "docker-compose.yml"), "utf8"), {
      merge: true,
    }) as {
      services: Record<string, { command?: string[]; environment?: Record<string, unknown> }>;
    };
    const problems = Object.entries(compose.services).flatMap(([service, spec]) => {
      const command = spec.command?.[0];
      const read =
        service === "k6-gate" ? readByAll : command === "worker" ? READ.worker : undefined;
      if (!read) return [];
      return Object.keys(spec.environment ?? {})
        .filter((variable) => !read.has(variable))
        .map((variable) => `${service}: ${variable}`);
    });
    expect(problems).toEqual([]);
  });
});
