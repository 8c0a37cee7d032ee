import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { callLua, luaCommand, type LuaCommand } from "../../libs/shared/src/commands/lua-command";
import { READ_COMMANDS } from "../../libs/shared/src/commands/read-commands";
import { RUN_COMMANDS } from "../../libs/shared/src/commands/run-commands";
import { LUA_GATE_KEYS } from "../../libs/shared/src/store/keys";

/**
 * A script and its caller agree on KEYS and ARGV when both come from the command's name
 * lists: the script through its generated prelude only, the caller through `callLua`.
 */

type AnyCommand = LuaCommand<string, string>;

/** Whether the script builds keys from `prefix` with the generated `gateKey` prelude. */
const buildsKeys = (command: AnyCommand) => command.args.includes("prefix");

/** The script after its header and prelude: what a person wrote. */
function bodyOf(command: AnyCommand): string {
  const lines = command.lua.split("\n");
  const gateKeys = buildsKeys(command) ? LUA_GATE_KEYS.split("\n").length : 0;
  const prelude = 1 + 3 + command.keys.length + command.args.length + gateKeys;
  return lines.slice(prelude).join("\n");
}

/** Lua source without its comments and string literals, so names are found in code only. */
function codeOf(lua: string): string {
  return lua
    .replace(/--\[(=*)\[[\s\S]*?\]\1\]/g, " ")
    .replace(/--[^\n]*/g, " ")
    .replace(/'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"/g, "''");
}

const LUA_KEYWORDS = new Set(
  "and break do else elseif end false for function goto if in local nil not or repeat return then true until while".split(
    " ",
  ),
);

/** A Redis client that records defineCommand and each call's argv. */
class RecordingRedis {
  readonly defined: { name: string; lua: string; numberOfKeys: number }[] = [];
  readonly calls: { name: string; argv: (string | number)[] }[] = [];

  defineCommand(name: string, { lua, numberOfKeys }: { lua: string; numberOfKeys: number }) {
    this.defined.push({ name, lua, numberOfKeys });
    // As ioredis does: a method of that name, taking the keys then the args.
    Object.defineProperty(this, name, {
      value: async (...argv: (string | number)[]) => {
        this.calls.push({ name, argv });
        return "OK";
      },
    });
  }
}

const names = (command: AnyCommand) => [...command.keys, ...command.args];

const COMMANDS: AnyCommand[] = [...RUN_COMMANDS, ...READ_COMMANDS];
const readers = new Set<AnyCommand>(READ_COMMANDS);

describe.each(COMMANDS.map((command) => [command.name, command] as const))(
  "%s",
  (_name, command: AnyCommand) => {
    it("starts with #!lua, so Redis refuses a writer whole when out of memory; a reader says no-writes", () => {
      const shebang = readers.has(command) ? "#!lua flags=no-writes" : "#!lua";
      expect(command.lua.startsWith(`${shebang}\n`)).toBe(true);
    });

    it("binds KEYS and ARGV only in its generated prelude, in declared order", () => {
      const lines = command.lua.split("\n");
      const prelude = lines.slice(4, 4 + command.keys.length + command.args.length);
      expect(prelude).toEqual([
        ...command.keys.map((key, i) => `local ${key} = KEYS[${i + 1}]`),
        ...command.args.map((arg, i) => `local ${arg} = ARGV[${i + 1}]`),
      ]);
      expect(codeOf(bodyOf(command))).not.toMatch(/\b(?:KEYS|ARGV)\b/);
    });

    it("uses every key and argument it declares (`prefix`: through gateKey)", () => {
      const code = codeOf(bodyOf(command));
      const unused = names(command).filter(
        (name) => !new RegExp(`\\b${name}\\b`).test(code) && name !== "prefix",
      );
      expect(unused).toEqual([]);
      if (buildsKeys(command)) expect(code).toMatch(/\bgateKey\b/);
    });

    it("builds no key of its own: every one it does not declare comes from gateKey (store/keys.ts)", () => {
      const code = codeOf(bodyOf(command));
      expect(code).not.toMatch(/\b(?:gate|jobPrefix|prefix)\s*\.\./);
      if (!buildsKeys(command)) expect(code).not.toMatch(/\bgateKey\b/);
    });

    it("declares each name once, as a Lua name, and never redeclares one in its body", () => {
      const all = names(command);
      expect(new Set(all).size).toBe(all.length);
      for (const name of all) {
        expect(name).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/);
        expect(LUA_KEYWORDS.has(name), name).toBe(false);
      }
      const code = codeOf(bodyOf(command));
      const shadowed = all.filter((name) =>
        new RegExp(`\\blocal\\s+(?:[A-Za-z_][A-Za-z0-9_]*\\s*,\\s*)*${name}\\b`).test(code),
      );
      expect(shadowed).toEqual([]);
    });

    it("documents its KEYS and ARGV in its header", () => {
      const header = command.lua.split("\n").slice(1, 4);
      expect(header[0]).toMatch(/^-- \w+: \S/);
      expect(header[1]).toBe(`-- KEYS: ${command.keys.join(", ")}`);
      expect(header[2]).toBe(`-- ARGV: ${command.args.join(", ")}`);
    });

    it("is called with exactly its keys, then its args, in declared order", async () => {
      const redis = new RecordingRedis();
      const keys = Object.fromEntries(
        command.keys.map((key): [string, string] => [key, `key:${key}`]),
      );
      // Built in reverse, so the call's order can only come from the declaration.
      const args = Object.fromEntries(
        command.args.map((arg): [string, string] => [arg, `arg:${arg}`]).reverse(),
      );
      await callLua(redis as unknown as Redis, command, keys, args);
      await callLua(redis as unknown as Redis, command, keys, args);

      expect(redis.defined).toEqual([
        { name: command.name, lua: command.lua, numberOfKeys: command.keys.length },
      ]);
      expect(redis.calls).toHaveLength(2);
      for (const call of redis.calls) {
        expect(call.name).toBe(command.name);
        expect(call.argv).toEqual([
          ...command.keys.map((key) => `key:${key}`),
          ...command.args.map((arg) => `arg:${arg}`),
        ]);
      }
    });
  },
);

