// Deployment material checked for what matters in production: the real
// `kustomize build` of k8s/base and every overlay, the example Canary,
// docker-compose.yml, the Dockerfile and the container entry point. The Helm chart
// has its own file (chart.test.ts), which also compares it with k8s/base.
//
// kustomize is the pinned one in .tools/bin, and k8s-strict (./k8s-strict) strictly
// decodes the output into the API's Go types; beforeAll installs or rebuilds both
// through mk/deploy.mk when needed (Go; a minute or two the first time).
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { KILL_GRACE_MS } from "../../apps/worker/src/config";
import { NODE_OPTIONS } from "@k6-gate/testkit/k6gate";
import {
  type Rec,
  isRec,
  rec,
  arr,
  str,
  at,
  strMap,
  isSubset,
  durationSeconds,
  imagePinned,
  type K8sObject,
  toObjects,
  find,
  WORKLOAD_KINDS,
  podSpec,
  templateLabels,
  containers,
  container,
  containerEnv,
  resolvePort,
} from "./k8s-objects";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const TOOLS_BIN = join(ROOT, ".tools/bin");
const KUSTOMIZE = join(TOOLS_BIN, "kustomize");
const K8S_STRICT = join(TOOLS_BIN, "k8s-strict");
const DOCKER_COMPOSE = join(TOOLS_BIN, "docker-compose");

function kustomizations(): string[] {
  const overlays = readdirSync(join(ROOT, "k8s/overlays"), { withFileTypes: true })
    .filter(
      (d) =>
        d.isDirectory() && existsSync(join(ROOT, "k8s/overlays", d.name, "kustomization.yaml")),
    )
    .map((d) => `k8s/overlays/${d.name}`)
    .sort();
  return ["k8s/base", ...overlays];
}

const API = "k6-gate-api";
const WORKER = "k6-gate-worker";
/** API groups every cluster serves ("" is the core group). */
const BUILT_IN_GROUPS = new Set([
  "",
  "apps",
  "policy",
  "autoscaling",
  "networking.k8s.io",
  "rbac.authorization.k8s.io",
]);

beforeAll(() => {
  // No-ops when up to date; else `go install` kustomize / `go build` k8s-strict.
  execFileSync("make", ["--no-print-directory", "-f", "mk/deploy.mk", KUSTOMIZE, K8S_STRICT], {
    cwd: ROOT,
    stdio: "inherit",
  });
}, 600_000);

