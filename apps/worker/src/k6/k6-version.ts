import { execa } from "execa";
import { K6_PATH } from "./environment";

const versions = new Map<string, Promise<string | null>>();

/**
 * The version of the k6 at `k6Bin` ("v2.2.0"), from `k6 version --json`, read once per
 * binary and remembered: what every run's page says ran it. null when k6 cannot say.
 */
export function k6VersionOf(k6Bin: string): Promise<string | null> {
  let version = versions.get(k6Bin);
  if (!version) {
    version = execa(k6Bin, ["version", "--json"], {
      env: { PATH: K6_PATH, K6_NO_USAGE_REPORT: "true" },
      extendEnv: false,
      stdin: "ignore",
      reject: false,
      timeout: 10_000,
    }).then((result) => {
      if (result.exitCode !== 0) return null;
      try {
        const parsed = JSON.parse(result.stdout) as { version?: unknown };
        return typeof parsed.version === "string" ? parsed.version : null;
      } catch {
        return null;
      }
    });
    versions.set(k6Bin, version);
    // A k6 that could not be read is asked again next time (it may be installed since).
    void version.then((value) => {
      if (value === null) versions.delete(k6Bin);
    });
  }
  return version;
}
