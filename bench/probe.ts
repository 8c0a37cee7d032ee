import { httpCall } from "./http-client";

export interface ProbeSample {
  at: number;
  ms: number;
}

/**
 * GET /healthz back to back, one at a time, every `everyMs`. The route does no I/O, so
 * how late it answers is how late the API's event loop got to it: an outside measure of
 * event-loop delay (plus a fraction of a millisecond of loopback and parsing).
 */
export function healthProbe(apiUrl: string, everyMs = 20): { stop(): Promise<ProbeSample[]> } {
  const samples: ProbeSample[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const response = await httpCall(`${apiUrl}/healthz`);
      samples.push({ at: response.sentAt, ms: response.ms });
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return samples;
    },
  };
}

/** Latencies of the samples taken between two performance.now() instants. */
export function between(samples: ProbeSample[], from: number, to: number): number[] {
  return samples.filter((s) => s.at >= from && s.at < to).map((s) => s.ms);
}
