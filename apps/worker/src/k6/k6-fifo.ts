import { close as closeFd, closeSync, constants, open as openFd, openSync } from "node:fs";
import { open, unlink } from "node:fs/promises";
import { Socket } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { execa } from "execa";

/** Where a FIFO's bytes go once the reader knows what to do with them. */
export interface FifoSink {
  push(chunk: Buffer): void;
}

/**
 * A FIFO in the run directory that k6 writes its results into and the worker reads, so
 * every write lands in what the worker reads (a file would keep only the last one). With
 * `removeOnOpen`, its name is removed as soon as k6 has opened it: nothing the script names
 * later (`handleSummary()` writes after k6 closed its outputs) can reach it, such a write
 * creates a new, unread file. Bytes are kept until a sink is attached, then replayed.
 */
export class K6Fifo {
  readonly path: string;
  private readonly early: Buffer[] = [];
  private sink: FifoSink | undefined;
  private socket: Socket | undefined;
  private readonly opened: Promise<boolean>;
  private ended: Promise<void> = Promise.resolve();
  private closed = false;

  /**
   * A reader held from before k6 starts, opened at once (non-blocking, no pool thread): k6
   * opens its --out file read-write, which never waits for a reader, so without it a k6
   * that ended before the reader below got one of libuv's threads took its bytes with it.
   * It never reads: it keeps the pipe, and what k6 wrote into it, until the reader has it.
   */
  private keeper: number | undefined;

  private constructor(
    runDir: string,
    /** k6's argument for it, relative to its working directory. */
    readonly name: string,
    removeOnOpen: boolean,
  ) {
    this.path = join(runDir, name);
    this.keeper = openSync(this.path, constants.O_RDONLY | constants.O_NONBLOCK);
    // Opening a FIFO to read waits for its writer: k6 opening it, or finish().
    // A plain fd, not a FileHandle: the socket owns it and closes it.
    this.opened = promisify(openFd)(this.path, constants.O_RDONLY).then(
      async (fd) => {
        if (this.closed) {
          closeFd(fd, () => undefined);
          return false;
        }
        if (removeOnOpen) await unlink(this.path).catch(() => undefined);
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

  static async create(
    runDir: string,
    name: string,
    options: { removeOnOpen: boolean },
  ): Promise<K6Fifo> {
    await execa("mkfifo", ["-m", "600", join(runDir, name)]);
    return new K6Fifo(runDir, name, options.removeOnOpen);
  }

  /** From now on bytes go to `sink`, those read so far first. */
  attach(sink: FifoSink): void {
    if (this.sink) return;
    this.sink = sink;
    for (const chunk of this.early.splice(0)) sink.push(chunk);
  }

  /** After k6 exited: waits for every byte it wrote (none if it never opened the FIFO). */
  async finish(): Promise<void> {
    const opened = await this.unblocked();
    if (opened) await this.ended;
    this.release();
  }

  /**
   * Stops reading: the run is over or abandoned. Also ends a reader still waiting for
   * k6 to open the FIFO, which would otherwise hold one of libuv's few pool threads.
   */
  async close(): Promise<void> {
    this.closed = true;
    await this.unblocked();
    this.socket?.destroy();
    this.release();
  }

  private release(): void {
    if (this.keeper !== undefined) closeSync(this.keeper);
    this.keeper = undefined;
  }

  /** k6 may never have opened the FIFO: a writer of our own ends the reader's wait. */
  private async unblocked(): Promise<boolean> {
    const writer = await open(this.path, constants.O_WRONLY | constants.O_NONBLOCK).catch(
      () => undefined,
    );
    const opened = await this.opened;
    await writer?.close();
    return opened;
  }

  private take(chunk: Buffer): void {
    if (this.sink) this.sink.push(chunk);
    else this.early.push(chunk);
  }
}
