// Versions live in one place each. The k6 we test is the k6 we ship: `make` builds the
// version in .k6-version into .tools/bin (Makefile: K6_VERSION), and the image copies k6
// from `grafana/k6:<.k6-version>`, the default of the Dockerfile's K6_IMAGE build arg.
// (Node's pin, .node-version, is checked in test/runtime.test.ts.) package.json's ranges
// follow docs/decisions.md (24).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "@k6-gate/testkit/paths";

const read = (file: string): string => readFileSync(join(ROOT, file), "utf8");

describe("the k6 pin", () => {
  const pin = read(".k6-version").trim();

  it(".k6-version is an exact k6 v2 release, without the Go module's 'v'", () => {
    expect(pin).toMatch(/^2\.\d+\.\d+$/);
  });

  it("the Dockerfile copies k6 from grafana/k6 at the pin (the K6_IMAGE build arg's default)", () => {
    const dockerfile = read("Dockerfile");
    const tags = [...dockerfile.matchAll(/^ARG\s+K6_IMAGE=grafana\/k6:(\S+)/gim)].map((m) => m[1]);
    expect(tags, "one ARG K6_IMAGE=grafana/k6:<version>").toHaveLength(1);
    expect(tags[0], `Dockerfile K6_IMAGE=grafana/k6:${tags[0]} vs .k6-version ${pin}`).toBe(pin);
    expect(dockerfile).toMatch(/^FROM\s+\$\{K6_IMAGE\}\s+AS\s+k6$/im);
  });
});

describe("package.json's dependency ranges", () => {
  const pkg = JSON.parse(read("package.json")) as {
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };
  const all = { ...pkg.dependencies, ...pkg.devDependencies };
  /** The exceptions, each with its reason in docs/decisions.md (24). */
  const EXACT = ["@bull-board/api", "@bull-board/hono"];
  const TILDE = ["typescript"];

  it("are carets but for the listed exceptions", () => {
    for (const [name, range] of Object.entries(all)) {
      const shape = EXACT.includes(name)
        ? /^\d+\.\d+\.\d+$/
        : TILDE.includes(name)
          ? /^~\d+\.\d+\.\d+$/
          : /^\^\d+\.\d+\.\d+$/;
      expect(range, name).toMatch(shape);
    }
  });

  it("keeps the bull-board packages on one version", () => {
    expect(new Set(EXACT.map((name) => all[name])).size).toBe(1);
  });
});
