import { RUN_QUEUE } from "../queue";

/**
 * Every Redis key of k6-gate's own records, in one place: the TypeScript readers and
 * writers build them with `StoreKeys`, and every Lua script with `gateKey`, generated from
 * the same table (`LUA_GATE_KEYS`). All live under `<QUEUE_PREFIX>:gate:`; BullMQ's own keys
 * under `<QUEUE_PREFIX>:<queue>:` (`jobPrefix`).
 *
 * Per thing (the table's value is what follows `gate`, then the thing's id):
 * - `run:<runId>` HASH: a run's record; `spec:<runId>`: the job it runs while in flight;
 *   `output:<runId>`: its k6 output; `inputs:<runId>`: what it was given, without the
 *   script; `waited:<runId>` ZSET: the API processes whose calls wait on it (decision 41).
 * - `key:<runKey>` HASH: the run a check has in flight (`current`), its latest (`latest`),
 *   and the counter run ids come from (`seq`).
 * - `script:<sha256>`: a script, once per content; `script-runs:<sha256>` HASH: how many
 *   kept runs use it (`runs`).
 * - `canary:<ns>/<name>` ZSET: a canary's runs by when they were queued;
 *   `canary-inflight:<ns>/<name>` SET: its queued and running runs (supersede).
 * - Per owner (decision 42: `token:<name>` or `namespace:<ns>`): `owner-queued:<owner>` ZSET
 *   of its queued runs by arrival; `slots:<owner>` ZSET of its running k6, each a lease;
 *   `owner:<owner>` HASH of what it keeps (`outputBytes`), with `:outputs` (ZSET run id ->
 *   bytes), `:scripts` and `:canaries` (ZSETs by last use) and `:script-runs:<sha256>`.
 */
const PER_THING = {
  run: "run:",
  spec: "spec:",
  output: "output:",
  inputs: "inputs:",
  waited: "waited:",
  runKey: "key:",
  script: "script:",
  scriptRuns: "script-runs:",
  canaryRuns: "canary:",
  canaryInFlight: "canary-inflight:",
  ownerQueued: "owner-queued:",
  ownerSlots: "slots:",
  owner: "owner:",
} as const;
type Thing = keyof typeof PER_THING;

/** What follows `owner:<owner>` for each of an owner's keys. */
const PER_OWNER = {
  usage: "",
  outputs: ":outputs",
  scripts: ":scripts",
  canaries: ":canaries",
} as const;
const OWNER_SCRIPT_RUNS = ":script-runs:";

/** One of each (what follows `gate`). */
const SINGLE = {
  /** ZSET of canaries ("ns/name") by their last run. */
  canaries: "canaries",
  /** SETs of the runs in flight. */
  queued: "queued",
  running: "running",
  /** LIST of the last runs' durations (wait estimates). */
  recentDurations: "recent-durations",
  /** ZSET of every queued run by (priority, arrival): BullMQ's take order. */
  queueOrder: "queue-order",
  /** Channels: a run's verdict is recorded; a run ended under its worker. */
  finishedChannel: "finished",
  stopChannel: "stop",
  /** The reconciler's lock: one API process reconciles at a time. */
  reconcileLock: "reconcile-lock",
} as const;

export type OwnerKeys = Record<keyof typeof PER_OWNER | "queued" | "slots", string>;

export class StoreKeys {
  /** `<prefix>:gate:`: what every key of ours starts with (the scripts' `gate` argument). */
  readonly gate: string;
  /** BullMQ's keys of the run queue: a job's hash is this plus its id. */
  readonly jobPrefix: string;

  constructor(readonly prefix: string) {
    this.gate = `${prefix}:gate:`;
    this.jobPrefix = `${prefix}:${RUN_QUEUE}:`;
  }

  of(thing: Thing, id: string): string {
    return `${this.gate}${PER_THING[thing]}${id}`;
  }

  single(name: keyof typeof SINGLE): string {
    return `${this.gate}${SINGLE[name]}`;
  }

  canary(thing: "canaryRuns" | "canaryInFlight", namespace: string, name: string): string {
    return this.of(thing, `${namespace}/${name}`);
  }

  ownerKeys(owner: string): OwnerKeys {
    const at = this.of("owner", owner);
    return {
      queued: this.of("ownerQueued", owner),
      slots: this.of("ownerSlots", owner),
      usage: at + PER_OWNER.usage,
      outputs: at + PER_OWNER.outputs,
      scripts: at + PER_OWNER.scripts,
      canaries: at + PER_OWNER.canaries,
    };
  }

  /** BullMQ's HASH of a run's job (its id is the run's). */
  job(runId: string): string {
    return `${this.jobPrefix}${runId}`;
  }

  /** BullMQ's ZSET of prioritized jobs: where workers take the next job from. */
  get bullPrioritized(): string {
    return `${this.jobPrefix}prioritized`;
  }

  /** BullMQ's priority counter: a job's arrival (decision 42). */
  get bullCounter(): string {
    return `${this.jobPrefix}pc`;
  }
}

const luaString = (text: string) => `'${text}'`;

/**
 * The same keys for Lua, from `prefix` (QUEUE_PREFIX, an argument of every script that
 * builds keys; lua-command.ts includes this where it is): `gate` and `jobPrefix`, the single
 * keys and channels (`gateKey.queued`, `gateKey.finishedChannel`, ...), `gateKey.run(id)`
 * and the other per-thing keys, BullMQ's job hash `gateKey.job(runId)`, and `gateKey.ownerKeys(owner)`, a table of the owner's keys
 * plus `scriptRuns(digest)`. A script includes it where it builds a key it cannot declare (a run
 * found in an index, a record's owner): Redis 7 allows undeclared keys of the same slot
 * (decision 10), and QUEUE_PREFIX's hash tag puts all of ours in one.
 */
export const LUA_GATE_KEYS = [
  "local gate = prefix .. ':gate:'",
  `local jobPrefix = prefix .. ':${RUN_QUEUE}:'`,
  "local gateKey = {}",
  ...Object.entries(SINGLE).map(([name, part]) => `gateKey.${name} = gate .. ${luaString(part)}`),
  ...Object.entries(PER_THING).map(
    ([thing, part]) =>
      `gateKey.${thing} = function(id) return gate .. ${luaString(part)} .. id end`,
  ),
  "gateKey.job = function(id) return jobPrefix .. id end",
  "gateKey.ownerKeys = function(owner)",
  `  local at = gateKey.owner(owner)`,
  "  return {queued = gateKey.ownerQueued(owner), slots = gateKey.ownerSlots(owner),",
  `    ${Object.entries(PER_OWNER)
    .map(([part, suffix]) => `${part} = at${suffix ? ` .. ${luaString(suffix)}` : ""}`)
    .join(", ")},`,
  `    scriptRuns = function(digest) return at .. ${luaString(OWNER_SCRIPT_RUNS)} .. digest end}`,
  "end",
  "",
].join("\n");
