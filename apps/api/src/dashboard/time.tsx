import { formatTime } from "./format";

/**
 * One time convention on every page: the browser's own time zone, year first and a
 * 24-hour clock (`2026-12-07 14:03`, which no locale reads as another day); the UTC
 * instant on hover (`title`); ISO 8601 in JSON. The server renders UTC text (what a page
 * without script shows) and the page's clock script rewrites it with localText.
 */
export function localText(iso: string, timeZone?: string): string {
  // Runs in the browser as well (clockScript carries its source): Intl and Date only,
  // no helper functions.
  const parts: Record<string, string> = {};
  const format = new Intl.DateTimeFormat("en-US", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  });
  for (const part of format.formatToParts(new Date(iso))) parts[part.type] = part.value;
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
}

/**
 * bull-board formats dates with Intl in its own locale (en-US: `12/07/2026`): the month
 * as a word keeps its dates unambiguous too (`Dec 07, 2026, 14:03:05 CET`).
 */
export const BOARD_TIME_FORMAT: Intl.DateTimeFormatOptions = {
  year: "numeric",
  month: "short",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
  timeZoneName: "short",
};

/** bull-board's formats for today, this year and older: all one. */
export const BOARD_DATE_FORMATS = {
  short: BOARD_TIME_FORMAT,
  common: BOARD_TIME_FORMAT,
  full: BOARD_TIME_FORMAT,
};

/** "14s", "3m", "2h", "5d": how long, in the largest whole unit. */
export function formatSpan(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
}

/** An instant: UTC text from the server, the browser's zone once the clock script ran. */
export function Time(props: { ms: number | null }) {
  if (props.ms === null) return <span class="muted">–</span>;
  const utc = formatTime(props.ms);
  return (
    <time datetime={new Date(props.ms).toISOString()} title={utc} data-local="">
      {utc}
    </time>
  );
}

/**
 * How long ago (`mode` "ago": "14s ago") or for how long so far ("for": "14s"), kept right
 * by the clock script while the page is open.
 */
export function Ago(props: { ms: number; now: number; mode?: "ago" | "for" }) {
  const mode = props.mode ?? "ago";
  const span = formatSpan(props.now - props.ms);
  return (
    <time datetime={new Date(props.ms).toISOString()} title={formatTime(props.ms)} data-ago={mode}>
      {mode === "ago" ? `${span} ago` : span}
    </time>
  );
}

/**
 * The page's clock: every `time[data-local]` in the browser's zone (localText), every
 * `time[data-ago]` recomputed each second. Static text: nothing from a run is spliced in.
 */
export const clockScript = `
(() => {
  const localText = ${localText.toString()};
  // formatSpan, in the browser (test/unit/what-users-see.test.ts keeps them the same).
  const span = (ms) => {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m";
    if (s < 86400) return Math.floor(s / 3600) + "h";
    return Math.floor(s / 86400) + "d";
  };
  for (const el of document.querySelectorAll("time[data-local]")) {
    el.textContent = localText(el.dateTime);
  }
  const tick = () => {
    for (const el of document.querySelectorAll("time[data-ago]")) {
      const text = span(Date.now() - Date.parse(el.dateTime));
      el.textContent = el.dataset.ago === "for" ? text : text + " ago";
    }
  };
  tick();
  setInterval(tick, 1000);
})();
`;
