import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "@k6-gate/shared";

describe("parseDuration", () => {
  it.each([
    ["250ms", 250],
    ["90s", 90_000],
    ["2m", 120_000],
    ["1h", 3_600_000],
    ["1h30m", 5_400_000],
    ["1h0m0s", 3_600_000],
    ["1.5m", 90_000],
    ["0.5s", 500],
    ["1m30s500ms", 90_500],
    ["30d", 2_592_000_000],
    ["0", 0],
    ["0s", 0],
    ["  2m\n", 120_000],
  ])("%j is %i ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([
    "",
    "   ",
    "2",
    "m",
    "s2",
    "2 m",
    "1h 30m",
    "2min",
    "2M",
    "2S",
    "1y",
    "1w",
    "1e3s",
    "1,5m",
    "2m!",
    "1h30",
    "00000000000000000000000000000001s", // 33 characters
  ])("%j is not a duration", (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it("sums units in any order and repeated, as Go's time.ParseDuration does", () => {
    expect(parseDuration("30s1m")).toBe(90_000);
    expect(parseDuration("1m1m")).toBe(120_000);
  });

  it("rounds to whole milliseconds", () => {
    expect(parseDuration("1.4ms")).toBe(1);
    expect(parseDuration("1.6ms")).toBe(2);
    expect(parseDuration("0.001s")).toBe(1);
  });

  it("reads what formatDuration writes back to within its rounding", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 30 * 86_400_000 }), (ms) => {
        const back = parseDuration(formatDuration(ms));
        expect(back).toBeDefined();
        const tolerance = ms < 1000 ? 0 : ms < 60_000 ? 50 : 500;
        expect(Math.abs((back ?? Number.NaN) - ms)).toBeLessThanOrEqual(tolerance);
      }),
    );
  });

  // flagger-k6-webhook reads min_failure_delay with Go's time.ParseDuration; duration.ts's
  // doc comment lists where parseDuration differs. Pinned here so a change to either side is
  // a decision, not an accident.
  describe("where it differs from Go's time.ParseDuration", () => {
    it("accepts days, which Go refuses", () => {
      expect(parseDuration("1d")).toBe(86_400_000);
    });

    it("refuses what Go accepts: signs, µs/us/ns, a bare fraction, more than 32 characters", () => {
      for (const text of [
        "-1s",
        "+1s",
        "1us",
        "1µs",
        "1ns",
        ".5s",
        "1.s",
        "1h1m1s1ms1h1m1s1ms1h1m1s1ms1h1m1s",
      ]) {
        expect(parseDuration(text), text).toBeUndefined();
      }
    });
  });
});

describe("formatDuration", () => {
  it("writes the examples its doc comment gives", () => {
    expect(formatDuration(1500)).toBe("1.5s");
    expect(formatDuration(120_000)).toBe("2m");
  });

  it.each([
    [0, "0ms"],
    [1, "1ms"],
    [999, "999ms"],
    [1000, "1s"],
    [1049, "1s"],
    [1050, "1.1s"],
    [59_900, "59.9s"],
    [60_000, "1m"],
    [61_000, "1m1s"],
    [90_000, "1m30s"],
    [152_000, "2m32s"],
    [3_600_000, "60m"],
    [7_200_000, "120m"],
  ])("%i ms is %j", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it("carries a rounded-up unit (59.95s, 119.5s, 999.5ms)", () => {
    expect(formatDuration(59_950)).toBe("1m");
    expect(formatDuration(119_500)).toBe("2m");
    expect(formatDuration(999.5)).toBe("1s");
  });
});
