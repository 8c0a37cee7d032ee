import type { RedisClient } from "../redis";

/**
 * A Lua script with named KEYS and ARGV. The script's prelude binds each name to its
 * position (`local runHash = KEYS[1]`), generated from the same lists callers build their
 * arguments from, so a script and its caller cannot disagree on an order or a count.
 */
export interface LuaCommand<K extends string, A extends string> {
  /** ioredis command name (`k6gate<Name>`). */
  name: string;
  keys: readonly K[];
  args: readonly A[];
  /** The whole script: header, prelude, body. */
  lua: string;
}

export function luaCommand<const K extends string, const A extends string>(
  name: string,
  summary: string,
  keys: readonly K[],
  args: readonly A[],
  body: string,
): LuaCommand<K, A> {
  const header = [
    `-- ${name}: ${summary}`,
    `-- KEYS: ${keys.join(", ")}`,
    `-- ARGV: ${args.join(", ")}`,
  ];
  const prelude = [
    ...keys.map((key, i) => `local ${key} = KEYS[${i + 1}]`),
    ...args.map((arg, i) => `local ${arg} = ARGV[${i + 1}]`),
  ];
  return {
    name: `k6gate${name[0]?.toUpperCase() ?? ""}${name.slice(1)}`,
    keys,
    args,
    lua: ["#!lua", ...header, ...prelude, body.trim()].join("\n"),
  };
}

type Invoke = (...argv: (string | number)[]) => Promise<unknown>;

/** Runs `command` with arguments taken by name; registers it on first use. */
export async function callLua<K extends string, A extends string>(
  redis: RedisClient,
  command: LuaCommand<K, A>,
  keys: Record<K, string>,
  args: Record<A, string | number>,
): Promise<unknown> {
  if (!(command.name in redis)) {
    redis.defineCommand(command.name, { lua: command.lua, numberOfKeys: command.keys.length });
  }
  const invoke = (redis as unknown as Record<string, Invoke>)[command.name] as Invoke;
  return invoke.call(
    redis,
    ...command.keys.map((key) => keys[key]),
    ...command.args.map((arg) => args[arg]),
  );
}
