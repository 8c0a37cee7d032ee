import type { Decision } from "@k6-gate/shared";
import { describeOwner } from "./caller";

/** Seconds before a check refused by a quota is retried: a quota frees as history ages. */
export const QUOTA_RETRY_AFTER = 60;

type QuotaDecision = Extract<Decision, { action: "quota" }>;

/**
 * The 429's text for a check over one of its owner's quotas (decision 44): which quota,
 * what the owner keeps and the limit, and what frees it. Nothing kept is dropped for it.
 */
export function quotaMessage({ quota, used, limit }: QuotaDecision, owner: string): string {
  const who = describeOwner(owner);
  const frees =
    "it frees as the owner's runs age out of the history (HISTORY_MAX_AGE), or an operator raises it";
  switch (quota) {
    case "canaries":
      return `quota reached: ${who} has runs of ${used} canaries (MAX_CANARIES_PER_OWNER ${limit}); no run of another canary is recorded: ${frees}`;
    case "scripts":
      return `quota reached: ${who} ran ${used} distinct scripts (MAX_SCRIPTS_PER_OWNER ${limit}); no run of another script is recorded: ${frees}`;
  }
}
