import { formatTime } from "./format";

/**
 * One time convention on every page, bull-board's included: the browser's own time zone
 * and locale, 24-hour clock, the zone named; the UTC instant on hover (`title`); ISO 8601
 * in JSON. The server renders UTC text (what a page without script shows) and the page's
 * clock script rewrites it in the browser's zone with these options, the same ones
 * bull-board is given.
 */
export const TIME_FORMAT: Intl.DateTimeFormatOptions = {
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
  timeZoneName: "short",
};

/** bull-board's formats for today, this year and older: all the dashboard's one format. */
export const BOARD_DATE_FORMATS = { short: TIME_FORMAT, common: TIME_FORMAT, full: TIME_FORMAT };

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
 * The page's clock: every `time[data-local]` in the browser's zone (TIME_FORMAT), every
 * `time[data-ago]` recomputed each second. Static text: nothing from a run is spliced in.
 */
export const clockScript = `
(() => {
  const format = new Intl.DateTimeFormat(undefined, ${JSON.stringify(TIME_FORMAT)});
  // formatSpan, in the browser (test/unit/dashboard-time.test.ts keeps them the same).
  const span = (ms) => {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m";
    if (s < 86400) return Math.floor(s / 3600) + "h";
    return Math.floor(s / 86400) + "d";
  };
  for (const el of document.querySelectorAll("time[data-local]")) {
    el.textContent = format.format(new Date(el.dateTime));
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
