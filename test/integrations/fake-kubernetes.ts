import { writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

export interface FakeKubernetes {
  url: string;
  /** Paths of every request, in order. */
  requests: string[];
  /** Secrets served: "namespace/name" -> key -> value (plain; served base64 as the API does). */
  secrets: Map<string, Record<string, string>>;
  /** When true, secret reads are never answered (a hung API server). */
  hang: boolean;
  /** Writes a kubeconfig for this server (http, bearer `token`) into `dir`; returns its path. */
  kubeconfig(dir: string, token?: string): string;
  close(): Promise<void>;
}

const SECRET_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/secrets\/([^/]+)$/;

function status(code: number, reason: string, message: string) {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    code,
  };
}

/**
 * A local stand-in for the Kubernetes API: `GET /api/v1/namespaces/{ns}/secrets/{name}`
 * only, answering like the real API server (V1Secret, or a Status with 401/404).
 */
export async function startFakeKubernetes(token: string): Promise<FakeKubernetes> {
  const serverToken = token;
  const requests: string[] = [];
  const secrets = new Map<string, Record<string, string>>();
  const state = { hang: false };
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
    requests.push(path);
    const send = (code: number, body: unknown) =>
      res.writeHead(code, { "content-type": "application/json" }).end(JSON.stringify(body));
    if (req.headers.authorization !== `Bearer ${token}`) {
      return send(401, status(401, "Unauthorized", "Unauthorized"));
    }
    const match = SECRET_PATH.exec(path);
    if (req.method !== "GET" || !match) return send(404, status(404, "NotFound", "not found"));
    if (state.hang) return;
    const [, namespace = "", name = ""] = match;
    const data = secrets.get(`${namespace}/${name}`);
    if (!data) {
      return send(404, status(404, "NotFound", `secrets "${name}" not found`));
    }
    send(200, {
      kind: "Secret",
      apiVersion: "v1",
      metadata: { name, namespace, uid: "0b7c6f5e-0000-4000-8000-000000000001" },
      type: "Opaque",
      data: Object.fromEntries(
        Object.entries(data).map(([key, value]) => [key, Buffer.from(value).toString("base64")]),
      ),
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    requests,
    secrets,
    get hang() {
      return state.hang;
    },
    set hang(value: boolean) {
      state.hang = value;
    },
    kubeconfig(dir, token = serverToken) {
      const path = join(dir, "kubeconfig.yaml");
      writeFileSync(
        path,
        [
          "apiVersion: v1",
          "kind: Config",
          "clusters:",
          "  - name: fake",
          // client-node refuses plain http unless TLS checks are off, as they are here.
          `    cluster: { server: "${url}", insecure-skip-tls-verify: true }`,
          "users:",
          "  - name: k6-gate-worker",
          `    user: { token: "${token}" }`,
          "contexts:",
          "  - name: fake",
          "    context: { cluster: fake, user: k6-gate-worker }",
          "current-context: fake",
          "",
        ].join("\n"),
        { mode: 0o600 },
      );
      return path;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
