import { z } from "zod";

/**
 * k6's log as `--log-format json` writes it (logrus): one JSON object a line, keys sorted.
 * It is read as it streams, so the counts cover the whole run even when the output kept
 * for the dashboard is only its tail.
 */

/** The fields k6-gate reads from a log entry; k6 adds others (time, scenario, source, ...). */
const entrySchema = z.object({
  level: z.string(),
  msg: z.string(),
  executor: z.string().optional(),
  hint: z.string().optional(),
});
type LogEntry = z.infer<typeof entrySchema>;

/**
 * Longer lines (a script that throws or prints a whole response body) are judged and shown
 * by their head: what a verdict needs is at its start, and memory stays flat however much
 * a script prints.
 */
const MAX_LINE_BYTES = 16 * 1024;
const MESSAGE_CHARS = 300;
const MSG_KEY = ',"msg":"';

/**
 * An error entry for an uncaught exception in an iteration, in the two shapes k6 v2.2.0
 * logs (observed):
 * - thrown (also `fail()`, a timer callback):
 *   `{"executor":…,"hint":"script exception","level":"error","msg":"Error: …\n\tat …","scenario":…,"source":"stacktrace",…}`
 * - a rejected promise nobody handled:
 *   `{"executor":…,"level":"error","msg":"Uncaught (in promise) Error: …","scenario":…,…}`
 * `executor` marks an iteration: exceptions in setup() or teardown() have none (k6 then
 * exits 107), nor do a script's console messages, whatever text they print.
 */
function isIterationException(entry: LogEntry): boolean {
  return (
    entry.executor !== undefined &&
    (entry.hint === "script exception" || entry.msg.startsWith("Uncaught (in promise)"))
  );
}

/** k6's own closing error on exit 99; the thresholds themselves come from the summary. */
const THRESHOLDS_CROSSED = /^thresholds on metrics .* have been crossed/;

/**
 * The fields before `msg` of a line too long to keep whole, with the start of `msg`: logrus
 * sorts keys, so `executor`, `hint` and `level` all come before `msg`. Inside a JSON string
 * every `"` is escaped, so the first `,"msg":"` is the key itself.
 */
function headEntry(line: string): unknown {
  const at = line.indexOf(MSG_KEY);
  if (at < 0) return undefined;
  // The message up to its first escape (usually its first line), which needs no decoding.
  const message = /^[^"\\]*/.exec(line.slice(at + MSG_KEY.length))?.[0] ?? "";
  return parseJson(`${line.slice(0, at)},"msg":${JSON.stringify(message)}}`);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** An error entry of k6's log; other lines (most of a chatty script's) are not parsed. */
function errorEntryOf(line: string, whole: boolean): LogEntry | undefined {
  if (!line.startsWith("{") || !line.includes('"level":"error"')) return undefined;
  const parsed = entrySchema.safeParse(whole ? parseJson(line) : headEntry(line));
  return parsed.success ? parsed.data : undefined;
}

const firstLine = (message: string) => message.split("\n")[0]?.trim().slice(0, MESSAGE_CHARS) ?? "";

/** Fields every entry has, shown in their own places rather than as `key=value`. */
const SHOWN_FIELDS = new Set(["time", "level", "msg"]);

/**
 * One log line as people read it (`12:00:01 ERROR GoError: … source=stacktrace`): the
 * JSON is for k6-gate, the dashboard and Slack show text, with markup left as it is.
 */
export function readableLine(line: string, whole: boolean): string {
  if (!line.startsWith("{")) return line;
  const entry = whole ? parseJson(line) : headEntry(line);
  if (typeof entry !== "object" || entry === null) return line;
  const fields = entry as Record<string, unknown>;
  if (typeof fields.msg !== "string") return line;
  const time =
    typeof fields.time === "string" ? (/T(\d\d:\d\d:\d\d)/.exec(fields.time)?.[1] ?? "") : "";
  const level = typeof fields.level === "string" ? fields.level.toUpperCase() : "";
  const extra = Object.entries(fields)
    .filter(([key]) => !SHOWN_FIELDS.has(key))
    .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`);
  const cut = whole ? [] : ["[line cut at 16 KiB]"];
  return [time, level, fields.msg, ...extra, ...cut].filter(Boolean).join(" ");
}

/** What k6's log told about a run, read from its stderr as it streams. */
export class K6Log {
  /** Iterations ended by an uncaught exception. */
  interruptedIterations = 0;
  /** The first of those exceptions, one line: usually the cause of the others. */
  firstInterruption: string | null = null;
  /** The last error k6 logged, one line, for the reason text only. */
  lastError: string | null = null;
  /** The line being read, its first MAX_LINE_BYTES + 1 bytes at most. */
  private partial: Buffer[] = [];
  private partialBytes = 0;

  /** `onLine` gets each line made readable (see `readableLine`), for the run's output. */
  constructor(private readonly onLine: (text: string) => void = () => {}) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (let end = chunk.indexOf(0x0a); end >= 0; end = chunk.indexOf(0x0a, start)) {
      this.keep(chunk.subarray(start, end));
      this.readLine();
      start = end + 1;
    }
    this.keep(chunk.subarray(start));
  }

  /** The stream ended: reads a last line without its newline. */
  end(): void {
    this.readLine();
  }

  /** Memory stays bounded whatever k6 prints: only a line's head is kept. */
  private keep(piece: Buffer): void {
    const room = MAX_LINE_BYTES + 1 - this.partialBytes;
    if (room <= 0 || piece.length === 0) return;
    const kept = piece.subarray(0, room);
    this.partial.push(kept);
    this.partialBytes += kept.length;
  }

  private readLine(): void {
    const whole = this.partialBytes <= MAX_LINE_BYTES;
    const line = Buffer.concat(this.partial, this.partialBytes).toString("utf8").trim();
    this.partial = [];
    this.partialBytes = 0;
    if (line) this.onLine(readableLine(line, whole));
    const entry = errorEntryOf(line, whole);
    if (entry?.level !== "error") return;
    const message = firstLine(entry.msg);
    if (isIterationException(entry)) {
      this.interruptedIterations += 1;
      this.firstInterruption ??= message;
    }
    if (!THRESHOLDS_CROSSED.test(message)) this.lastError = message;
  }
}
