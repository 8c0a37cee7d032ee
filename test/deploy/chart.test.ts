// The Helm chart charts/k6-gate, rendered by the pinned helm (.tools/bin, built by
// mk/deploy.mk) with its defaults and with each value set in its ci/ directory: lint,
// strict decoding into the Go types of Kubernetes, KEDA and prometheus-operator, what the
// optional features render, the schema refusing typos, and that its defaults render what
// k8s/base does (a drift in either one fails here). Also: one version across package.json,
// the chart, the kustomize image and the CHANGELOG; the chart README generated from
// values.yaml; the GitHub workflows (actionlint, and what the release must do).
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { KILL_GRACE_MS } from "../../apps/worker/src/config";
import { ROOT, TOOLS_BIN } from "@k6-gate/testkit/paths";
import { CHART, HELM, NAMESPACE, RELEASE, helm, render, valueArgs } from "./helm-chart";
import {
  type K8sObject,
  type Rec,
  arr,
  at,
  container,
  containerEnv,
  find,
  isRec,
  isSubset,
  rec,
  str,
  strMap,
  templateLabels,
  toObjects,
  WORKLOAD_KINDS,
  containers,
  resolvePort,
} from "./k8s-objects";

const KUSTOMIZE = join(TOOLS_BIN, "kustomize");
const K8S_STRICT = join(TOOLS_BIN, "k8s-strict");
const ACTIONLINT = join(TOOLS_BIN, "actionlint");
const API = "k6-gate-api";
const WORKER = "k6-gate-worker";
/** mode: all-in-one's one Deployment (the API and a worker in one process). */
const ALL_IN_ONE = "k6-gate-all-in-one";
/** The ConfigMap ci/all-features-values.yaml brings in with worker.extraEnvFrom. */
const EXTERNAL = ["k6-gate-extra"];

const VALUE_SETS = readdirSync(join(CHART, "ci"))
  .filter((f) => f.endsWith("-values.yaml"))
  .sort()
  .map((f) => `ci/${f}`);

/** The Deployment and container that run k6: the workers, or the all-in-one pod. */
function k6Runner(objs: K8sObject[]): { deployment: K8sObject; container: Rec } {
  const allInOne = objs.find((o) => o.kind === "Deployment" && o.name === ALL_IN_ONE);
  if (allInOne) return { deployment: allInOne, container: container(allInOne, "all-in-one") };
  const worker = find(objs, "Deployment", WORKER);
  return { deployment: worker, container: container(worker, "worker") };
}

/** The container that serves the API: the API's, or the all-in-one pod's. */
function apiContainer(objs: K8sObject[]): Rec {
  const allInOne = objs.find((o) => o.kind === "Deployment" && o.name === ALL_IN_ONE);
  return allInOne
    ? container(allInOne, "all-in-one")
    : container(find(objs, "Deployment", API), "api");
}

/** Fails to render, with helm's message. */
function renderError(...args: string[]): string {
  const r = helm("template", RELEASE, ".", "--namespace", NAMESPACE, ...args);
  expect(r.status, `helm template ${args.join(" ")} should fail`).not.toBe(0);
  return r.stderr;
}

/** Env vars a container gets from a Secret: name -> "secret/key". */
function secretEnv(c: Rec): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of arr(c.env ?? [], "env")) {
    const ref = at(e, "valueFrom.secretKeyRef");
    if (isRec(ref))
      out[str(at(e, "name"), "env name")] = `${str(ref.name, "secret")}/${str(ref.key, "key")}`;
  }
  return out;
}

/** A ScaledObject's one trigger (k6-gate's: metrics-api on /queue/depth). */
function kedaTrigger(so: K8sObject): Rec {
  const triggers = arr(at(so.raw, "spec.triggers"), "triggers");
  expect(triggers).toHaveLength(1);
  return rec(triggers[0], "trigger");
}

/** The port of the API Service (the one named after the release). */
function apiServicePort(objs: K8sObject[]): number {
  const port = at(find(objs, "Service", RELEASE).raw, "spec.ports.0.port");
  if (typeof port !== "number") throw new Error(`API Service port: ${JSON.stringify(port)}`);
  return port;
}

/** The namespaces an ingress rule admits by name (`kubernetes.io/metadata.name`). */
function fromNamespaces(rule: unknown): unknown[] {
  return arr(at(rule, "from"), "from")
    .map((peer) => at(peer, "namespaceSelector.matchLabels"))
    .filter(isRec)
    .map((labels) => labels["kubernetes.io/metadata.name"]);
}

/** The same object with the chart's extra label (release instance) dropped everywhere. */
function withoutInstance(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutInstance);
  if (!isRec(v)) return v;
  return Object.fromEntries(
    Object.entries(v)
      .filter(([k]) => k !== "app.kubernetes.io/instance")
      .map(([k, val]) => [k, withoutInstance(val)]),
  );
}

const pkgVersion = (
  JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }
).version;
const chartYaml = rec(parse(readFileSync(join(CHART, "Chart.yaml"), "utf8")), "Chart.yaml");

