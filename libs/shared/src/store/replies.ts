import { z } from "zod";
import type { LuaCommand } from "../commands/lua-command";
import type { RedisClient } from "../redis";
import { writtenRecord } from "./records";
import {
  quotaNames,
  type CancelOutcome,
  type Decision,
  type FinishOutcome,
  type HeartbeatOutcome,
  type StartOutcome,
  type SupersededRun,
} from "./types";

/**
 * What each run script returns (commands/*.ts), checked and decoded: a reply of another
 * shape is an error naming the script and what it returned, never cast into a type.
 */
const flatHash = z.array(z.string());
const none = z.tuple([]);
const inFlight = z.enum(["queued", "running"]);

function decoded<T>(command: LuaCommand<string, string>, schema: z.ZodType<T>, reply: unknown): T {
  const result = schema.safeParse(reply);
  if (result.success) return result.data;
  throw new Error(
    `${command.name} replied ${JSON.stringify(reply).slice(0, 200)}: ${z.prettifyError(result.error)}`,
  );
}

const decideReply = z.union([
  z.tuple([z.literal("busy"), none, none]),
  z.tuple([z.literal("quota"), none, z.tuple([z.enum(quotaNames), z.number(), z.number()])]),
  // The runs it superseded: id, then the status each had, in turn.
  z.tuple([z.literal("created"), flatHash, z.array(z.string())]),
  z.tuple([z.enum(["attach", "deliver", "recent_failure"]), flatHash, none]),
]);

export function decision(command: LuaCommand<string, string>, reply: unknown): Decision {
  const [action, flat, rest] = decoded(command, decideReply, reply);
  switch (action) {
    case "busy":
      return { action };
    case "quota": {
      const [quota, used, limit] = rest;
      return { action, quota, used, limit };
    }
    case "created": {
      const superseded: SupersededRun[] = [];
      for (let i = 0; i + 1 < rest.length; i += 2) {
        superseded.push({ id: rest[i] as string, was: inFlight.parse(rest[i + 1]) });
      }
      return { action, run: writtenRecord(flat), superseded };
    }
    default:
      return { action, run: writtenRecord(flat) };
  }
}

const startReply = z.union([
  z.tuple([z.literal("started"), flatHash]),
  z.tuple([z.enum(["finished", "missing", "deferred"]), none]),
]);

export function startOutcome(command: LuaCommand<string, string>, reply: unknown): StartOutcome {
  const [state, flat] = decoded(command, startReply, reply);
  return state === "started" ? { state, run: writtenRecord(flat) } : { state };
}

const finishReply = z.union([
  z.tuple([z.literal("missing"), none]),
  z.tuple([z.enum(["recorded", "already", "stale"]), flatHash]),
]);

export function finishOutcome(command: LuaCommand<string, string>, reply: unknown): FinishOutcome {
  const [state, flat] = decoded(command, finishReply, reply);
  return state === "missing" ? { state } : { state, run: writtenRecord(flat) };
}

const cancelReply = z.union([
  z.tuple([z.literal("missing"), none, z.literal("")]),
  z.tuple([z.literal("finished"), flatHash, z.literal("")]),
  z.tuple([z.literal("cancelled"), flatHash, inFlight]),
]);

export function cancelOutcome(command: LuaCommand<string, string>, reply: unknown): CancelOutcome {
  const [state, flat, was] = decoded(command, cancelReply, reply);
  if (state === "missing") return { state };
  if (state === "finished") return { state, run: writtenRecord(flat) };
  return { state, run: writtenRecord(flat), was };
}

const heartbeatReply = z.union([
  z.tuple([z.enum(["running", "lost"]), z.literal("")]),
  z.tuple([z.literal("ended"), z.string()]),
]);

export function heartbeatOutcome(
  command: LuaCommand<string, string>,
  reply: unknown,
): HeartbeatOutcome {
  const [state, reason] = decoded(command, heartbeatReply, reply);
  return state === "ended" ? { state, reason } : { state };
}

/** A script that answers whether it wrote (1) or not (0). */
export function wrote(command: LuaCommand<string, string>, reply: unknown): boolean {
  return decoded(command, z.union([z.literal(0), z.literal(1)]), reply) === 1;
}

/** Replies of a pipeline (or MULTI), in order; the first error is thrown. */
export async function pipelineReplies(
  pipeline: ReturnType<RedisClient["pipeline"]>,
): Promise<unknown[]> {
  return ((await pipeline.exec()) ?? []).map(([error, reply]) => {
    if (error) throw error;
    return reply;
  });
}
