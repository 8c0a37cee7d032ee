import type { RedisClient } from "../redis";
import { LUA_GATE_KEYS } from "../store/keys";

/**
 * A Lua script with named KEYS and ARGV. The script's prelude binds each name to its
 * position (`local runHash = KEYS[1]`), generated from the same lists callers build their
 * arguments from, so a script and its caller cannot disagree on an order or a count; with
 * a `prefix` argument, it also builds k6-gate's keys from it (`gateKey`, store/keys.ts).
 */
export interface LuaCommand<K extends string, A extends string> {
  /** ioredis command name (`k6gate<Name>`). */
  name: string;
  keys: readonly K[];
  args: readonly A[];
  /** The whole script: header, prelude, body. */
  lua: string;
}

/**
 * `readOnly`: the script only reads (`#!lua flags=no-writes`), so Redis runs it when out
 * of memory too, as it would the plain reads it stands for.
 */
export function luaCommand<const K extends string, const A extends string>(
  name: string,
  summary: string,
  keys: readonly K[],
  args: readonly A[],
  body: string,
  { readOnly = false }: { readOnly?: boolean } = {},
): LuaCommand<K, A> {
  const header = [
    `-- ${name}: ${summary}`,
    `-- KEYS: ${keys.join(", ")}`,
    `-- ARGV: ${args.join(", ")}`,
  ];
  const shebang = readOnly ? "#!lua flags=no-writes" : "#!lua";
  const prelude = [
    ...keys.map((key, i) => `local ${key} = KEYS[${i + 1}]`),
    ...args.map((arg, i) => `local ${arg} = ARGV[${i + 1}]`),
    // Every key a script builds comes from one table (store/keys.ts).
    ...(args.includes("prefix" as A) ? [LUA_GATE_KEYS] : []),
  ];
  return {
    name: `k6gate${name[0]?.toUpperCase() ?? ""}${name.slice(1)}`,
    keys,
    args,
    lua: [shebang, ...header, ...prelude, body.trim()].join("\n"),
  };
}

type Invoke = (...argv: (string | number)[]) => Promise<unknown>;

/** Registers `command` on `redis` once; a pipeline made after that can queue it too. */
function define(redis: RedisClient, command: LuaCommand<string, string>): void {
  if (!(command.name in redis)) {
    redis.defineCommand(command.name, { lua: command.lua, numberOfKeys: command.keys.length });
  }
}

function argvOf<K extends string, A extends string>(
  command: LuaCommand<K, A>,
  keys: Record<K, string>,
  args: Record<A, string | number>,
): (string | number)[] {
  return [...command.keys.map((key) => keys[key]), ...command.args.map((arg) => args[arg])];
}

/** Runs `command` with arguments taken by name; registers it on first use. */
export async function callLua<K extends string, A extends string>(
  redis: RedisClient,
  command: LuaCommand<K, A>,
  keys: Record<K, string>,
  args: Record<A, string | number>,
): Promise<unknown> {
  define(redis, command);
  const invoke = (redis as unknown as Record<string, Invoke>)[command.name] as Invoke;
  return invoke.call(redis, ...argvOf(command, keys, args));
}

/**
 * Runs `command` once per entry of `calls`, all in one pipeline (one round trip), and
 * returns their replies in order; rejects with the first call's error.
 */
export async function callLuaMany<K extends string, A extends string>(
  redis: RedisClient,
  command: LuaCommand<K, A>,
  calls: { keys: Record<K, string>; args: Record<A, string | number> }[],
): Promise<unknown[]> {
  if (calls.length === 0) return [];
  define(redis, command);
  const pipeline = redis.pipeline();
  const queue = (pipeline as unknown as Record<string, Invoke>)[command.name] as Invoke;
  for (const { keys, args } of calls) void queue.call(pipeline, ...argvOf(command, keys, args));
  return ((await pipeline.exec()) ?? []).map(([error, reply]) => {
    if (error) throw error;
    return reply;
  });
}
