/**
 * Keeps the last `maxBytes` of a stream, so a script that prints gigabytes costs a
 * bounded amount of memory. Counts everything it dropped.
 */
export class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  totalBytes = 0;

  constructor(private readonly maxBytes: number) {}

  push(chunk: Buffer): void {
    this.totalBytes += chunk.length;
    const piece =
      chunk.length > this.maxBytes ? chunk.subarray(chunk.length - this.maxBytes) : chunk;
    this.chunks.push(piece);
    this.size += piece.length;
    while (this.size > this.maxBytes) {
      const first = this.chunks[0] as Buffer;
      const excess = this.size - this.maxBytes;
      if (first.length <= excess) {
        this.chunks.shift();
        this.size -= first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.size -= excess;
      }
    }
  }

  get truncated(): boolean {
    return this.totalBytes > this.size;
  }

  text(): string {
    const body = Buffer.concat(this.chunks, this.size).toString("utf8");
    return this.truncated
      ? `[... ${this.totalBytes - this.size} earlier bytes dropped ...]\n${body}`
      : body;
  }
}