beforeAll(() => {
  // No-ops when up to date; else `go install` helm and kustomize / `go build` k8s-strict.
  execFileSync(
    "make",
    ["--no-print-directory", "-f", "mk/deploy.mk", HELM, KUSTOMIZE, K8S_STRICT, ACTIONLINT],
    { cwd: ROOT, stdio: "inherit" },
  );
}, 900_000);

describe.each([undefined, ...VALUE_SETS])("helm chart with %s", (set) => {
  let rendered: { text: string; objs: K8sObject[] };
  beforeAll(() => {
    rendered = render(set);
  });

  it("passes helm lint --strict", () => {
    const r = helm("lint", "--strict", ".", "--namespace", NAMESPACE, ...valueArgs(set));
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it("decodes strictly into the Go types of Kubernetes, KEDA and prometheus-operator", () => {
    const report = execFileSync(K8S_STRICT, [], { input: rendered.text, encoding: "utf8" });
    expect(report).toMatch(/strictly decoded \d+ objects, 0 not checked/);
  });

  it("pins every image, runs every pod non-root and read-only, in the release's namespace", () => {
    const { objs } = rendered;
    for (const o of objs) {
      if (o.kind === "Role" || o.kind === "RoleBinding") continue; // in the canaries' namespaces
      expect(o.namespace, `${o.kind}/${o.name}`).toBe(NAMESPACE);
    }
    for (const o of objs.filter((x) => WORKLOAD_KINDS.has(x.kind))) {
      expect(at(o.raw, "spec.template.spec.securityContext.runAsNonRoot"), o.name).toBe(true);
      for (const c of containers(o)) {
        expect(str(c.image, "image"), o.name).toMatch(/(:[\w.-]+|@sha256:[0-9a-f]{64})$/);
        expect(at(c, "securityContext.readOnlyRootFilesystem"), o.name).toBe(true);
        expect(at(c, "securityContext.allowPrivilegeEscalation"), o.name).toBe(false);
      }
    }
  });

  it("gives what runs k6 more termination grace than SHUTDOWN_GRACE + k6's fixed stop", () => {
    const { deployment: worker, container: runner } = k6Runner(rendered.objs);
    const env = containerEnv(rendered.objs, runner, { external: EXTERNAL });
    const seconds = (d: string | undefined) => Number(/^(\d+)s$/.exec(d ?? "")?.[1]);
    const grace = at(worker.raw, "spec.template.spec.terminationGracePeriodSeconds") as number;
    expect(grace).toBe(seconds(env.SHUTDOWN_GRACE) + KILL_GRACE_MS / 1000 + 20);
  });

  it("points Services, PDBs, monitors and autoscalers at objects and labels that exist", () => {
    const { objs } = rendered;
    const workloads = objs.filter((o) => WORKLOAD_KINDS.has(o.kind));
    for (const o of objs.filter((x) =>
      ["Service", "PodDisruptionBudget", "PodMonitor"].includes(x.kind),
    )) {
      const selector = strMap(
        at(o.raw, o.kind === "Service" ? "spec.selector" : "spec.selector.matchLabels"),
        `${o.kind}/${o.name} selector`,
      );
      expect(
        workloads.filter((w) => isSubset(selector, templateLabels(w))),
        `${o.kind}/${o.name}`,
      ).toHaveLength(1);
    }
    for (const o of objs.filter(
      (x) => x.kind === "ScaledObject" || x.kind === "HorizontalPodAutoscaler",
    )) {
      expect(at(o.raw, "spec.scaleTargetRef.name")).toBe(WORKER);
    }
    for (const sm of objs.filter((x) => x.kind === "ServiceMonitor")) {
      const svc = find(objs, "Service", RELEASE);
      const selector = strMap(at(sm.raw, "spec.selector.matchLabels"), "ServiceMonitor selector");
      expect(isSubset(selector, strMap(at(svc.raw, "metadata.labels"), "Service labels"))).toBe(
        true,
      );
    }
    for (const ing of objs.filter((x) => x.kind === "Ingress")) {
      for (const rule of arr(at(ing.raw, "spec.rules"), "rules"))
        for (const path of arr(at(rule, "http.paths"), "paths")) {
          expect(at(path, "backend.service.name")).toBe(RELEASE);
          expect(at(path, "backend.service.port.name")).toBe("http");
        }
    }
  });

  it("reads Redis's password from one Secret in the api, the workers and Redis", () => {
    const { objs } = rendered;
    const refs = [apiContainer(objs), k6Runner(objs).container].map(
      (c) => secretEnv(c).REDIS_PASSWORD,
    );
    expect(refs[0]).toBeDefined();
    expect(refs[1]).toBe(refs[0]);
    const redis = objs.find((o) => o.kind === "StatefulSet");
    if (redis) {
      const c = container(redis, "redis");
      expect(secretEnv(c).REDIS_PASSWORD).toBe(refs[0]);
      const args = arr(c.args, "args").map(String);
      expect(args[args.indexOf("--requirepass") + 1]).toBe("$(REDIS_PASSWORD)");
    }
  });

  it("points KEDA at the API's /queue/depth through the API Service, which its NetworkPolicy opens", () => {
    const { objs } = rendered;
    for (const so of objs.filter((o) => o.kind === "ScaledObject")) {
      const worker = container(find(objs, "Deployment", WORKER), "worker");
      expect(kedaTrigger(so)).toEqual({
        type: "metrics-api",
        name: "runs",
        metricType: "AverageValue",
        metadata: {
          url: `http://${RELEASE}.${NAMESPACE}.svc.cluster.local:${apiServicePort(objs)}/queue/depth`,
          format: "json",
          valueLocation: "runs",
          targetValue: containerEnv(objs, worker, { external: EXTERNAL }).WORKER_CONCURRENCY,
          activationTargetValue: "0",
        },
      });
      // KEDA reads no Redis: no address, no password.
      expect(JSON.stringify(so.raw)).not.toMatch(/redis|password/i);
      const policies = objs.filter((o) => o.kind === "NetworkPolicy");
      if (policies.length === 0) continue;
      const api = container(find(objs, "Deployment", API), "api");
      const port = resolvePort(api, "http");
      const kedaPorts = arr(at(find(objs, "NetworkPolicy", API).raw, "spec.ingress"), "ingress")
        .filter((r) => fromNamespaces(r).includes("keda"))
        .flatMap((r) => arr(at(r, "ports"), "ports").map((p) => at(p, "port")));
      expect(kedaPorts).toEqual([port]);
      // The bundled Redis admits pods of the release only, no namespace (KEDA's included).
      const redisPolicy = policies.find((p) => p.name === "k6-gate-redis");
      const redisPeers = arr(at(redisPolicy?.raw, "spec.ingress") ?? [], "ingress").flatMap((r) =>
        fromNamespaces(r),
      );
      expect(redisPeers).toEqual([]);
    }
  });
});

describe("helm chart values", () => {
  it("defaults need no CRD, no Secret made by hand, and use the release's image", () => {
    const { objs } = render();
    const kinds = new Set(objs.map((o) => o.kind));
    for (const crd of ["ScaledObject", "HorizontalPodAutoscaler", "ServiceMonitor", "PodMonitor"])
      expect(kinds.has(crd), crd).toBe(false);
    for (const off of ["NetworkPolicy", "PodDisruptionBudget", "Ingress", "Role", "RoleBinding"])
      expect(kinds.has(off), off).toBe(false);
    // The generated Redis password: a Secret of the chart, 40 random characters.
    const secret = find(objs, "Secret", "k6-gate-redis");
    const password = Buffer.from(str(at(secret.raw, "data.REDIS_PASSWORD"), "password"), "base64");
    expect(password.toString()).toMatch(/^[A-Za-z0-9]{40}$/);
    const image = str(container(find(objs, "Deployment", API), "api").image, "image");
    expect(image).toBe(`ghcr.io/k6-gate/k6-gate:${String(chartYaml.appVersion)}`);
    expect(at(find(objs, "Deployment", WORKER).raw, "spec.replicas")).toBe(1);
  });

  it("with every feature on: KEDA on the queue with a fallback, RBAC per namespace, secrets from Secrets", () => {
    const { objs } = render("ci/all-features-values.yaml");
    const worker = find(objs, "Deployment", WORKER);
    const wc = container(worker, "worker");
    const env = containerEnv(objs, wc, { external: EXTERNAL });
    // The autoscaler owns the replica count.
    expect(at(worker.raw, "spec.replicas")).toBeUndefined();
    const so = find(objs, "ScaledObject", WORKER);
    // Runs per worker: 2 here. The API reads its own QUEUE_PREFIX; the trigger names none.
    expect(at(kedaTrigger(so), "metadata.targetValue")).toBe(env.WORKER_CONCURRENCY);
    expect(env.WORKER_CONCURRENCY).toBe("2");
    expect(at(so.raw, "spec.maxReplicaCount")).toBe(4);
    expect(at(so.raw, "spec.fallback")).toEqual({
      failureThreshold: 3,
      replicas: 1,
      behavior: "currentReplicasIfHigher",
    });
    expect(env.MAX_CONCURRENT_RUNS).toBe("8");
    // secretNamespaces: a Role + RoleBinding in each, SECRET_NAMESPACES exactly them.
    expect(env.SECRET_NAMESPACES).toBe("test|staging");
    const roles = objs.filter((o) => o.kind === "Role");
    expect(roles.map((r) => r.namespace).sort()).toEqual(["staging", "test"]);
    const staging = rec(roles.find((r) => r.namespace === "staging")?.raw, "staging Role");
    expect(at(staging, "rules.0.resourceNames")).toEqual(["podinfo-k6", "api-keys"]);
    expect(at(staging, "rules.0.verbs")).toEqual(["get"]);
    const binding = find(objs, "RoleBinding", "k6-gate-worker-secret-reader");
    expect(at(binding.raw, "subjects.0")).toEqual({
      kind: "ServiceAccount",
      name: WORKER,
      namespace: NAMESPACE,
    });
    expect(secretEnv(wc)).toMatchObject({
      SLACK_TOKEN: "k6-gate-slack/SLACK_TOKEN",
      K6_CLOUD_TOKEN: "k6-gate-k6-cloud/K6_CLOUD_TOKEN",
      K6_CLOUD_STACK_ID: "k6-gate-k6-cloud/K6_CLOUD_STACK_ID",
      REDIS_PASSWORD: "k6-gate-redis-password/REDIS_PASSWORD",
    });
    // The api: token, dashboard login, the tokens file mounted where WEBHOOK_TOKENS_FILE says.
    const api = find(objs, "Deployment", API);
    const ac = container(api, "api");
    expect(secretEnv(ac)).toMatchObject({
      WEBHOOK_TOKEN: "k6-gate-webhook/WEBHOOK_TOKEN",
      DASHBOARD_USER: "k6-gate-dashboard/DASHBOARD_USER",
      DASHBOARD_PASSWORD: "k6-gate-dashboard/DASHBOARD_PASSWORD",
    });
    const tokensFile = containerEnv(objs, ac).WEBHOOK_TOKENS_FILE ?? "";
    const mount = arr(ac.volumeMounts, "mounts").find((m) => at(m, "name") === "webhook-tokens");
    expect(tokensFile).toBe(`${str(at(mount, "mountPath"), "mountPath")}/tokens.json`);
    const volume = arr(at(api.raw, "spec.template.spec.volumes"), "volumes").find(
      (v) => at(v, "name") === "webhook-tokens",
    );
    expect(at(volume, "secret.secretName")).toBe("k6-gate-webhook-tokens");
    // Extra volumes and env for CA bundles reach both containers.
    expect(containerEnv(objs, ac).NODE_EXTRA_CA_CERTS).toBe("/etc/ssl/custom/ca.crt");
    expect(env.SSL_CERT_FILE).toBe("/etc/ssl/custom/ca.crt");
    // No Secret of the chart: the password Secret is the user's.
    expect(objs.some((o) => o.kind === "Secret")).toBe(false);
    // The worker's PodMonitor scrapes the port the worker listens on, which its policy opens.
    const pm = find(objs, "PodMonitor", WORKER);
    const port = resolvePort(wc, at(pm.raw, "spec.podMetricsEndpoints.0.port"));
    expect(port).toBe(Number(env.WORKER_METRICS_PORT));
    const policy = find(objs, "NetworkPolicy", WORKER);
    expect(at(policy.raw, "spec.ingress.0.ports.0.port")).toBe(port);
    // Flagger (istio-system here), Prometheus, KEDA and the ingress controller reach the api.
    const apiPolicy = find(objs, "NetworkPolicy", API);
    const from = arr(at(apiPolicy.raw, "spec.ingress"), "ingress").flatMap(fromNamespaces);
    expect(from).toEqual(["istio-system", "monitoring", "keda", "ingress-nginx"]);
  });

  it("with an external Redis: no bundled Redis, its URL and password Secret; KEDA still asks the API", () => {
    const { objs } = render("ci/external-redis-values.yaml");
    expect(objs.some((o) => o.kind === "StatefulSet" || o.kind === "Secret")).toBe(false);
    const c = container(find(objs, "Deployment", WORKER), "worker");
    expect(containerEnv(objs, c).REDIS_URL).toBe("rediss://k6gate@redis.example.internal:6380");
    expect(secretEnv(c).REDIS_PASSWORD).toBe("managed-redis/password");
    expect(at(kedaTrigger(find(objs, "ScaledObject", WORKER)), "metadata.url")).toBe(
      `http://${RELEASE}.${NAMESPACE}.svc.cluster.local:${apiServicePort(objs)}/queue/depth`,
    );
    expect(objs.filter((o) => o.kind === "NetworkPolicy").map((o) => o.name)).not.toContain(
      "k6-gate-redis",
    );
  });

  it("with the HPA instead of KEDA: one autoscaler, no replicas field", () => {
    const { objs } = render("ci/hpa-values.yaml");
    expect(objs.filter((o) => o.kind === "HorizontalPodAutoscaler")).toHaveLength(1);
    expect(objs.some((o) => o.kind === "ScaledObject")).toBe(false);
    expect(at(find(objs, "Deployment", WORKER).raw, "spec.replicas")).toBeUndefined();
  });

  it("with mode all-in-one: one pod runs `all` with the API's Service and the workers' settings", () => {
    const { objs } = render("ci/all-in-one-values.yaml");
    const deployments = objs.filter((o) => o.kind === "Deployment").map((o) => o.name);
    expect(deployments).toEqual([ALL_IN_ONE]);
    const pod = find(objs, "Deployment", ALL_IN_ONE);
    expect(at(pod.raw, "spec.replicas")).toBe(1);
    expect(at(pod.raw, "spec.template.spec.serviceAccountName")).toBe(WORKER);
    const c = container(pod, "all-in-one");
    expect(c.args).toEqual(["all"]);
    const env = containerEnv(objs, c);
    // The API's settings and the worker's; the worker's grace wins (running k6 may finish).
    expect(env).toMatchObject({ PORT: "8000", K6_BIN: "/usr/bin/k6", SHUTDOWN_GRACE: "300s" });
    expect(secretEnv(c).SLACK_TOKEN).toBe("k6-gate-slack/SLACK_TOKEN");
    const values: unknown = parse(readFileSync(join(CHART, "values.yaml"), "utf8"));
    expect(c.resources).toEqual(at(values, "worker.resources"));
    for (const on of [
      "keda.enabled",
      "worker.autoscaling.enabled",
      "api.pdb.enabled",
      "worker.pdb.enabled",
      "metrics.podMonitor.enabled",
    ]) {
      expect(renderError("--set", "mode=all-in-one", "--set", `${on}=true`), on).toContain(
        `${on} needs mode: split`,
      );
    }
  });

  it("with runner.kind job: K6_RUNNER names the PodTemplate; the worker's Role and the runner pods' policy", () => {
    const { objs } = render("ci/job-runner-values.yaml");
    const env = containerEnv(objs, container(find(objs, "Deployment", WORKER), "worker"));
    expect(env.K6_RUNNER).toBe(`job:${NAMESPACE}/k6-gate-runner`);
    const template = find(objs, "PodTemplate", "k6-gate-runner");
    const k6 = rec(at(template.raw, "template.spec.containers.0"), "k6 container");
    expect(k6.name).toBe("k6");
    expect(at(k6, "securityContext.capabilities")).toEqual({
      drop: ["ALL"],
      add: ["CHOWN", "DAC_OVERRIDE", "FOWNER", "KILL", "SETUID", "SETGID"],
    });
    // No pods/exec, no access beyond the runner namespace's Jobs, pods and one template.
    const rules = arr(at(find(objs, "Role", "k6-gate-runner").raw, "rules"), "rules");
    expect(rules.flatMap((r) => arr(at(r, "resources"), "resources"))).toEqual([
      "jobs",
      "secrets",
      "pods",
      "pods/log",
      "podtemplates",
    ]);
    const policy = find(objs, "NetworkPolicy", "k6-gate-runner");
    expect(at(policy.raw, "spec.ingress")).toEqual([]);
    const egress = arr(at(policy.raw, "spec.egress"), "egress");
    expect(egress).toHaveLength(3);
    expect(at(egress[1], "to.0.namespaceSelector.matchExpressions.0.values")).toEqual([
      "test",
      "staging",
    ]);
    // The selector matches the pods the worker makes from the template (its labels win).
    expect(at(template.raw, "template.metadata.labels")).toMatchObject(
      rec(at(policy.raw, "spec.podSelector.matchLabels"), "podSelector"),
    );
    expect(renderError("--set", "runner.kind=pod")).toMatch(/runner\.kind|runner\/kind/);
  });

  it("with runner.kind k6-operator: what job renders, the starter image, TestRuns in the Role, k6's REST API open to the operator and the starters", () => {
    const { objs } = render("ci/k6-operator-runner-values.yaml");
    const { objs: jobObjs } = render(
      "ci/k6-operator-runner-values.yaml",
      "--set",
      "runner.kind=job",
    );
    const env = containerEnv(objs, container(find(objs, "Deployment", WORKER), "worker"));
    expect(env.K6_RUNNER).toBe(`k6-operator:${NAMESPACE}/k6-gate-runner`);
    // The same PodTemplate as job (the runner pods of a TestRun are made from it), plus the
    // starter image on the PodTemplate object itself.
    const template = find(objs, "PodTemplate", "k6-gate-runner");
    expect(at(template.raw, "template")).toEqual(
      at(find(jobObjs, "PodTemplate", "k6-gate-runner").raw, "template"),
    );
    expect(at(template.raw, "metadata.annotations")).toEqual({
      "k6-gate.io/starter-image": "registry.example.com/k6-operator:v1.5.0-starter",
    });
    expect(
      at(
        render(undefined, "--set", "runner.kind=k6-operator").objs.find(
          (o) => o.kind === "PodTemplate",
        )?.raw,
        "metadata.annotations",
      ),
    ).toEqual({ "k6-gate.io/starter-image": "ghcr.io/grafana/k6-operator:latest-starter" });
    expect(
      at(find(jobObjs, "PodTemplate", "k6-gate-runner").raw, "metadata.annotations"),
    ).toBeUndefined();
    // job's rules, then TestRuns (no update or patch) and creating ConfigMaps (the scripts).
    const rules = arr(at(find(objs, "Role", "k6-gate-runner").raw, "rules"), "rules");
    const jobRules = arr(at(find(jobObjs, "Role", "k6-gate-runner").raw, "rules"), "rules");
    expect(rules.slice(0, jobRules.length)).toEqual(jobRules);
    expect(rules.slice(jobRules.length)).toEqual([
      {
        apiGroups: ["k6.io"],
        resources: ["testruns"],
        verbs: ["create", "get", "list", "watch", "delete"],
      },
      { apiGroups: [""], resources: ["configmaps"], verbs: ["create"] },
    ]);
    // Runner pods: k6's REST API (6565) from the operator's namespace and the starter pods
    // only; their egress as with job.
    const policy = find(objs, "NetworkPolicy", "k6-gate-runner");
    const jobPolicy = find(jobObjs, "NetworkPolicy", "k6-gate-runner");
    expect(at(policy.raw, "spec.egress")).toEqual(at(jobPolicy.raw, "spec.egress"));
    expect(at(jobPolicy.raw, "spec.ingress")).toEqual([]);
    const starterLabels = {
      "app.kubernetes.io/name": "k6-gate",
      "app.kubernetes.io/instance": RELEASE,
      "app.kubernetes.io/component": "k6-starter",
    };
    expect(at(policy.raw, "spec.ingress")).toEqual([
      {
        from: [
          { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "k6-operator" } } },
          { podSelector: { matchLabels: starterLabels } },
        ],
        ports: [{ port: 6565, protocol: "TCP" }],
      },
    ]);
    // Starter pods: nothing in; out, DNS and the runner pods' 6565 only.
    const starter = find(objs, "NetworkPolicy", "k6-gate-starter");
    expect(at(starter.raw, "spec.podSelector.matchLabels")).toEqual(starterLabels);
    expect(at(starter.raw, "spec.policyTypes")).toEqual(["Ingress", "Egress"]);
    expect(at(starter.raw, "spec.ingress")).toEqual([]);
    expect(at(starter.raw, "spec.egress")).toEqual([
      {
        ports: [
          { port: 53, protocol: "UDP" },
          { port: 53, protocol: "TCP" },
        ],
      },
      {
        to: [{ podSelector: { matchLabels: at(policy.raw, "spec.podSelector.matchLabels") } }],
        ports: [{ port: 6565, protocol: "TCP" }],
      },
    ]);
    // The runner pods the operator makes carry the template's labels: the policies select them.
    expect(at(template.raw, "template.metadata.labels")).toMatchObject(
      rec(at(policy.raw, "spec.podSelector.matchLabels"), "podSelector"),
    );
    expect(jobObjs.find((o) => o.name === "k6-gate-starter")).toBeUndefined();
    expect(renderError("--set", "runner.k6Operator.starterImage=")).toMatch(/starterImage/);
    expect(renderError("--set", "runner.k6Operator.namespace=Not_A_Namespace")).toMatch(
      /namespace/,
    );
  });

  it("refuses a misspelled value, a wrong type, and contradictions (values.schema.json, templates)", () => {
    expect(renderError("--set", "workerConcurency=2")).toContain(
      "additional properties 'workerConcurency' not allowed",
    );
    expect(renderError("--set", "api.pdb.enabeld=true")).toContain(
      "additional properties 'enabeld' not allowed",
    );
    expect(renderError("--set", "history.maxAge=30 days")).toMatch(/maxAge/);
    expect(renderError("--set", "logLevel=verbose")).toMatch(/logLevel/);
    // A password in a URL would land in a ConfigMap.
    expect(renderError("--set", "redis.url=redis://:secret@redis:6379")).toMatch(/redis\/url/);
    expect(
      renderError("--set", "keda.enabled=true", "--set", "worker.autoscaling.enabled=true"),
    ).toMatch(/one autoscaler/);
    expect(renderError("--set", "redis.enabled=false")).toMatch(/redis\.url is required/);
    expect(
      renderError("--set", "redis.enabled=false", "--set", "redis.url=redis://r:6379"),
    ).toMatch(/redis\.auth\.existingSecret is required/);
    expect(renderError("--set", `secretNamespaces={${NAMESPACE}}`)).toMatch(/own namespace/);
  });

  it("refuses an allowedNamespaces the API could not compile, and keeps JavaScript's own syntax", () => {
    expect(renderError("--set", "allowedNamespaces=test|(")).toMatch(
      /"k6-gate\.allowedNamespaces".*missing closing \)/s,
    );
    expect(renderError("--set", "allowedNamespaces=(?i)test")).toContain(
      'allowedNamespaces: "(?i)test" sets flags with (?i)',
    );
    // Lookaheads are JavaScript's, not Go's: the chart passes them on (the API compiles them).
    for (const pattern of ["test|staging", "(?!kube-).+", "(?i:test)"]) {
      const { objs } = render(undefined, "--set", `allowedNamespaces=${pattern}`);
      expect(at(find(objs, "ConfigMap", `${API}-config`).raw, "data.ALLOWED_NAMESPACES")).toBe(
        pattern,
      );
      expect(() => new RegExp(`^(?:${pattern})$`)).not.toThrow();
    }
  });
});

