import type { SlackThread } from "@k6-gate/shared";

/** Display helpers for the dashboard; every value shown goes through Hono JSX's escaping. */

/** The one number formatter (libs/shared/src/format.ts): dashboard, verdicts and Slack agree. */
export { formatMs, formatNumber, formatRate } from "@k6-gate/shared";

/** An instant as UTC text ("2026-11-29 16:05:12 UTC"): what the server renders, and the hover text. */
export function formatTime(ms: number | null): string {
  if (ms === null) return "–";
  return new Date(ms)
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d+Z$/, " UTC");
}

/** Flagger checksums are long hashes; a prefix tells revisions apart on a chart. */
export function shortChecksum(checksum: string): string {
  return checksum.length > 10 ? checksum.slice(0, 10) : checksum;
}

export const canaryPath = (namespace: string, name: string) =>
  `/canaries/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`;

/** Only http(s) links are rendered: escaping does not stop a `javascript:` URL. */
export function safeHttpUrl(url: string | null): string | undefined {
  if (!url) return undefined;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : undefined;
  } catch {
    return undefined;
  }
}

/** Slack resolves `/archives/<channel>/p<ts>` to the workspace the thread is in. */
export function slackThreadUrl(thread: SlackThread): string {
  return `https://slack.com/archives/${encodeURIComponent(thread.channel)}/p${thread.ts.replace(".", "")}`;
}
