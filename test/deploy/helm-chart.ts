// charts/k6-gate rendered by the pinned helm (.tools/bin, built by mk/deploy.mk): shared by
// the chart tests (chart.test.ts) and the autoscaler test (keda-scaler.test.ts).
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ROOT, TOOLS_BIN } from "@k6-gate/testkit/paths";
import { type K8sObject, toObjects } from "./k8s-objects";

export const HELM = join(TOOLS_BIN, "helm");
export const CHART = join(ROOT, "charts/k6-gate");
/** Release name and namespace that give the chart k8s/base's object names. */
export const RELEASE = "k6-gate";
export const NAMESPACE = "k6-gate";

export interface Helm {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** helm with `args`, in the chart's directory. */
export function helm(...args: string[]): Helm {
  const r = spawnSync(HELM, args, { cwd: CHART, encoding: "utf8", maxBuffer: 64 << 20 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function valueArgs(set: string | undefined, extra: string[] = []): string[] {
  return [...(set ? ["--values", set] : []), ...extra];
}

/** `helm template` with a value set of ci/ (or the defaults) and more arguments. */
export function render(set?: string, ...extra: string[]): { text: string; objs: K8sObject[] } {
  const r = helm("template", RELEASE, ".", "--namespace", NAMESPACE, ...valueArgs(set, extra));
  if (r.status !== 0)
    throw new Error(`helm template ${set ?? ""} ${extra.join(" ")}:\n${r.stderr}`);
  return { text: r.stdout, objs: toObjects(r.stdout, `helm template ${set ?? "(defaults)"}`) };
}