describe.each(kustomizations())("kustomize build %s", (dir) => {
  let objs: K8sObject[] = [];
  let built = "";
  beforeAll(() => {
    built = execFileSync(KUSTOMIZE, ["build", join(ROOT, dir)], {
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    });
    objs = toObjects(built, `kustomize build ${dir}`);
  });

  it("decodes strictly into the Go types of Kubernetes, KEDA and prometheus-operator", () => {
    // Exits non-zero, naming the object and field, on what `kubectl apply` would
    // reject as unknown, or what KEDA's admission webhook would refuse.
    const report = execFileSync(K8S_STRICT, [], { input: built, encoding: "utf8" });
    expect(report).toMatch(/strictly decoded \d+ objects, 0 not checked/);
  });

  it("builds the api, worker, Redis, RBAC and policies", () => {
    for (const [kind, name] of [
      ["Deployment", API],
      ["Service", "k6-gate"],
      ["PodDisruptionBudget", API],
      ["Deployment", WORKER],
      ["ServiceAccount", WORKER],
      ["StatefulSet", "k6-gate-redis"],
      ["Service", "k6-gate-redis"],
    ] as const) {
      expect(() => find(objs, kind, name), `${kind}/${name}`).not.toThrow();
    }
    expect(objs.filter((o) => o.kind === "NetworkPolicy").length).toBeGreaterThan(0);
    expect(objs.filter((o) => o.kind === "ConfigMap").length).toBeGreaterThan(0);
  });

  it("needs no CRD in the base: KEDA and prometheus-operator objects come from components", () => {
    const custom = objs.filter(
      (o) => !BUILT_IN_GROUPS.has(o.apiVersion.split("/").slice(0, -1).join("/")),
    );
    if (dir === "k8s/base") expect(custom.map((o) => `${o.kind}/${o.name}`)).toEqual([]);
    // The example overlays opt into monitoring; example opts into KEDA, example-hpa swaps it.
    else {
      expect(() => find(objs, "ServiceMonitor", "k6-gate")).not.toThrow();
      expect(() => find(objs, "PodMonitor", WORKER)).not.toThrow();
    }
  });

  it("puts every namespaced object in a namespace, the workloads' helpers next to them", () => {
    const clusterScoped = new Set(["Namespace", "ClusterRole", "ClusterRoleBinding"]);
    for (const o of objs.filter((x) => !clusterScoped.has(x.kind))) {
      expect(o.namespace, `${o.kind}/${o.name} has a namespace`).toBeDefined();
    }
    const home = find(objs, "Deployment", WORKER).namespace;
    for (const o of objs.filter((x) =>
      /ScaledObject|HorizontalPodAutoscaler|PodDisruptionBudget|Service/.test(x.kind),
    )) {
      expect(o.namespace, `${o.kind}/${o.name}`).toBe(home);
    }
  });

  it("pins every container image (a tag other than latest, or a digest)", () => {
    const images = objs
      .filter((o) => WORKLOAD_KINDS.has(o.kind))
      .flatMap((o) =>
        containers(o).map((c) => ({ where: `${o.kind}/${o.name}`, image: str(c.image, "image") })),
      );
    expect(images.length).toBeGreaterThanOrEqual(3);
    for (const { where, image } of images)
      expect(imagePinned(image), `${where}: ${image}`).toBe(true);
  });

  it("gives the api readiness on /readyz, liveness on /healthz, and a zero-downtime rollout", () => {
    const api = find(objs, "Deployment", API);
    const c = container(api, "api");
    expect(at(c, "readinessProbe.httpGet.path")).toBe("/readyz");
    expect(at(c, "livenessProbe.httpGet.path")).toBe("/healthz");
    expect(resolvePort(c, at(c, "readinessProbe.httpGet.port"))).toBe(8000);
    expect(resolvePort(c, at(c, "livenessProbe.httpGet.port"))).toBe(8000);
    expect(at(api.raw, "spec.strategy.rollingUpdate.maxUnavailable")).toBe(0);
    expect(at(api.raw, "spec.replicas")).toBeGreaterThanOrEqual(2);
    expect(at(c, "resources.requests.cpu")).toBeDefined();
    expect(at(c, "resources.requests.memory")).toBeDefined();
  });

  it("gives workers more termination grace than SHUTDOWN_GRACE of their own env + k6's fixed stop", () => {
    const worker = find(objs, "Deployment", WORKER);
    const env = containerEnv(objs, container(worker, "worker"));
    // The worker's own defaults when a value is not set.
    const shutdown = durationSeconds(env.SHUTDOWN_GRACE ?? "30s");
    const kill = KILL_GRACE_MS / 1000;
    const grace = at(worker.raw, "spec.template.spec.terminationGracePeriodSeconds");
    expect(typeof grace).toBe("number");
    expect(grace as number).toBeGreaterThan(shutdown + kill);
  });

  it("sizes workers for k6 and leaves their replica count to the autoscaler (or to kubectl scale)", () => {
    const worker = find(objs, "Deployment", WORKER);
    const c = container(worker, "worker");
    const env = containerEnv(objs, c);
    expect(env.K6_BIN).toBe("/usr/bin/k6");
    expect(at(c, "resources.requests.cpu")).toBeDefined();
    expect(at(c, "resources.requests.memory")).toBeDefined();
    expect(at(c, "resources.limits.memory")).toBeDefined();
    expect(at(worker.raw, "spec.replicas")).toBeUndefined();
    expect(at(worker.raw, "spec.template.spec.serviceAccountName")).toBe(WORKER);
  });

  it("runs every pod non-root on a read-only root filesystem with a writable /tmp where k6 runs", () => {
    for (const o of objs.filter((x) => WORKLOAD_KINDS.has(x.kind))) {
      const spec = podSpec(o);
      expect(at(spec, "securityContext.runAsNonRoot"), `${o.kind}/${o.name}`).toBe(true);
      for (const c of containers(o)) {
        expect(at(c, "securityContext.readOnlyRootFilesystem"), `${o.name}/${String(c.name)}`).toBe(
          true,
        );
        expect(
          at(c, "securityContext.allowPrivilegeEscalation"),
          `${o.name}/${String(c.name)}`,
        ).toBe(false);
      }
    }
    const worker = find(objs, "Deployment", WORKER);
    const mounts = arr(container(worker, "worker").volumeMounts, "worker volumeMounts");
    const tmp = mounts.find((m) => at(m, "mountPath") === "/tmp");
    expect(tmp, "worker mounts /tmp").toBeDefined();
    const vol = arr(podSpec(worker).volumes, "worker volumes").find(
      (v) => at(v, "name") === at(tmp, "name"),
    );
    expect(at(vol, "emptyDir")).toBeDefined();
  });

  it("points Services and PodDisruptionBudgets at the labels of a workload they belong to", () => {
    const workloads = objs.filter((o) => WORKLOAD_KINDS.has(o.kind));
    for (const svc of objs.filter((o) => o.kind === "Service")) {
      const selector = strMap(at(svc.raw, "spec.selector"), `Service/${svc.name} selector`);
      const targets = workloads.filter((w) => isSubset(selector, templateLabels(w)));
      expect(targets.length, `Service/${svc.name} selects exactly one workload`).toBe(1);
      const target = targets[0];
      if (!target) continue;
      for (const p of arr(at(svc.raw, "spec.ports"), "ports")) {
        const tp = at(p, "targetPort") ?? at(p, "port");
        const resolved = containers(target)
          .map((c) => resolvePort(c, tp))
          .find((n) => n !== undefined);
        expect(resolved, `Service/${svc.name} targetPort ${String(tp)}`).toBeDefined();
      }
    }
    for (const pdb of objs.filter((o) => o.kind === "PodDisruptionBudget")) {
      const selector = strMap(at(pdb.raw, "spec.selector.matchLabels"), `PDB/${pdb.name}`);
      const targets = workloads.filter((w) => isSubset(selector, templateLabels(w)));
      expect(
        targets.map((t) => t.name),
        `PDB/${pdb.name}`,
      ).toEqual([pdb.name]);
    }
    for (const w of workloads.filter((o) => o.kind === "Deployment" || o.kind === "StatefulSet")) {
      const selector = strMap(
        at(w.raw, "spec.selector.matchLabels"),
        `${w.kind}/${w.name} selector`,
      );
      expect(
        isSubset(selector, templateLabels(w)),
        `${w.kind}/${w.name} selector matches its template`,
      ).toBe(true);
    }
  });

  it("has at most one autoscaler on the workers (one per overlay, none in the base), aimed at the worker Deployment", () => {
    const scalers = objs.filter(
      (o) => o.kind === "ScaledObject" || o.kind === "HorizontalPodAutoscaler",
    );
    const onWorker = scalers.filter((s) => at(s.raw, "spec.scaleTargetRef.name") === WORKER);
    expect(onWorker.map((s) => s.kind)).toHaveLength(dir === "k8s/base" ? 0 : 1);
    for (const s of scalers) {
      const kind = at(s.raw, "spec.scaleTargetRef.kind") ?? "Deployment";
      expect(() =>
        find(objs, str(kind, "kind"), str(at(s.raw, "spec.scaleTargetRef.name"), "name")),
      ).not.toThrow();
    }
  });

  it("scales on the API's /queue/depth through the API Service, which the API's NetworkPolicy opens to KEDA", () => {
    const so = objs.find((o) => o.kind === "ScaledObject");
    if (!so) return; // the HPA variant
    const triggers = arr(at(so.raw, "spec.triggers"), "triggers").map((t) => rec(t, "trigger"));
    expect(triggers.map((t) => [t.type, t.metricType])).toEqual([["metrics-api", "AverageValue"]]);
    const meta = strMap(at(triggers[0], "metadata"), "trigger metadata");
    expect(meta).toMatchObject({ format: "json", valueLocation: "runs" });
    // Runs per worker: the workers' WORKER_CONCURRENCY.
    const worker = container(find(objs, "Deployment", WORKER), "worker");
    expect(meta.targetValue).toBe(containerEnv(objs, worker).WORKER_CONCURRENCY ?? "1");
    // http://<Service>.<namespace>.svc.cluster.local:<port>/queue/depth, the Service the api's.
    const url = new URL(meta.url ?? "");
    const [service, namespace] = url.hostname.split(".");
    expect(url.pathname).toBe("/queue/depth");
    const svc = find(objs, "Service", service ?? "");
    expect(svc.namespace).toBe(namespace);
    const svcPort = arr(at(svc.raw, "spec.ports"), "ports").find(
      (p) => String(at(p, "port")) === url.port,
    );
    const api = container(find(objs, "Deployment", API), "api");
    const podPort = resolvePort(api, at(svcPort, "targetPort"));
    expect(podPort).toBe(8000);
    expect(
      isSubset(
        strMap(at(svc.raw, "spec.selector"), "selector"),
        templateLabels(find(objs, "Deployment", API)),
      ),
    ).toBe(true);
    // KEDA's operator (namespace keda) may reach that port of the api pods.
    const apiPolicy = find(objs, "NetworkPolicy", API);
    const kedaPorts = arr(at(apiPolicy.raw, "spec.ingress"), "ingress")
      .filter((r) =>
        arr(at(r, "from"), "from").some(
          (peer) =>
            rec(at(peer, "namespaceSelector.matchLabels") ?? {}, "matchLabels")[
              "kubernetes.io/metadata.name"
            ] === "keda",
        ),
      )
      .flatMap((r) => arr(at(r, "ports"), "ports").map((p) => at(p, "port")));
    expect(kedaPorts).toEqual([podPort]);
    expect(at(so.raw, "spec.minReplicaCount")).toBeGreaterThanOrEqual(1);
    expect(at(so.raw, "spec.fallback.behavior")).toBe("currentReplicasIfHigher");
  });

  it("runs Redis with AOF on, noeviction and a persistent volume", () => {
    const redis = find(objs, "StatefulSet", "k6-gate-redis");
    const c = container(redis, "redis");
    const args = [...arr(c.command ?? [], "command"), ...arr(c.args ?? [], "args")].map((a) =>
      String(a),
    );
    const after = (flag: string): string | undefined => args[args.indexOf(flag) + 1];
    expect(args).toContain("--appendonly");
    expect(after("--appendonly")).toBe("yes");
    expect(after("--maxmemory-policy")).toBe("noeviction");
    expect(arr(at(redis.raw, "spec.volumeClaimTemplates"), "volumeClaimTemplates").length).toBe(1);
    // The URL the services use points at this Service.
    const env = containerEnv(objs, container(find(objs, "Deployment", API), "api"));
    expect(env.REDIS_URL).toMatch(/^redis:\/\/k6-gate-redis(\.|:)/);
  });

  it("runs Redis with a password from the Secret that the api and the workers read too", () => {
    // SECURITY.md, "Redis and scripts": a k6 script can send HTTP to Redis, which runs the request line as a command.
    const redis = find(objs, "StatefulSet", "k6-gate-redis");
    const c = container(redis, "redis");
    const args = [...arr(c.command ?? [], "command"), ...arr(c.args ?? [], "args")].map(String);
    expect(args[args.indexOf("--requirepass") + 1]).toBe("$(REDIS_PASSWORD)");
    const password = arr(c.env, "redis env").find((e) => at(e, "name") === "REDIS_PASSWORD");
    expect(at(password, "valueFrom.secretKeyRef")).toEqual({
      name: "k6-gate-secrets",
      key: "REDIS_PASSWORD",
    });
    // redis-cli exits 0 on NOAUTH: the probes must authenticate and look for PONG.
    for (const probe of ["readinessProbe", "livenessProbe"]) {
      expect(arr(at(c, `${probe}.exec.command`), probe).join(" ")).toContain("grep -q PONG");
    }
    expect(arr(c.env, "redis env").map((e) => at(e, "name"))).toContain("REDISCLI_AUTH");
    // The api and the workers get REDIS_PASSWORD from the same Secret, which must exist.
    for (const [name, role] of [
      [API, "api"],
      [WORKER, "worker"],
    ] as const) {
      const sources = arr(container(find(objs, "Deployment", name), role).envFrom, "envFrom");
      const secret = sources.find((src) => at(src, "secretRef.name") === "k6-gate-secrets");
      expect(secret, `${name} reads k6-gate-secrets`).toBeDefined();
      expect(at(secret, "secretRef.optional"), name).not.toBe(true);
    }
  });

  it("lets only Flagger's namespace (and Prometheus, KEDA) reach the api, and only k6-gate pods reach Redis", () => {
    const policies = objs.filter((o) => o.kind === "NetworkPolicy");
    // matchLabels keys contain dots: read them from the mapping, not with at().
    const componentOf = (p: K8sObject): unknown =>
      rec(at(p.raw, "spec.podSelector.matchLabels") ?? {}, "matchLabels")[
        "app.kubernetes.io/component"
      ];
    const apiPolicy = policies.find((p) => componentOf(p) === "api");
    expect(apiPolicy, "a NetworkPolicy selects the api pods").toBeDefined();
    const apiRules = arr(at(apiPolicy?.raw, "spec.ingress"), "api ingress");
    expect(apiRules.length).toBeGreaterThan(0);
    for (const rule of apiRules) {
      for (const peer of arr(at(rule, "from"), "from")) {
        // Every peer is a whole namespace picked by its name label, never "anyone".
        expect(
          Object.keys(rec(at(peer, "namespaceSelector.matchLabels"), "namespaceSelector")),
        ).toEqual(["kubernetes.io/metadata.name"]);
      }
      expect(arr(at(rule, "ports"), "ports").map((p) => at(p, "port"))).toEqual([8000]);
    }
    const redisPolicy = policies.find((p) => componentOf(p) === "redis");
    expect(redisPolicy, "a NetworkPolicy selects the Redis pods").toBeDefined();
    const peers = arr(at(redisPolicy?.raw, "spec.ingress"), "redis ingress").flatMap((r) =>
      arr(at(r, "from"), "from"),
    );
    const podComponents = peers.map((p) => {
      const labels = at(p, "podSelector.matchLabels");
      return isRec(labels) ? labels["app.kubernetes.io/component"] : undefined;
    });
    expect(podComponents).toContain("worker");
    expect(podComponents).toContain("api");
    // Only pods of this namespace: no other namespace (KEDA reads the queue via the api).
    expect(peers.filter((p) => at(p, "namespaceSelector") !== undefined)).toEqual([]);
  });

  it("lets the worker get Secrets only outside k6-gate's own namespace, per overlay", () => {
    const bindings = objs.filter(
      (o) =>
        (o.kind === "RoleBinding" || o.kind === "ClusterRoleBinding") &&
        arr(o.raw.subjects ?? [], "subjects").some(
          (s) => at(s, "kind") === "ServiceAccount" && at(s, "name") === WORKER,
        ),
    );
    // The base grants nothing: a script runs as the worker and must not reach k6-gate's tokens.
    if (dir === "k8s/base") expect(bindings).toEqual([]);
    else expect(bindings.length).toBeGreaterThan(0);
    for (const b of bindings) {
      expect(b.kind).toBe("RoleBinding");
      expect(b.namespace).not.toBe("k6-gate");
      const roleKind = str(at(b.raw, "roleRef.kind"), "roleRef.kind");
      const role = objs.find(
        (o) =>
          o.kind === roleKind &&
          o.name === at(b.raw, "roleRef.name") &&
          (roleKind === "ClusterRole" || o.namespace === b.namespace),
      );
      expect(role, `${b.kind}/${b.namespace ?? ""}/${b.name} role`).toBeDefined();
      const rules = arr(role?.raw.rules, "rules");
      const secretRule = rules.find((r) =>
        arr(at(r, "resources"), "resources").includes("secrets"),
      );
      expect(arr(at(secretRule, "verbs"), "verbs")).toEqual(["get"]);
    }
  });

  it("scrapes the api's /metrics through the api Service", () => {
    if (!objs.some((o) => o.kind === "ServiceMonitor")) return; // no monitoring component
    const sm = find(objs, "ServiceMonitor", "k6-gate");
    const svc = find(objs, "Service", "k6-gate");
    const selector = strMap(at(sm.raw, "spec.selector.matchLabels"), "ServiceMonitor selector");
    expect(isSubset(selector, strMap(at(svc.raw, "metadata.labels"), "Service labels"))).toBe(true);
    const endpoint = at(sm.raw, "spec.endpoints.0");
    expect(at(endpoint, "path")).toBe("/metrics");
    expect(arr(at(svc.raw, "spec.ports"), "ports").map((p) => at(p, "name"))).toContain(
      at(endpoint, "port"),
    );
  });

  it("scrapes the workers' /metrics port through a PodMonitor the NetworkPolicy lets in", () => {
    if (!objs.some((o) => o.kind === "PodMonitor")) return; // no monitoring component
    const worker = find(objs, "Deployment", WORKER);
    const c = container(worker, "worker");
    const pm = find(objs, "PodMonitor", WORKER);
    const selector = strMap(at(pm.raw, "spec.selector.matchLabels"), "PodMonitor selector");
    expect(isSubset(selector, templateLabels(worker))).toBe(true);
    const endpoint = at(pm.raw, "spec.podMetricsEndpoints.0");
    expect(at(endpoint, "path")).toBe("/metrics");
    const port = resolvePort(c, at(endpoint, "port"));
    // The port the worker listens on is the one the pod declares.
    const env = containerEnv(objs, c);
    expect(port).toBe(Number(env.WORKER_METRICS_PORT ?? 9464));
    expect(resolvePort(c, at(c, "livenessProbe.httpGet.port"))).toBe(port);
    const policy = objs.find(
      (o) =>
        o.kind === "NetworkPolicy" &&
        rec(at(o.raw, "spec.podSelector.matchLabels") ?? {}, "matchLabels")[
          "app.kubernetes.io/component"
        ] === "worker",
    );
    const rules = arr(at(policy?.raw, "spec.ingress"), "worker ingress");
    const ports = rules.flatMap((r) => arr(at(r, "ports"), "ports").map((p) => at(p, "port")));
    expect(ports).toEqual([port]);
  });
});

