import { describe, expect, it } from "vitest";
import { failedResult, type RunResult } from "@k6-gate/shared";
import {
  allowedCpusOf,
  availableCpus,
  cgroup2MountOf,
  cgroupV2PathOf,
  countCpuList,
  cpuMaxPaths,
  cpuSampleOf,
  growthBetween,
  parseCpuMax,
  parseProcStat,
  parseSchedstatWait,
  processKey,
  processTree,
  saturationOf,
  type ProcStat,
} from "../../apps/worker/src/k6/cpu-usage";
import { isSaturated, judgeSaturation } from "../../apps/worker/src/k6/saturation-verdict";

/** A /proc/<pid>/stat line as Linux writes it (52 fields), with the fields we read set. */
function statLine(pid: number, comm: string, ppid: number, utime: number, stime: number) {
  const fields = Array.from({ length: 50 }, () => "0");
  fields[0] = "S";
  fields[1] = String(ppid);
  fields[11] = String(utime);
  fields[12] = String(stime);
  fields[19] = "4242";
  return `${pid} (${comm}) ${fields.join(" ")}\n`;
}

const stat = (pid: number, ppid: number, cpuTicks: number, startTime = 1): ProcStat => ({
  pid,
  ppid,
  startTime,
  cpuTicks,
});

describe("/proc parsing", () => {
  it("reads ppid, utime + stime and start time, whatever the command name holds", () => {
    expect(parseProcStat(statLine(812, "k6", 800, 150, 30))).toEqual({
      pid: 812,
      ppid: 800,
      startTime: 4242,
      cpuTicks: 180,
    });
    expect(parseProcStat(statLine(9, "a (weird) name) ", 1, 5, 5))).toMatchObject({
      ppid: 1,
      cpuTicks: 10,
    });
    expect(parseProcStat("")).toBeUndefined();
    expect(parseProcStat("12 (k6) S 1 2")).toBeUndefined();
  });

  it("reads a thread's run-queue wait from schedstat", () => {
    expect(parseSchedstatWait("113201746 29804380 558\n")).toBe(29804380);
    expect(parseSchedstatWait("")).toBeUndefined();
  });

  it("counts the CPUs of an affinity list (taskset -c)", () => {
    expect(countCpuList("0")).toBe(1);
    expect(countCpuList("0-3,8,10-11")).toBe(7);
    expect(countCpuList("3-1")).toBeUndefined();
    expect(countCpuList("")).toBeUndefined();
    expect(
      allowedCpusOf("Name:\tk6\nCpus_allowed:\t1\nCpus_allowed_list:\t0\nMems_allowed:\t1\n"),
    ).toBe(1);
    expect(allowedCpusOf("Name:\tk6\n")).toBeUndefined();
  });

  it("reads a cgroup v2 quota in CPUs, and no quota for max", () => {
    expect(parseCpuMax("150000 100000\n")).toBe(1.5);
    expect(parseCpuMax("50000 100000")).toBe(0.5);
    expect(parseCpuMax("max 100000\n")).toBeUndefined();
    expect(parseCpuMax("")).toBeUndefined();
  });

  it("finds the cgroup v2 path and mount, on unified and hybrid hosts", () => {
    expect(cgroupV2PathOf("0::/kubepods/pod1/abc\n")).toBe("/kubepods/pod1/abc");
    expect(cgroupV2PathOf("4:memory:/x\n1:cpu:/\n0::/\n")).toBe("/");
    expect(cgroupV2PathOf("4:memory:/x\n")).toBeUndefined();
    const hybrid = [
      "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu",
      "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw",
    ].join("\n");
    expect(cgroup2MountOf(hybrid)).toEqual({ root: "/", mountPoint: "/sys/fs/cgroup/unified" });
    expect(cgroup2MountOf(hybrid.split("\n")[0]!)).toBeUndefined();
  });

  it("checks cpu.max from the process's cgroup up to the mount", () => {
    const mount = { root: "/", mountPoint: "/sys/fs/cgroup" };
    expect(cpuMaxPaths(mount, "/kubepods/pod1")).toEqual([
      "/sys/fs/cgroup/kubepods/pod1/cpu.max",
      "/sys/fs/cgroup/kubepods/cpu.max",
      "/sys/fs/cgroup/cpu.max",
    ]);
    expect(cpuMaxPaths(mount, "/")).toEqual(["/sys/fs/cgroup/cpu.max"]);
  });

  it("takes the smaller of affinity and quotas", () => {
    expect(availableCpus(2, [undefined, 1.5, 4])).toBe(1.5);
    expect(availableCpus(1, [2])).toBe(1);
    expect(availableCpus(undefined, [undefined])).toBeUndefined();
  });
});

