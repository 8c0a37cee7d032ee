import { describe, expect, it } from "vitest";
import { loadApiConfig } from "../../apps/api/src/config";
import { loadWorkerConfig } from "../../apps/worker/src/config";

/** flagger-k6-webhook's environment variables (and k6-gate's former names), read where k6-gate has an equivalent. */
describe("the peer's environment", () => {
  it("reads LISTEN_PORT as PORT, and says to rename it", () => {
    const config = loadApiConfig({ LISTEN_PORT: "9090" });
    expect(config.PORT).toBe(9090);
    expect(config.envNotices).toEqual([
      "LISTEN_PORT is flagger-k6-webhook's name for PORT; read as PORT=9090. Rename it: LISTEN_PORT is deprecated",
    ]);
  });

  it("prefers k6-gate's own name when both are set, and says the peer's is ignored", () => {
    const config = loadApiConfig({ LISTEN_PORT: "9090", PORT: "8001" });
    expect(config.PORT).toBe(8001);
    expect(config.envNotices).toEqual([
      "LISTEN_PORT (flagger-k6-webhook's name) is ignored: PORT is set",
    ]);
  });

  it("reads MAX_CONCURRENT_TESTS as MAX_CONCURRENT_RUNS and takes KUBERNETES_CLIENT as it is", () => {
    const config = loadWorkerConfig({ MAX_CONCURRENT_TESTS: "4", KUBERNETES_CLIENT: "none" });
    expect(config.MAX_CONCURRENT_RUNS).toBe(4);
    expect(config.KUBERNETES_CLIENT).toBe("none");
  });

  it("reads k6-gate's former MAX_RUNS_PER_NAMESPACE as MAX_RUNS_PER_OWNER, and says to rename it", () => {
    const config = loadWorkerConfig({ MAX_RUNS_PER_NAMESPACE: "2" });
    expect(config.MAX_RUNS_PER_OWNER).toBe(2);
    expect(config.envNotices).toEqual([
      "MAX_RUNS_PER_NAMESPACE is k6-gate's former name for MAX_RUNS_PER_OWNER; read as MAX_RUNS_PER_OWNER=2. Rename it: MAX_RUNS_PER_NAMESPACE is deprecated",
    ]);
    expect(
      loadWorkerConfig({ MAX_RUNS_PER_NAMESPACE: "2", MAX_RUNS_PER_OWNER: "3" }),
    ).toMatchObject({
      MAX_RUNS_PER_OWNER: 3,
      envNotices: [
        "MAX_RUNS_PER_NAMESPACE (k6-gate's former name) is ignored: MAX_RUNS_PER_OWNER is set",
      ],
    });
  });

  it("takes logrus's level names (warning, panic)", () => {
    expect(loadApiConfig({ LOG_LEVEL: "warning" }).LOG_LEVEL).toBe("warn");
    expect(loadWorkerConfig({ LOG_LEVEL: "panic" }).LOG_LEVEL).toBe("fatal");
  });

  it("refuses a KUBERNETES_CLIENT it does not know, naming the choices", () => {
    expect(() => loadWorkerConfig({ KUBERNETES_CLIENT: "out-of-cluster" })).toThrow(
      /KUBERNETES_CLIENT/,
    );
  });
});
