import type { SlackThread } from "@k6-gate/shared";

/** Display helpers for the dashboard; every value shown goes through Hono JSX's escaping. */

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "–";
  if (ms < 1000) return `${Number(ms.toFixed(1))} ms`;
  return `${Number((ms / 1000).toFixed(2))} s`;
}

export function formatRate(rate: number | null | undefined): string {
  if (rate === null || rate === undefined) return "–";
  return `${Number((rate * 100).toFixed(2))}%`;
}

export function formatTime(ms: number | null): string {
  if (ms === null) return "–";
  return new Date(ms)
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d+Z$/, " UTC");
}

export function formatAgo(ms: number, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - ms) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86_400)}d ago`;
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
