import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TailBuffer } from "../../apps/worker/src/k6/tail-buffer";

function bufferOf(maxBytes: number, ...chunks: string[]): TailBuffer {
  const buffer = new TailBuffer(maxBytes);
  for (const chunk of chunks) buffer.push(Buffer.from(chunk));
  return buffer;
}

describe("TailBuffer", () => {
  it("keeps everything under its limit, as written", () => {
    const buffer = bufferOf(32, "running ", "", "(00m01.0s)\n");
    expect(buffer.text()).toBe("running (00m01.0s)\n");
    expect(buffer.truncated).toBe(false);
    expect(buffer.totalBytes).toBe(19);
  });

  it("keeps exactly its limit without calling it truncated", () => {
    const buffer = bufferOf(10, "01234", "56789");
    expect(buffer.text()).toBe("0123456789");
    expect(buffer.truncated).toBe(false);
  });

  it("keeps the last bytes across chunks and says how many it dropped", () => {
    const buffer = bufferOf(10, "aaaa", "bbbb", "cccc", "dd");
    expect(buffer.truncated).toBe(true);
    expect(buffer.totalBytes).toBe(14);
    expect(buffer.text()).toBe("[... 4 earlier bytes dropped ...]\nbbbbccccdd");
  });

  it("keeps the tail of one chunk larger than the limit", () => {
    const buffer = bufferOf(4, "x", "0123456789");
    expect(buffer.text()).toBe("[... 7 earlier bytes dropped ...]\n6789");
  });

  it("with a limit of 0 keeps only the count", () => {
    expect(bufferOf(0, "abc", "de").text()).toBe("[... 5 earlier bytes dropped ...]\n");
  });

  it("stays bounded whatever is pushed (a script printing gigabytes)", () => {
    const buffer = new TailBuffer(1024);
    const line = Buffer.from(`${"x".repeat(99)}\n`);
    for (let i = 0; i < 100_000; i++) buffer.push(line);
    expect(buffer.totalBytes).toBe(10_000_000);
    expect(buffer.text()).toBe(
      `[... ${10_000_000 - 1024} earlier bytes dropped ...]\n${line.toString().repeat(11).slice(-1024)}`,
    );
  });

  it("always holds the last min(limit, total) bytes of the stream, in order", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 64 }),
        fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 20 }),
        (maxBytes, chunks) => {
          const buffer = new TailBuffer(maxBytes);
          for (const chunk of chunks) buffer.push(Buffer.from(chunk));
          const all = Buffer.concat(chunks);
          const kept = all.subarray(Math.max(0, all.length - maxBytes));
          expect(buffer.totalBytes).toBe(all.length);
          expect(buffer.truncated).toBe(all.length > maxBytes);
          const prefix = buffer.truncated
            ? `[... ${all.length - kept.length} earlier bytes dropped ...]\n`
            : "";
          expect(buffer.text()).toBe(prefix + kept.toString("utf8"));
        },
      ),
    );
  });

  it("does not change what the caller pushed", () => {
    const chunk = Buffer.from("0123456789");
    const buffer = new TailBuffer(4);
    buffer.push(chunk);
    buffer.push(Buffer.from("ab"));
    expect(chunk.toString()).toBe("0123456789");
    expect(buffer.text()).toBe("[... 8 earlier bytes dropped ...]\n89ab");
  });
});