describe("CPU use of the k6 process tree", () => {
  it("keeps the root and its descendants only", () => {
    const all = [stat(1, 0, 5), stat(50, 1, 1), stat(51, 50, 2), stat(52, 51, 3), stat(60, 1, 9)];
    expect(
      processTree(all, 50)
        .map((s) => s.pid)
        .sort(),
    ).toEqual([50, 51, 52]);
    expect(processTree(all, 99)).toEqual([]);
  });

  it("counts growth between snapshots, new processes in full, a reused pid as new", () => {
    const ticks = (stats: ProcStat[]) => new Map(stats.map((s) => [processKey(s), s.cpuTicks]));
    const before = ticks([stat(50, 1, 10), stat(51, 50, 100)]);
    const after = ticks([stat(50, 1, 11), stat(51, 50, 125), stat(52, 51, 3, 7)]);
    expect(growthBetween(before, after)).toBe(1 + 25 + 3);
    expect(growthBetween(before, ticks([stat(51, 50, 4, 99)]))).toBe(4);
  });

  it("turns ticks, wait and wall time into CPUs (100 ticks a second)", () => {
    expect(cpuSampleOf(25, 0, 250)).toEqual({ used: 1, waiting: 0 });
    expect(cpuSampleOf(50, 125e6, 250)).toEqual({ used: 2, waiting: 0.5 });
    expect(cpuSampleOf(10, 10, 0)).toEqual({ used: 0, waiting: 0 });
  });

  it("counts a sample saturated when k6 used or waited for 90% of the CPUs available", () => {
    const used = (...values: number[]) => values.map((u) => ({ used: u, waiting: 0 }));
    expect(saturationOf(used(1.04, 0.92, 0.88, 0.2), 1)).toEqual({
      share: 0.5,
      samples: 4,
      cpus: 1,
      peakCpus: 1,
    });
    expect(saturationOf(used(0.96, 0.4), 2)).toEqual({
      share: 0,
      samples: 2,
      cpus: 2,
      peakCpus: 0.96,
    });
    // Half a core to k6, half to a busy neighbour: k6 was starved all along.
    expect(saturationOf([{ used: 0.5, waiting: 0.48 }], 1)).toMatchObject({
      share: 1,
      peakCpus: 0.5,
    });
    expect(saturationOf([], 1)).toEqual({ share: 0, samples: 0, cpus: 1, peakCpus: 0 });
  });
});

describe("saturation in the verdict", () => {
  const passed: RunResult = {
    ...failedResult("passed", "its threshold passed", 5000),
    verdict: "pass",
    warnings: ["no thresholds: k6 judged nothing"],
  };
  const busy = { share: 0.64, samples: 20, cpus: 1, peakCpus: 0.98 };

  it("records the figures and warns only for a significant share of enough samples", () => {
    const calm = { ...busy, share: 0.2 };
    expect(judgeSaturation(passed, calm, true)).toEqual({ ...passed, saturation: calm });
    const short = { ...busy, samples: 3 };
    expect(judgeSaturation(passed, short, true)).toEqual({ ...passed, saturation: short });
    expect(judgeSaturation(passed, undefined, true)).toBe(passed);
    expect(isSaturated({ ...busy, share: 0.25, samples: 4 })).toBe(true);
  });

  it("warns with the share, and keeps the verdict without fail_on_saturation", () => {
    const judged = judgeSaturation(passed, busy, false);
    expect(judged.verdict).toBe("pass");
    expect(judged.outcome).toBe("passed");
    expect(judged.warnings).toEqual([
      "no thresholds: k6 judged nothing",
      "load generator saturated for 64% of the run: latency figures are inflated",
    ]);
  });

  it("fails a pass with fail_on_saturation, naming the share and the CPUs", () => {
    const judged = judgeSaturation(passed, busy, true);
    expect(judged).toMatchObject({ verdict: "fail", outcome: "saturated", saturation: busy });
    expect(judged.reason).toBe(
      "k6 used at least 90% of its 1 CPU in 64% of samples (fail_on_saturation): the figures measure the load generator, not the target",
    );
  });

  it("leaves a failed verdict's outcome and reason alone", () => {
    const failed = failedResult("thresholds_failed", "1 of 1 thresholds failed");
    const judged = judgeSaturation(failed, busy, true);
    expect(judged).toMatchObject({ outcome: "thresholds_failed", reason: failed.reason });
    expect(judged.warnings).toHaveLength(1);
  });
});