// ---------------------------------------------------------------------------

describe("k8s/examples/canary.yaml", () => {
  const objs = toObjects(
    readFileSync(join(ROOT, "k8s/examples/canary.yaml"), "utf8"),
    "canary.yaml",
  );
  const canary = objs[0];

  it("is one Flagger Canary whose pre-rollout webhook calls k6-gate", () => {
    expect(objs).toHaveLength(1);
    expect(canary?.apiVersion).toBe("flagger.app/v1beta1");
    expect(canary?.kind).toBe("Canary");
    const hooks = arr(at(canary?.raw, "spec.analysis.webhooks"), "webhooks");
    const hook = rec(
      hooks.find((h) => at(h, "type") === "pre-rollout"),
      "pre-rollout webhook",
    );
    expect(hook.url).toBe("http://k6-gate.k6-gate:8000/launch-test");
    // Flagger's metadata is map[string]string: every value must be a YAML string.
    const md = strMap(hook.metadata, "webhook metadata");
    expect(md.script?.trim().length).toBeGreaterThan(0);
    expect(md.script).toMatch(/thresholds\s*:/);

    const timeout = durationSeconds(str(hook.timeout, "timeout"));
    const retries = hook.retries;
    expect(typeof retries).toBe("number");
    // Without wait_timeout a call holds until the verdict and Flagger's timeout ends each
    // attempt; with it, each attempt must get k6-gate's 503 + Retry-After before that.
    const waitTimeout = md.wait_timeout === undefined ? timeout : durationSeconds(md.wait_timeout);
    expect(waitTimeout).toBeLessThanOrEqual(timeout);
    // The retried attempts together must cover the script's run time.
    const scriptDuration = /duration:\s*["']([^"']+)["']/.exec(md.script ?? "")?.[1];
    expect(scriptDuration).toBeDefined();
    expect(((retries as number) + 1) * waitTimeout).toBeGreaterThan(
      durationSeconds(scriptDuration ?? "0s"),
    );

    durationSeconds(md.min_failure_delay ?? "");
    expect(md.slack_channels).toBeDefined();
    expect(md.notification_context).toBeDefined();
  });

  it("decodes strictly into Flagger's Canary type (fields, types, string metadata)", () => {
    const text = readFileSync(join(ROOT, "k8s/examples/canary.yaml"), "utf8");
    const report = execFileSync(K8S_STRICT, [], { input: text, encoding: "utf8" });
    expect(report).toContain("strictly decoded 1 objects, 0 not checked");
  });

  it("targets the canary's own Service (Flagger's <name>-canary), named in env_vars", () => {
    // A user's cluster: the load goes to the new version only, never to a local address.
    const name = str(at(canary?.raw, "spec.targetRef.name"), "targetRef.name");
    const port = at(canary?.raw, "spec.service.port");
    const service = `http://${name}-canary.${canary?.namespace ?? ""}:${String(port)}`;
    const hook = arr(at(canary?.raw, "spec.analysis.webhooks"), "webhooks")[0];
    const md = strMap(at(hook, "metadata"), "metadata");
    const urls = (md.script ?? "").match(/https?:\/\/[^\s"'`/]+/g) ?? [];
    expect(urls).toEqual([service]);
    expect(md.script).toContain("__ENV.TARGET");
    const envVars: unknown = JSON.parse(md.env_vars ?? "null");
    expect(strMap(envVars, "env_vars").TARGET).toBe(service);
  });
});

// ---------------------------------------------------------------------------

describe("docker-compose.yml", () => {
  const text = readFileSync(join(ROOT, "docker-compose.yml"), "utf8");
  // `merge: true` resolves the `<<:` merge keys the file uses, as compose does.
  const compose = rec(parse(text, { merge: true }), "docker-compose.yml");
  const services = rec(compose.services, "services");
  const svc = (name: string): Rec => rec(services[name], `service ${name}`);
  const env = (name: string): Record<string, unknown> =>
    rec(svc(name).environment ?? {}, `${name} environment`);

  it("has redis, k6-gate in one process, extra workers behind a profile, demo-target and the one-shot demo", () => {
    expect(Object.keys(services).sort()).toEqual([
      "demo",
      "demo-target",
      "k6-gate",
      "redis",
      "worker",
    ]);
    expect(arr(svc("k6-gate").command, "k6-gate command")).toEqual(["all"]);
    expect(svc("k6-gate").profiles).toBeUndefined(); // `docker compose up` starts it
    expect(arr(svc("worker").command, "worker command")).toEqual(["worker"]);
    expect(svc("worker").profiles).toEqual(["workers"]);
    expect(arr(svc("demo").command, "demo command")).toEqual(["demo-send"]);
    expect(svc("demo").restart).toBe("no");
  });

  it("runs k6-gate and the workers in the demo target's network namespace, so k6 load stays on 127.0.0.1", () => {
    for (const name of ["k6-gate", "worker", "demo"]) {
      expect(svc(name).network_mode, name).toBe("service:demo-target");
      expect(svc(name).ports, name).toBeUndefined();
    }
    expect(svc("worker").container_name).toBeUndefined(); // `--scale worker=N` needs it unset
    expect(env("worker").REDIS_URL).toBe("redis://redis:6379");
    expect(env("k6-gate").REDIS_URL).toBe("redis://redis:6379");
    expect(env("demo").API_URL).toBe("http://127.0.0.1:8000");
  });

  it("runs Redis 7 with AOF on and noeviction", () => {
    const redis = svc("redis");
    expect(str(redis.image, "redis image")).toMatch(/^redis:7\.\d+\.\d+/);
    const cmd = arr(redis.command, "redis command").map((a) => String(a));
    expect(cmd[cmd.indexOf("--appendonly") + 1]).toBe("yes");
    expect(cmd[cmd.indexOf("--maxmemory-policy") + 1]).toBe("noeviction");
  });

  it("runs Redis with the REDIS_PASSWORD the api and workers get, required, and checks health with it", () => {
    const required = /^\$\{REDIS_PASSWORD:\?[^}]+\}$/;
    const cmd = arr(svc("redis").command, "redis command").map((a) => String(a));
    expect(cmd[cmd.indexOf("--requirepass") + 1]).toMatch(required);
    expect(String(env("redis").REDISCLI_AUTH)).toMatch(required);
    expect(String(env("k6-gate").REDIS_PASSWORD)).toMatch(required);
    expect(String(env("worker").REDIS_PASSWORD)).toMatch(required);
    expect(arr(at(svc("redis"), "healthcheck.test"), "healthcheck").join(" ")).toContain(
      "grep -q PONG",
    );
  });

  it("has healthchecks on redis, k6-gate and the demo target, and orders start-up on them", () => {
    for (const name of ["redis", "k6-gate", "demo-target"]) {
      expect(arr(at(svc(name), "healthcheck.test"), `${name} healthcheck`).length).toBeGreaterThan(
        0,
      );
    }
    expect(JSON.stringify(at(svc("k6-gate"), "healthcheck.test"))).toContain("/readyz");
    expect(at(svc("k6-gate"), "depends_on.redis.condition")).toBe("service_healthy");
    expect(at(svc("worker"), "depends_on.redis.condition")).toBe("service_healthy");
    expect(at(svc("demo"), "depends_on.k6-gate.condition")).toBe("service_healthy");
  });

  it("publishes the API on 8000 from the namespace it runs in, with a stop grace above SHUTDOWN_GRACE + k6's fixed stop", () => {
    expect(env("k6-gate").PORT).toBe("8000");
    expect(arr(svc("demo-target").ports, "ports").map(String).join(" ")).toMatch(/:8000:8000$/);
    for (const name of ["k6-gate", "worker"]) {
      const grace = durationSeconds(str(svc(name).stop_grace_period, "stop_grace_period"));
      expect(grace, name).toBeGreaterThan(
        durationSeconds(String(env(name).SHUTDOWN_GRACE)) + KILL_GRACE_MS / 1000,
      );
    }
  });

  it("pins every image and runs the k6-gate services read-only with a /tmp tmpfs", () => {
    for (const [name, s] of Object.entries(services)) {
      expect(imagePinned(str(at(s, "image"), `${name} image`)), name).toBe(true);
      if (name === "redis") continue;
      expect(at(s, "read_only"), name).toBe(true);
      expect(arr(at(s, "tmpfs"), `${name} tmpfs`)).toContain("/tmp");
    }
  });

  it.skipIf(!existsSync(DOCKER_COMPOSE))(
    "is valid for `docker compose config` (.tools/bin/docker-compose), and needs REDIS_PASSWORD",
    () => {
      const config = (env: NodeJS.ProcessEnv) =>
        execFileSync(
          DOCKER_COMPOSE,
          ["--env-file", "/dev/null", "-f", "docker-compose.yml", "config", "--quiet"],
          {
            cwd: ROOT,
            stdio: "pipe",
            env,
          },
        );
      const { REDIS_PASSWORD: _unset, ...withoutPassword } = process.env;
      config({ ...withoutPassword, REDIS_PASSWORD: "a-password-for-the-check" });
      expect(() => config(withoutPassword)).toThrow(/REDIS_PASSWORD/);
    },
  );
});

// ---------------------------------------------------------------------------

describe("Dockerfile", () => {
  const text = readFileSync(join(ROOT, "Dockerfile"), "utf8");
  // Instructions with their continuation lines joined, comments dropped.
  const instructions = text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith("#"));
  const named = (op: string): string[] =>
    instructions.filter((l) => l.toUpperCase().startsWith(`${op} `));

  it("builds from pinned base images: k6 2.2.0 and a Node LTS slim", () => {
    // The base images are build args (K6_IMAGE, NODE_IMAGE) declared before the first FROM;
    // their defaults are the pins.
    const args = new Map(
      named("ARG")
        .map((l) => /^ARG\s+(\w+)=(\S+)$/i.exec(l))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => [m[1], m[2]] as const),
    );
    const froms = named("FROM").map((l) =>
      l.replace(/\$\{(\w+)\}/g, (_, name: string) => args.get(name) ?? "").split(/\s+/),
    );
    const stages = new Set(
      froms.map((f) => (f[2]?.toUpperCase() === "AS" ? f[3] : undefined)).filter(Boolean),
    );
    for (const f of froms) {
      const image = f[1] ?? "";
      if (stages.has(image)) continue; // an earlier stage
      expect(imagePinned(image), image).toBe(true);
    }
    expect(froms.map((f) => f[1])).toContain("grafana/k6:2.2.0");
    expect(
      froms.some((f) => /^node:(22|24)\.\d+\.\d+-(bookworm|trixie)-slim$/.test(f[1] ?? "")),
    ).toBe(true);
    expect(instructions).toContain("COPY --from=k6 /usr/bin/k6 /usr/bin/k6");
    expect(text).toMatch(/K6_BIN=\/usr\/bin\/k6/);
  });

  it("follows the hadolint rules that matter here", () => {
    for (const run of named("RUN").filter((r) => r.includes("apt-get install"))) {
      expect(run).toContain("--no-install-recommends");
      expect(run).toContain("-y");
      expect(run).toContain("rm -rf /var/lib/apt/lists/*");
      expect(run).toMatch(/util-linux/); // setpriv
    }
    const users = named("USER");
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).toMatch(/^USER [1-9]\d*(:[1-9]\d*)?$/);
    expect(named("ENTRYPOINT").at(-1)).toMatch(/^ENTRYPOINT \[".*"\]$/);
    expect(named("CMD").at(-1)).toMatch(/^CMD \[".*"\]$/);
    expect(named("ADD")).toEqual([]);
    expect(text).toMatch(/npm ci --omit=dev/);
    expect(text).toMatch(/npm run build/);
  });

  it("starts node with the young-generation cap the test harness and benchmarks use", () => {
    const options = /NODE_OPTIONS="([^"]*)"/.exec(text)?.[1]?.split(" ") ?? [];
    expect(options).toEqual(expect.arrayContaining(["--enable-source-maps", NODE_OPTIONS]));
  });
});

