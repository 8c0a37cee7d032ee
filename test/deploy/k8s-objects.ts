// Kubernetes objects as parsed YAML, read with small typed accessors: shared by the
// kustomize tests (manifests.test.ts) and the Helm chart tests (chart.test.ts).
import { parseAllDocuments } from "yaml";

// ---------------------------------------------------------------------------
// Small typed accessors over parsed YAML (everything arrives as unknown).

export type Rec = Record<string, unknown>;

export function isRec(v: unknown): v is Rec {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
export function rec(v: unknown, what: string): Rec {
  if (!isRec(v)) throw new Error(`${what}: expected a mapping, got ${JSON.stringify(v)}`);
  return v;
}
export function arr(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) throw new Error(`${what}: expected a list, got ${JSON.stringify(v)}`);
  return v;
}
export function str(v: unknown, what: string): string {
  if (typeof v !== "string")
    throw new Error(`${what}: expected a string, got ${JSON.stringify(v)}`);
  return v;
}
/** Follows a dotted path; undefined when any step is missing. */
export function at(v: unknown, path: string): unknown {
  let cur: unknown = v;
  for (const key of path.split(".")) {
    if (Array.isArray(cur) && /^\d+$/.test(key)) cur = cur[Number(key)];
    else if (isRec(cur)) cur = cur[key];
    else return undefined;
  }
  return cur;
}
export function strMap(v: unknown, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(rec(v, what))) out[k] = str(val, `${what}.${k}`);
  return out;
}
export function isSubset(sub: Record<string, string>, sup: Record<string, string>): boolean {
  return Object.entries(sub).every(([k, v]) => sup[k] === v);
}

/** Go-style durations as the services take them: "500ms", "10s", "5m", "1h30m", "30d". */
export function durationSeconds(text: string): number {
  const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    total += Number(m[1]) * (units[m[2] ?? ""] ?? Number.NaN);
    matched = re.lastIndex;
  }
  if (matched !== text.length || text.length === 0)
    throw new Error(`not a duration: ${JSON.stringify(text)}`);
  return total;
}

/** An image reference is pinned when it has a tag other than `latest`, or a digest. */
export function imagePinned(image: string): boolean {
  if (/@sha256:[0-9a-f]{64}$/.test(image)) return true;
  const lastSegment = image.slice(image.lastIndexOf("/") + 1);
  const colon = lastSegment.indexOf(":");
  if (colon < 0) return false;
  const tag = lastSegment.slice(colon + 1);
  return tag.length > 0 && tag !== "latest";
}

// ---------------------------------------------------------------------------
// Kubernetes objects.

export interface K8sObject {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string | undefined;
  raw: Rec;
}

export function toObjects(yamlText: string, source: string): K8sObject[] {
  return parseAllDocuments(yamlText)
    .map((doc) => {
      if (doc.errors.length > 0)
        throw new Error(`${source}: ${doc.errors.map((e) => e.message).join("; ")}`);
      const raw: unknown = doc.toJS();
      return raw;
    })
    .filter((raw) => raw !== null && raw !== undefined)
    .map((raw) => {
      const r = rec(raw, source);
      const ns = at(r, "metadata.namespace");
      return {
        apiVersion: str(r.apiVersion, `${source} apiVersion`),
        kind: str(r.kind, `${source} kind`),
        name: str(at(r, "metadata.name"), `${source} metadata.name`),
        namespace: typeof ns === "string" ? ns : undefined,
        raw: r,
      };
    });
}

export function find(objs: K8sObject[], kind: string, name: string): K8sObject {
  const found = objs.find((o) => o.kind === kind && o.name === name);
  if (!found)
    throw new Error(
      `${kind}/${name} not in the build (have: ${objs.map((o) => `${o.kind}/${o.name}`).join(", ")})`,
    );
  return found;
}

export const WORKLOAD_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"]);

export function podSpec(o: K8sObject): Rec {
  const path = o.kind === "CronJob" ? "spec.jobTemplate.spec.template.spec" : "spec.template.spec";
  return rec(at(o.raw, path), `${o.kind}/${o.name} ${path}`);
}
export function templateLabels(o: K8sObject): Record<string, string> {
  return strMap(at(o.raw, "spec.template.metadata.labels"), `${o.kind}/${o.name} template labels`);
}
export function containers(o: K8sObject): Rec[] {
  const spec = podSpec(o);
  const init: unknown[] = Array.isArray(spec.initContainers)
    ? (spec.initContainers as unknown[])
    : [];
  const all = [...arr(spec.containers, "containers"), ...init];
  return all.map((c, i) => rec(c, `${o.kind}/${o.name} container ${i}`));
}
export function container(o: K8sObject, name: string): Rec {
  const c = containers(o).find((x) => x.name === name);
  if (!c) throw new Error(`${o.kind}/${o.name} has no container ${name}`);
  return c;
}

/**
 * The environment a container starts with, as Kubernetes builds it: envFrom
 * sources in order (later wins), then `env` (wins over envFrom). Values from
 * ConfigMaps are looked up in the same build (but for the `external` ones, which are
 * skipped); Secrets and valueFrom are unknown.
 */
export function containerEnv(
  objs: K8sObject[],
  c: Rec,
  { external = [] as string[] } = {},
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const src of Array.isArray(c.envFrom) ? c.envFrom : []) {
    const cmName = at(src, "configMapRef.name");
    if (typeof cmName !== "string") continue;
    // A ConfigMap the user brings (the chart's extraEnvFrom) is not in the build.
    if (external.includes(cmName)) continue;
    const cm = find(objs, "ConfigMap", cmName);
    const prefix = at(src, "prefix");
    for (const [k, v] of Object.entries(strMap(cm.raw.data ?? {}, `ConfigMap/${cmName} data`))) {
      env[`${typeof prefix === "string" ? prefix : ""}${k}`] = v;
    }
  }
  for (const e of Array.isArray(c.env) ? c.env : []) {
    const value = at(e, "value");
    if (typeof value === "string") env[str(at(e, "name"), "env name")] = value;
  }
  return env;
}

/** The container port a probe/Service port refers to, by number or by name. */
export function resolvePort(c: Rec, port: unknown): number | undefined {
  if (typeof port === "number") return port;
  const p = arr(c.ports ?? [], "ports").find((x) => at(x, "name") === port);
  const n = at(p, "containerPort");
  return typeof n === "number" ? n : undefined;
}
