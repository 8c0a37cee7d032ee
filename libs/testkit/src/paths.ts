import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const TOOLS_BIN = join(ROOT, ".tools", "bin");
/** The real k6 binary installed by `make` (see Makefile: K6_VERSION). */
export const K6_BIN = process.env.K6_BIN ?? join(TOOLS_BIN, "k6");
export const ARTIFACTS = join(ROOT, "test-artifacts");
/** Flagger's own webhook client (test/flagger-client), built by `make`. */
export const FLAGGER_CLIENT = join(TOOLS_BIN, "flagger-client");
