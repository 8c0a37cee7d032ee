import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "@k6-gate/testkit/paths";
import { sourcesUnder } from "@k6-gate/testkit/sources";

/**
 * No import cycle among the sources (type-only imports included): a cycle makes the load
 * order decide what a module sees, and says two files are one thing split badly.
 */

/** The files a source imports by relative path (`./x`, `../y/z`). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const specifiers = [...text.matchAll(/\bfrom\s+"(\.{1,2}\/[^"]+)"/g)].map((m) => m[1] ?? "");
  return specifiers.flatMap((specifier) => {
    const base = resolve(dirname(file), specifier);
    const found = [`${base}.ts`, `${base}.tsx`, join(base, "index.ts")].find(existsSync);
    return found ? [found] : [];
  });
}

function cyclesAmong(files: string[]): string[][] {
  const edges = new Map(files.map((file) => [file, importsOf(file)]));
  const cycles: string[][] = [];
  const done = new Set<string>();
  const visit = (file: string, path: string[]) => {
    const at = path.indexOf(file);
    if (at >= 0) {
      cycles.push([...path.slice(at), file].map((f) => relative(ROOT, f)));
      return;
    }
    if (done.has(file)) return;
    for (const next of edges.get(file) ?? []) visit(next, [...path, file]);
    done.add(file);
  };
  for (const file of files) visit(file, []);
  return cycles;
}

describe("imports", () => {
  it.each(["apps", "libs"])("form no cycle in %s/", (top) => {
    const files = sourcesUnder(join(ROOT, top));
    expect(files.length).toBeGreaterThan(10);
    expect(cyclesAmong(files)).toEqual([]);
  });

  it("finds a cycle, type-only imports too", () => {
    const dir = mkdtempSync(join(tmpdir(), "k6-gate-cycles-"));
    try {
      writeFileSync(
        join(dir, "deps.ts"),
        'import type { Fields } from "./log";\nexport type A = Fields;\n',
      );
      writeFileSync(
        join(dir, "log.ts"),
        'import type { A } from "./deps";\nexport type Fields = A;\n',
      );
      writeFileSync(join(dir, "main.ts"), 'import { x } from "./deps";\n');
      expect(cyclesAmong(sourcesUnder(dir)).map((cycle) => cycle.length)).toEqual([3]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
