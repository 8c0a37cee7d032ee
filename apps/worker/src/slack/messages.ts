import {
  comparisonLine,
  formatDuration,
  formatObserved,
  runUrl,
  type RunJob,
  type RunRecord,
  type RunResult,
} from "@k6-gate/shared";

interface Mrkdwn {
  type: "mrkdwn";
  text: string;
}
type Block =
  | { type: "section"; text: Mrkdwn }
  | { type: "section"; fields: Mrkdwn[] }
  | { type: "context"; elements: Mrkdwn[] };

/** A Slack message: Block Kit blocks, and the plain text notifications show. */
export interface SlackMessage {
  text: string;
  blocks: Block[];
}

/** Slack's block limits: 3000 characters a text, 10 fields a section, 10 context elements. */
const TEXT_MAX = 2900;
const FAILED_THRESHOLDS_SHOWN = 15;
const WARNINGS_SHOWN = 5;

/**
 * Text from canaries and k6 is shown, never interpreted: no links, mentions or markup.
 * Slack's rule: escape `&`, `<` and `>` (as `&amp;`, `&lt;`, `&gt;`), in every text field.
 */
function escape(text: string, max = TEXT_MAX): string {
  const short = text.length > max ? `${text.slice(0, max - 1)}…` : text;
  return short.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

const mrkdwn = (text: string): Mrkdwn => ({ type: "mrkdwn", text });
const field = (label: string, value: string) => mrkdwn(`*${label}*\n${value}`);

function canaryOf(run: RunJob): string {
  return escape(`${run.namespace}/${run.name}`, 300);
}

function revisionFields(run: RunJob, record: RunRecord | null): Mrkdwn[] {
  const fields = [
    field("Revision", `\`${escape(run.checksum || "none", 64)}\``),
    field("Phase", escape(run.phase || "none", 64)),
  ];
  if (record?.attempt) fields.push(field("Attempt", String(record.attempt)));
  return fields;
}

/** notification_context, the k6 Cloud run and the dashboard, when there are any. */
function context(run: RunJob, publicUrl: string | undefined, cloudUrl: string | null): Block[] {
  const elements: Mrkdwn[] = [];
  if (run.notificationContext) elements.push(mrkdwn(escape(run.notificationContext, 2000)));
  if (cloudUrl) elements.push(mrkdwn(`<${cloudUrl}|k6 Cloud run>`));
  const dashboard = runUrl(publicUrl, run.runId);
  if (dashboard) elements.push(mrkdwn(`<${dashboard}|Dashboard>`));
  elements.push(mrkdwn(`run \`${escape(run.runId, 100)}\``));
  return [{ type: "context", elements }];
}

export function startedMessage(
  run: RunJob,
  record: RunRecord | null,
  publicUrl: string | undefined,
): SlackMessage {
  const fields = revisionFields(run, record);
  if (record?.startedAt) {
    fields.push(field("Waited in queue", formatDuration(record.startedAt - record.enqueuedAt)));
  }
  return {
    text: `k6-gate: testing ${canaryOf(run)}`,
    blocks: [
      {
        type: "section",
        text: mrkdwn(`:hourglass_flowing_sand: k6-gate is testing *${canaryOf(run)}*`),
      },
      { type: "section", fields },
      ...context(run, publicUrl, null),
    ],
  };
}

export function finishedMessage(
  run: RunJob,
  record: RunRecord | null,
  result: RunResult,
  publicUrl: string | undefined,
): SlackMessage {
  const passed = result.verdict === "pass";
  const head = passed
    ? `:white_check_mark: *PASS* *${canaryOf(run)}*`
    : `:x: *FAIL* *${canaryOf(run)}* (${result.outcome})`;
  const blocks: Block[] = [
    { type: "section", text: mrkdwn(`${head}\n${escape(result.reason, 1500)}`) },
  ];
  const failed = result.thresholds.filter((threshold) => !threshold.ok);
  if (failed.length > 0) {
    const lines = failed
      .slice(0, FAILED_THRESHOLDS_SHOWN)
      .map(
        (t) =>
          `• \`${escape(t.metric, 100)}\` \`${escape(t.expression, 100)}\` observed *${formatObserved(t)}*`,
      );
    if (failed.length > lines.length) lines.push(`… and ${failed.length - lines.length} more`);
    blocks.push({ type: "section", text: mrkdwn(`*Failed thresholds*\n${lines.join("\n")}`) });
  }
  // Against earlier revisions, and what the evidence itself warns of (a saturated k6, ...).
  const compared = comparisonLine(result.comparison);
  const notes = [
    ...(compared ? [`:bar_chart: ${escape(compared, 300)}`] : []),
    ...(result.warnings ?? []).slice(0, WARNINGS_SHOWN).map((w) => `:warning: ${escape(w, 300)}`),
  ];
  if (notes.length) blocks.push({ type: "section", text: mrkdwn(notes.join("\n")) });
  blocks.push({
    type: "section",
    fields: [...revisionFields(run, record), field("Took", formatDuration(result.durationMs))],
  });
  blocks.push(...context(run, publicUrl, result.cloudUrl));
  return {
    // The notification text is mrkdwn too: a script's exception text in the reason must
    // not become an @channel, a mention or a link.
    text: `k6-gate: ${passed ? "PASS" : "FAIL"} ${canaryOf(run)}: ${escape(result.reason)}`,
    blocks,
  };
}