// ---------------------------------------------------------------------------

describe("helm chart defaults vs kustomize build k8s/base", () => {
  let chart: K8sObject[];
  let base: K8sObject[];
  /** k8s/components/* read as they are (a component applies no transformation to them). */
  const component = (file: string): K8sObject[] =>
    toObjects(readFileSync(join(ROOT, "k8s/components", file), "utf8"), file);
  beforeAll(() => {
    // The chart with what the base has too (NetworkPolicies, PDBs) and KEDA and
    // monitoring, to compare with the kustomize components.
    chart = render(
      undefined,
      ...["networkPolicy.enabled", "api.pdb.enabled", "worker.pdb.enabled", "keda.enabled"]
        .concat(["metrics.serviceMonitor.enabled", "metrics.podMonitor.enabled"])
        .flatMap((v) => ["--set", `${v}=true`]),
    ).objs;
    base = toObjects(
      execFileSync(KUSTOMIZE, ["build", join(ROOT, "k8s/base")], { encoding: "utf8" }),
      "kustomize build k8s/base",
    );
  });

  const normalizeDuration = (v: string): string => {
    const m = /^(\d+)(s|m|h)$/.exec(v);
    return m ? `${Number(m[1]) * ({ s: 1, m: 60, h: 3600 }[m[2] as "s"] ?? 1)}s` : v;
  };
  const envOf = (objs: K8sObject[], deploy: string, name: string) =>
    Object.fromEntries(
      Object.entries(containerEnv(objs, container(find(objs, "Deployment", deploy), name))).map(
        ([k, v]) => [k, normalizeDuration(v)],
      ),
    );

  it.each([
    [API, "api"],
    [WORKER, "worker"],
  ])("%s: same environment (names and values), the password from a Secret", (deploy, name) => {
    expect(envOf(chart, deploy, name)).toEqual(envOf(base, deploy, name));
    // The base reads REDIS_PASSWORD (and the optional tokens) from k6-gate-secrets with
    // envFrom; the chart reads exactly REDIS_PASSWORD by default, from its own Secret.
    expect(Object.keys(secretEnv(container(find(chart, "Deployment", deploy), name)))).toEqual([
      "REDIS_PASSWORD",
    ]);
    const sources = arr(container(find(base, "Deployment", deploy), name).envFrom, "envFrom");
    expect(sources.some((s) => at(s, "secretRef.name") === "k6-gate-secrets")).toBe(true);
  });

  it.each([
    [API, "api"],
    [WORKER, "worker"],
  ])(
    "%s: same ports, probes, security contexts, resources, volumes, rollout and grace",
    (deploy, name) => {
      const pick = (objs: K8sObject[]) => {
        const d = find(objs, "Deployment", deploy);
        const c = container(d, name);
        const pod = rec(at(d.raw, "spec.template.spec"), "pod spec");
        return withoutInstance({
          args: c.args,
          ports: c.ports,
          startupProbe: c.startupProbe,
          readinessProbe: c.readinessProbe,
          livenessProbe: c.livenessProbe,
          lifecycle: c.lifecycle,
          securityContext: c.securityContext,
          resources: c.resources,
          volumeMounts: c.volumeMounts,
          podSecurityContext: pod.securityContext,
          volumes: pod.volumes,
          serviceAccountName: pod.serviceAccountName,
          automountServiceAccountToken: pod.automountServiceAccountToken,
          enableServiceLinks: pod.enableServiceLinks,
          terminationGracePeriodSeconds: pod.terminationGracePeriodSeconds,
          topologySpreadConstraints: pod.topologySpreadConstraints,
          strategy: at(d.raw, "spec.strategy"),
          replicas: at(d.raw, "spec.replicas"),
        });
      };
      expect(pick(chart)).toEqual(pick(base));
    },
  );

  it("the same Services and Redis (flags, probes, security, resources, volume)", () => {
    for (const name of ["k6-gate", "k6-gate-redis", "k6-gate-redis-headless"]) {
      const spec = (objs: K8sObject[]) => withoutInstance(find(objs, "Service", name).raw.spec);
      expect(spec(chart), name).toEqual(spec(base));
    }
    const redis = (objs: K8sObject[]) => {
      const s = find(objs, "StatefulSet", "k6-gate-redis");
      const c = container(s, "redis");
      const pod = rec(at(s.raw, "spec.template.spec"), "pod spec");
      return {
        image: c.image,
        args: c.args,
        env: arr(c.env, "env").map((e) => at(e, "name")),
        ports: c.ports,
        probes: [c.readinessProbe, c.livenessProbe],
        securityContext: c.securityContext,
        resources: c.resources,
        podSecurityContext: pod.securityContext,
        terminationGracePeriodSeconds: pod.terminationGracePeriodSeconds,
        volumeClaimTemplates: arr(at(s.raw, "spec.volumeClaimTemplates"), "vct").map((v) =>
          at(v, "spec"),
        ),
        serviceName: at(s.raw, "spec.serviceName"),
      };
    };
    expect(redis(chart)).toEqual(redis(base));
  });

  it("the same NetworkPolicies and PodDisruptionBudgets", () => {
    for (const kind of ["NetworkPolicy", "PodDisruptionBudget"]) {
      const specs = (objs: K8sObject[]) =>
        Object.fromEntries(
          objs.filter((o) => o.kind === kind).map((o) => [o.name, withoutInstance(o.raw.spec)]),
        );
      expect(specs(chart), kind).toEqual(specs(base));
    }
  });

  it("the same KEDA ScaledObject, HPA and monitors as the kustomize components", () => {
    const spec = (o: K8sObject) => {
      const s = rec(withoutInstance(o.raw.spec), `${o.kind} spec`);
      // Trigger order does not matter to KEDA.
      if (Array.isArray(s.triggers))
        s.triggers = [...(s.triggers as Rec[])].sort((a, b) =>
          String(a.name).localeCompare(String(b.name)),
        );
      return s;
    };
    const pairs: [K8sObject, K8sObject][] = [
      [
        find(chart, "ScaledObject", WORKER),
        find(component("keda/scaledobject.yaml"), "ScaledObject", WORKER),
      ],
      [
        find(chart, "ServiceMonitor", "k6-gate"),
        find(component("monitoring/monitors.yaml"), "ServiceMonitor", "k6-gate"),
      ],
      [
        find(chart, "PodMonitor", WORKER),
        find(component("monitoring/monitors.yaml"), "PodMonitor", WORKER),
      ],
      [
        find(
          render(undefined, "--set", "worker.autoscaling.enabled=true").objs,
          "HorizontalPodAutoscaler",
          WORKER,
        ),
        find(component("worker-hpa/hpa.yaml"), "HorizontalPodAutoscaler", WORKER),
      ],
    ];
    for (const [fromChart, fromKustomize] of pairs)
      expect(spec(fromChart), fromChart.kind).toEqual(spec(fromKustomize));
  });
});