describe("RUN_COMMANDS and READ_COMMANDS", () => {
  it("have distinct ioredis names, none an ioredis method (callLua would call that instead)", () => {
    const commandNames = COMMANDS.map((command) => command.name);
    expect(new Set(commandNames).size).toBe(commandNames.length);
    for (const name of commandNames) {
      expect(name).toMatch(/^k6gate[A-Z]\w*$/);
      expect(name in Redis.prototype, name).toBe(false);
    }
  });
});

describe("luaCommand", () => {
  const example = luaCommand(
    "touch",
    "set a field",
    ["hash"],
    ["field", "value"],
    "\n  return redis.call('HSET', hash, field, value)\n",
  );

  it("builds the header, the prelude and the body", () => {
    expect(example.name).toBe("k6gateTouch");
    expect(example.lua).toBe(
      [
        "#!lua",
        "-- touch: set a field",
        "-- KEYS: hash",
        "-- ARGV: field, value",
        "local hash = KEYS[1]",
        "local field = ARGV[1]",
        "local value = ARGV[2]",
        "return redis.call('HSET', hash, field, value)",
      ].join("\n"),
    );
  });

  it("is checked by the rules above: a body indexing KEYS directly is caught", () => {
    const sloppy = luaCommand("sloppy", "x", ["hash"], ["field"], "return KEYS[1] .. field");
    expect(codeOf(bodyOf(sloppy))).toMatch(/\bKEYS\b/);
    expect(codeOf(bodyOf(sloppy))).not.toMatch(/\bhash\b/);
    // A name only in a comment or a string is not a use.
    const commented = luaCommand("c", "x", ["hash"], [], "-- hash\nreturn 'hash'");
    expect(codeOf(bodyOf(commented))).not.toMatch(/\bhash\b/);
  });
});
