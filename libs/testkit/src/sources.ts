import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

/** The TypeScript and JavaScript sources under `dir` (not node_modules, not .d.ts). */
export function sourcesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return entry === "node_modules" ? [] : sourcesUnder(path);
    return /\.(m?[jt]s|tsx)$/.test(entry) && !entry.endsWith(".d.ts") ? [path] : [];
  });
}
