import { existsSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { K6_BIN } from "@k6-gate/testkit/paths";

/** Fails the run at once, with the fix, when a real part the tests need is missing. */
export default function setup(): void {
  if (!existsSync(K6_BIN))
    throw new Error(`k6 not found at ${K6_BIN}: run \`make test\` (it installs k6)`);
  try {
    execFileSync("redis-server", ["--version"], { stdio: "ignore" });
  } catch {
    throw new Error(
      "redis-server not found: run `make test` (it installs it from Debian's packages)",
    );
  }
}
