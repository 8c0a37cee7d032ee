/**
 * Where the image's `k6` shim for k6-operator's runner pods lives (docker/k6-operator/k6):
 * first on those pods' PATH, never where pod-run looks for the real k6.
 */
export const OPERATOR_SHIM_DIR = "/usr/local/lib/k6-gate/k6-operator";

/** The flags of k6-operator's runner command k6 is given, each with the values it takes. */
const KEPT: Record<string, RegExp> = {
  "--execution-segment": /^[0-9/.]+:[0-9/.]+$/,
  "--execution-segment-sequence": /^[0-9/.]+(,[0-9/.]+)+$/,
  "--address": /^[0-9.]+:[0-9]+$/,
  "--tag": /^[A-Za-z0-9_]+=[-A-Za-z0-9_.]+$/,
};

/**
 * The part of k6-operator's `k6 run ...` a runner pod's k6 keeps: its execution segment,
 * REST address, `--paused` and tags. The rest (`--quiet`, the script's path) is pod-run's
 * own to decide: the script is the run's (from /run/k6-gate) and k6's other flags are the
 * ones every run gets (run-k6.ts). A flag it does not know, or a value not of its form,
 * is an error: the operator's command changed.
 */
export function operatorEngineArgs(args: string[]): string[] {
  const [command, ...rest] = args;
  if (command !== "run") throw new Error(`expected "k6 run ...", got "k6 ${args.join(" ")}"`);
  const kept: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] as string;
    if (arg === "--quiet" || !arg.startsWith("-")) continue;
    if (arg === "--paused") {
      kept.push(arg);
      continue;
    }
    const equals = arg.indexOf("=");
    const flag = equals === -1 ? arg : arg.slice(0, equals);
    const value = equals === -1 ? rest[++i] : arg.slice(equals + 1);
    const form = KEPT[flag];
    if (!form) throw new Error(`k6-operator's flag ${flag} is not one pod-run knows`);
    if (value === undefined || !form.test(value)) {
      throw new Error(`k6-operator's ${flag} has an unexpected value ${JSON.stringify(value)}`);
    }
    kept.push(`${flag}=${value}`);
  }
  return kept;
}