// ---------------------------------------------------------------------------

describe("one version", () => {
  it("package.json, the chart's version and appVersion, and the kustomize images agree", () => {
    expect(String(chartYaml.version)).toBe(pkgVersion);
    expect(String(chartYaml.appVersion)).toBe(pkgVersion);
    const images = (dir: string) =>
      arr(
        rec(parse(readFileSync(join(ROOT, dir, "kustomization.yaml"), "utf8")), dir).images,
        "images",
      );
    expect(images("k8s/base")).toEqual([
      { name: "k6-gate", newName: "ghcr.io/k6-gate/k6-gate", newTag: pkgVersion },
    ]);
    expect(at(images("k8s/overlays/example")[0], "newTag")).toBe(pkgVersion);
    const values = rec(parse(readFileSync(join(CHART, "values.yaml"), "utf8")), "values.yaml");
    expect(at(values, "image.repository")).toBe("ghcr.io/k6-gate/k6-gate");
  });

  it("CHANGELOG.md (Keep a Changelog) has a section for it", () => {
    const changelog = readFileSync(join(ROOT, "CHANGELOG.md"), "utf8");
    expect(changelog).toMatch(/^# Changelog$/m);
    expect(changelog).toMatch(/^## \[Unreleased\]$/m);
    expect(changelog).toMatch(
      new RegExp(`^## \\[${pkgVersion.replaceAll(".", "\\.")}\\] - \\d{4}-\\d{2}-\\d{2}$`, "m"),
    );
  });

  it("the chart README's values table is generated from values.yaml, and up to date", () => {
    const r = spawnSync(process.execPath, [join(ROOT, "scripts/chart-readme.mjs"), "--check"], {
      encoding: "utf8",
    });
    expect(r.status, r.stderr).toBe(0);
  });
});

describe("GitHub workflows", () => {
  const workflow = (name: string) =>
    rec(parse(readFileSync(join(ROOT, ".github/workflows", name), "utf8")), name);
  const steps = (wf: Rec, job: string) => arr(at(wf, `jobs.${job}.steps`), `${job} steps`);

  it("pass actionlint", () => {
    const r = spawnSync(ACTIONLINT, ["-shellcheck=", "-pyflakes=", "-no-color"], {
      cwd: ROOT,
      encoding: "utf8",
    });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it("CI runs .ci/run on pushes and pull requests, and can be called by the release", () => {
    const ci = workflow("ci.yml");
    expect(Object.keys(rec(ci.on, "on")).sort()).toEqual(["pull_request", "push", "workflow_call"]);
    expect(steps(ci, "test").map((s) => at(s, "run"))).toContain("bash .ci/run");
  });

  it("a v* tag builds the multi-arch image to GHCR at the version, then pushes the chart as OCI", () => {
    const release = workflow("release.yml");
    expect(at(release, "on.push.tags")).toEqual(["v*"]);
    expect(at(release, "jobs.test.uses")).toBe("./.github/workflows/ci.yml");
    const build = steps(release, "image").find((s) =>
      String(at(s, "uses")).startsWith("docker/build-push-action@"),
    );
    expect(at(build, "with.platforms")).toBe("linux/amd64,linux/arm64");
    expect(at(build, "with.push")).toBe(true);
    expect(String(at(build, "with.build-args"))).toContain("GIT_COMMIT=${{ github.sha }}");
    const meta = steps(release, "image").find((s) =>
      String(at(s, "uses")).startsWith("docker/metadata-action@"),
    );
    expect(String(at(meta, "with.tags"))).toContain("type=semver,pattern={{version}}");
    const version = String(at(steps(release, "version")[1], "run"));
    expect(version).toContain('echo "image=ghcr.io/$owner/k6-gate"');
    expect(version).toContain('echo "charts=oci://ghcr.io/$owner/charts"');
    const chart = steps(release, "chart")
      .map((s) => {
        const run = at(s, "run");
        return typeof run === "string" ? run : "";
      })
      .join("\n");
    expect(chart).toContain("helm package charts/k6-gate");
    expect(chart).toContain('helm push "dist-chart/k6-gate-$VERSION.tgz" "$CHARTS"');
    expect(at(release, "jobs.chart.needs")).toContain("image");
  });
});
