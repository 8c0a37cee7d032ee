import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface CloudRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  stackId: string | undefined;
}

/** Like Grafana Cloud k6; failing with 500; rejecting the token with 401. */
export type CloudBehaviour = "ok" | "server_error" | "unauthorized";

export interface FakeK6Cloud {
  /** Base URL for the worker's K6_CLOUD_HOST. */
  url: string;
  requests: CloudRequest[];
  behaviour: CloudBehaviour;
  /** The address k6 prints for run `id`, as Grafana Cloud k6 names it. */
  runUrl(id: number): string;
  /** Stops listening: connections to `url` are refused from now on. */
  close(): Promise<void>;
}

const STACK_URL = "https://k6gate-test.grafana.net";

/**
 * A local stand-in for the APIs `k6 cloud run --local-execution` (k6 v2.2) talks to: the
 * v6 API (create the load test, poll the run until it is "initializing") and the
 * provisioning API (start the run, handing out where to push metrics and logs, then be
 * notified of its end). Metrics and logs pushed here are accepted and dropped.
 */
export async function startFakeK6Cloud(): Promise<FakeK6Cloud> {
  const requests: CloudRequest[] = [];
  const state: { behaviour: CloudBehaviour } = { behaviour: "ok" };
  let runs = 0;
  let base = "";

  const server = createServer((req, res) => {
    req.resume();
    req.once("end", () => {
      const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
      const method = req.method ?? "GET";
      const stackId = req.headers["x-stack-id"];
      requests.push({
        method,
        path,
        authorization: req.headers.authorization,
        stackId: Array.isArray(stackId) ? stackId[0] : stackId,
      });
      const send = (status: number, body: unknown) =>
        res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
      if (state.behaviour === "server_error") {
        return send(500, { error: { message: "internal error", code: "error" } });
      }
      if (state.behaviour === "unauthorized") {
        return send(401, { error: { message: "Invalid token", code: "unauthorized" } });
      }
      const now = new Date().toISOString();
      let match: RegExpExecArray | null;
      if (method === "POST" && (match = /^\/cloud\/v6\/projects\/(\d+)\/load_tests$/.exec(path))) {
        return send(201, {
          id: 456,
          project_id: Number(match[1]),
          name: "script.js",
          baseline_test_run_id: null,
          created: now,
          updated: now,
        });
      }
      if (
        method === "POST" &&
        /^\/provisioning\/v1\/load_tests\/\d+\/start_local_execution$/.test(path)
      ) {
        runs += 1;
        return send(200, {
          test_run_id: 1000 + runs,
          archive_upload_url: null,
          test_run_details_page_url: `${STACK_URL}/a/k6-app/runs/${1000 + runs}`,
          runtime_config: {
            test_run_token: "test-run-scoped-token",
            metrics: {
              push_url: `${base}/v1/metrics`,
              push_interval: "1s",
              push_concurrency: 1,
              aggregation_period: "3s",
              aggregation_wait_period: "1s",
              aggregation_min_samples: 10,
              max_samples_per_package: 1000,
            },
            traces: { push_url: `${base}/traces`, traces_metadata: {}, proto: "http" },
            files: {
              push_url: `${base}/files`,
              screenshots_base_path: "/",
              headers: {},
              method: "POST",
            },
            logs: {
              push_url: `${base}/logs`,
              tail_url: `${base}/tail`,
              limit: 100,
              push_period_seconds: "1s",
              level: "info",
              message_max_size: 1000,
              allowed_labels: [],
            },
            secrets: { endpoint: `${base}/secrets/{key}`, response_path: "plaintext" },
          },
        });
      }
      if (method === "GET" && (match = /^\/cloud\/v6\/test_runs\/(\d+)$/.exec(path))) {
        return send(200, {
          id: Number(match[1]),
          test_id: 456,
          project_id: 1,
          started_by: null,
          created: now,
          ended: null,
          note: "",
          retention_expiry: null,
          cost: null,
          status: "initializing",
          status_details: { type: "initializing", entered: now },
          status_history: [{ type: "initializing", entered: now }],
          distribution: [],
          result: null,
          result_details: null,
          options: {},
          k6_dependencies: {},
          k6_versions: {},
          max_vus: 1,
          max_browser_vus: 0,
          estimated_duration: 1,
          execution_duration: 0,
          is_starred: false,
        });
      }
      // Metrics, logs and the end-of-run notification.
      send(200, {});
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: base,
    requests,
    get behaviour() {
      return state.behaviour;
    },
    set behaviour(value: CloudBehaviour) {
      state.behaviour = value;
    },
    runUrl: (id) => `${STACK_URL}/a/k6-app/runs/${id}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