describe("docker/entrypoint.sh", () => {
  const script = join(ROOT, "docker/entrypoint.sh");

  it("is POSIX sh and execs node dist/<cmd>.js with the remaining arguments", () => {
    execFileSync("sh", ["-n", script]);
    const app = mkdtempSync(join(tmpdir(), "k6gate-entry-"));
    try {
      mkdirSync(join(app, "dist"));
      for (const cmd of ["api", "worker", "all", "demo-target", "demo-send"]) {
        writeFileSync(
          join(app, "dist", `${cmd}.js`),
          `console.log(JSON.stringify(["${cmd}", ...process.argv.slice(2)]));\n`,
        );
      }
      const run = (...args: string[]): string =>
        execFileSync("sh", [script, ...args], {
          env: { ...process.env, APP_DIR: app },
          encoding: "utf8",
        }).trim();
      expect(run("worker", "--x", "y")).toBe(JSON.stringify(["worker", "--x", "y"]));
      expect(run("all")).toBe(JSON.stringify(["all"]));
      expect(run("demo-target")).toBe(JSON.stringify(["demo-target"]));
      expect(run("demo-send")).toBe(JSON.stringify(["demo-send"]));
      expect(run()).toBe(JSON.stringify(["api"])); // no argument: the api
      expect(run("echo", "hello")).toBe("hello"); // anything else runs as given
      const marker = join(app, "marker");
      writeFileSync(marker, "#!/bin/sh\necho marker\n");
      chmodSync(marker, 0o755);
      expect(run(marker)).toBe("marker");
    } finally {
      rmSync(app, { recursive: true, force: true });
    }
  });
});
