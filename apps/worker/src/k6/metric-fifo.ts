import { constants, open as openFd } from "node:fs";
import { open, unlink } from "node:fs/promises";
import { promisify } from "node:util";
import { Socket } from "node:net";
import { join } from "node:path";
import { execa } from "execa";
import { MetricStream } from "./metric-stream";

const FIFO_NAME = "k6-metrics.fifo";

/**
 * The channel k6's metric stream comes through: a FIFO in the run directory that k6's
 * JSON output opens at the start of the test. As soon as k6 has opened it, its name is
 * removed, so nothing the script names later (`handleSummary()` writes after k6 closed the
 * stream) can reach it: such a write creates a new, unread file. The lines are kept until
 * the keys to aggregate are known (`k6 inspect` names the thresholds), then replayed.
 */
export class MetricFifo {
  /** k6's argument: `--out json=<this>`, relative to its working directory. */
  readonly argument = FIFO_NAME;
  private readonly path: string;
  private readonly early: Buffer[] = [];
  private stream: MetricStream | undefined;
  private socket: Socket | undefined;
  private readonly opened: Promise<boolean>;
  private ended: Promise<void> = Promise.resolve();

  private constructor(runDir: string) {
    this.path = join(runDir, FIFO_NAME);
    // Opening a FIFO to read waits for its writer: k6's output starting, or finish().
    // A plain fd, not a FileHandle: the socket owns it and closes it.
    this.opened = promisify(openFd)(this.path, constants.O_RDONLY).then(
      async (fd) => {
        await unlink(this.path).catch(() => undefined);
        // A net.Socket reads the FIFO through the event loop, not a blocked pool thread.
        const socket = new Socket({ fd, readable: true, writable: false });
        this.socket = socket;
        this.ended = new Promise((resolve) => {
          socket.on("data", (chunk: Buffer) => this.take(chunk));
          socket.on("error", () => resolve());
          socket.on("close", () => resolve());
        });
        return true;
      },
      () => false,
    );
  }

  static async create(runDir: string): Promise<MetricFifo> {
    await execa("mkfifo", ["-m", "600", join(runDir, FIFO_NAME)]);
    return new MetricFifo(runDir);
  }

  /** From now on lines are aggregated for these metric and sub-metric keys. */
  select(keys: string[]): void {
    if (this.stream) return;
    this.stream = new MetricStream(keys);
    for (const chunk of this.early.splice(0)) this.stream.push(chunk);
  }

  /**
   * After k6 exited: everything it wrote, or undefined when it never opened the stream
   * (it failed before its test began).
   */
  async finish(): Promise<MetricStream | undefined> {
    this.select([]);
    // k6 never opened it: a writer of our own ends the reader's wait.
    const unblock = await open(this.path, constants.O_WRONLY | constants.O_NONBLOCK).catch(
      () => undefined,
    );
    const opened = await this.opened;
    await unblock?.close();
    if (!opened) return undefined;
    await this.ended;
    this.stream?.end();
    return this.stream;
  }

  /** Stops reading: the run is over or abandoned. */
  close(): void {
    this.socket?.destroy();
  }

  private take(chunk: Buffer): void {
    if (this.stream) this.stream.push(chunk);
    else this.early.push(chunk);
  }
}
