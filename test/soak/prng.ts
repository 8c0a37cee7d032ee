/**
 * A seeded pseudo-random stream (mulberry32: 32-bit state, good enough to pick test cases,
 * and the same sequence on every machine). The soak draws each canary's plan and the chaos
 * loop's faults from streams of their own, so timing (which differs from run to run) never
 * shifts what a given seed asks for.
 */
export interface Prng {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max], both included. */
  int(min: number, max: number): number;
  /** One of `items`. */
  pick<T>(items: readonly T[]): T;
  /** A copy of `items` in a random order (Fisher-Yates). */
  shuffle<T>(items: readonly T[]): T[];
}

export function prng(seed: number): Prng {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  return {
    next,
    int,
    pick: <T>(items: readonly T[]) => {
      if (items.length === 0) throw new Error("pick from nothing");
      return items[int(0, items.length - 1)] as T;
    },
    shuffle: <T>(items: readonly T[]) => {
      const copy = [...items];
      for (let i = copy.length - 1; i > 0; i--) {
        const j = int(0, i);
        [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
      }
      return copy;
    },
  };
}

/** A stream derived from `seed` for one consumer (`stream` 0 = chaos, 1.. = canaries). */
export function substream(seed: number, stream: number): Prng {
  // Two rounds of the generator on a mixed seed: neighbouring streams do not correlate.
  const mixer = prng((seed ^ Math.imul(stream + 1, 0x9e3779b1)) >>> 0);
  return prng(Math.floor(mixer.next() * 4294967296) ^ Math.floor(mixer.next() * 4294967296));
}

/** A fresh seed for a run that was given none (printed, so the run can be replayed). */
export function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}
