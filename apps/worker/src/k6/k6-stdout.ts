import {
  isProgressBar,
  parseProgressLine,
  startsProgressBlock,
  type K6Progress,
} from "@k6-gate/shared";

/** What the worker does with k6's progress (run-worker.ts stores it on the run). */
export interface K6ProgressListener {
  /**
   * `k6 run` started at `at` (epoch ms); `expectedMs` is how long its scenarios should
   * take (k6-progress.ts), null until `k6 inspect` has said. Called again when it has.
   */
  started(at: number, expectedMs: number | null): void;
  /** A `running (…)` line's figures, about once a second. */
  update(progress: K6Progress): void;
}

/** Progress lines are short; a longer line is passed on as it streams, never held. */
const MAX_PROGRESS_LINE_BYTES = 512;

/**
 * k6's stdout without its progress blocks (k6-progress.ts): they reach `onProgress`, and
 * the rest (banner, end-of-test summary, handleSummary's text) reaches `onText` unchanged.
 * A block printed each second would otherwise push the lines that explain a verdict out
 * of the output's tail. Memory is bounded: at most one short line is held.
 */
export class K6Stdout {
  private partial: Buffer[] = [];
  private partialBytes = 0;
  /** Inside a line too long to be progress: the rest of it goes straight through. */
  private passing = false;
  /** Inside a progress block: its bars and the blank line ending it are dropped. */
  private inBlock = false;

  constructor(
    private readonly onText: (text: Buffer) => void,
    private readonly onProgress: (progress: K6Progress) => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (let end = chunk.indexOf(0x0a); end >= 0; end = chunk.indexOf(0x0a, start)) {
      this.piece(chunk.subarray(start, end + 1), true);
      start = end + 1;
    }
    if (start < chunk.length) this.piece(chunk.subarray(start), false);
  }

  /** The stream ended: a last line without its newline is read as any other. */
  end(): void {
    if (this.partialBytes > 0) this.readLine(this.take());
  }

  private piece(bytes: Buffer, endsLine: boolean): void {
    if (this.passing) {
      this.onText(bytes);
      this.passing = !endsLine;
      return;
    }
    this.partial.push(bytes);
    this.partialBytes += bytes.length;
    if (endsLine) {
      this.readLine(this.take());
    } else if (this.partialBytes > MAX_PROGRESS_LINE_BYTES) {
      this.inBlock = false;
      this.passing = true;
      this.onText(this.take());
    }
  }

  private take(): Buffer {
    const line = Buffer.concat(this.partial, this.partialBytes);
    this.partial = [];
    this.partialBytes = 0;
    return line;
  }

  private readLine(raw: Buffer): void {
    const line = raw.toString("utf8").trimEnd();
    if (startsProgressBlock(line)) {
      const progress = parseProgressLine(line);
      if (progress) this.onProgress(progress);
      this.inBlock = true;
      return;
    }
    if (this.inBlock && (line === "" || isProgressBar(line))) {
      this.inBlock = line !== "";
      return;
    }
    this.inBlock = false;
    this.onText(raw);
  }
}
