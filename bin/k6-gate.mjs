#!/usr/bin/env node
// `npx k6-gate try ...` in a checkout: k6-gate's command line. Plain JavaScript any Node
// parses, so the Node version is checked before anything of k6-gate loads: an old Node
// gets a sentence naming the Node it needs, not a stack trace from inside a dependency
// (Node 20: "TEXT_ENCODINGS.union is not a function").
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const USAGE =
  "usage: npx k6-gate try [options] <canary.yaml | metadata.yaml>... (--help: the options)";
const COMMANDS = { try: join(ROOT, "apps", "worker", "src", "try", "main.ts") };

/** The Node this checkout runs on: package.json's engines (">=24") and .node-version (the pin). */
function wantedNode() {
  const engines = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).engines.node;
  const major = Number(/(\d+)/.exec(engines)[1]);
  const pinned = readFileSync(join(ROOT, ".node-version"), "utf8").trim();
  return { major, pinned };
}

/**
 * This Node when it is new enough; else the pinned one `make node` installs into
 * .tools/node (said on stderr); else null, after saying which Node is needed.
 */
function nodeToRun() {
  const { major, pinned } = wantedNode();
  const current = process.versions.node;
  if (Number(current.split(".")[0]) >= major) return process.execPath;
  const tools = join(ROOT, ".tools", "node", "bin", "node");
  if (existsSync(tools)) {
    console.error(
      `k6-gate: Node.js ${current} is too old; using ${tools} (Node.js ${pinned}, this checkout's pin)`,
    );
    return tools;
  }
  const way = (command, why) => `  ${command.padEnd(22)} # ${why}`;
  console.error(
    [
      `k6-gate needs Node.js ${major} or newer; this is Node.js ${current} (${process.execPath}).`,
      `This checkout pins Node.js ${pinned} (.node-version). Either:`,
      way(
        "make node",
        `installs it into ${join(ROOT, ".tools", "node")}; npx k6-gate then uses it`,
      ),
      way(`nvm install ${pinned}`, `or any Node.js ${major}+ first on PATH`),
    ].join("\n"),
  );
  return null;
}

const [command, ...args] = process.argv.slice(2);
const entry = COMMANDS[command ?? ""];
if (!entry) {
  console.error(`k6-gate: ${command ? `no command ${command}` : "no command given"}\n${USAGE}`);
  process.exit(2);
}
const node = nodeToRun();
if (!node) process.exit(2);

// tsx runs the TypeScript sources, as `npm run try` did; resolved from this checkout so
// the command works from any directory (file arguments stay relative to where you are).
const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
const child = spawn(node, ["--import", tsx, entry, ...args], { stdio: "inherit" });
// Ctrl-C reaches the child too (same process group): it stops k6 and exits; wait for it.
process.on("SIGINT", () => {});
process.on("SIGTERM", () => child.kill("SIGTERM"));
child.on("error", (error) => {
  console.error(`k6-gate: could not start ${node}: ${error.message}`);
  process.exit(2);
});
child.on("exit", (code, signal) => {
  if (code !== null) process.exit(code);
  // Ended by a signal: end the same way, so a caller sees what a shell would show.
  process.removeAllListeners(signal);
  process.kill(process.pid, signal);
});
