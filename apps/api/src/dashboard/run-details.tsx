import {
  describeScenario,
  formatDuration,
  runPath,
  type K6Plan,
  type RunInputs,
  type RunNeighbours,
  type RunRecord,
  type Saturation,
} from "@k6-gate/shared";

/** What BullMQ still knows of a run's attempts (its job is kept 24 h after it ends). */
export interface AttemptsInfo {
  /** Attempts a worker started. */
  started: number;
  /** Times a worker lost the job (killed, frozen, cut off) and another took it up. */
  stalled: number;
  /** Why earlier attempts failed, one line each (infrastructure errors, not verdicts). */
  failures: string[];
}

/** Links to the canary's run before and after this one. */
export function RunNeighboursNav(props: { neighbours: RunNeighbours }) {
  const { previous, next } = props.neighbours;
  if (!previous && !next) return null;
  return (
    <nav class="neighbours" aria-label="Other runs of this canary">
      {previous ? (
        <a id="previous-run" href={runPath(previous)} rel="prev">
          ← previous run
        </a>
      ) : (
        <span class="muted">first run kept</span>
      )}
      {next ? (
        <a id="next-run" href={runPath(next)} rel="next">
          next run →
        </a>
      ) : (
        <span class="muted">latest run</span>
      )}
    </nav>
  );
}

/** The worker, the attempts and why there was more than one. */
export function AttemptFacts(props: { run: RunRecord; attempts: AttemptsInfo | null }) {
  const { run, attempts } = props;
  const earlier: string[] = [];
  if (attempts && attempts.stalled > 0) {
    earlier.push(
      `taken up again ${attempts.stalled === 1 ? "once" : `${attempts.stalled} times`} after its worker stopped renewing the job's lock (killed, frozen or cut off)`,
    );
  }
  for (const failure of attempts?.failures ?? []) earlier.push(`failed: ${failure}`);
  return (
    <>
      <dt>Worker</dt>
      <dd id="worker">{run.worker ?? <span class="muted">not started yet</span>}</dd>
      <dt>Attempts</dt>
      <dd id="attempts">
        {run.attempt}
        {earlier.length > 0 && (
          <ul class="plain">
            {earlier.map((line) => (
              <li>{line}</li>
            ))}
          </ul>
        )}
        {run.attempt > 1 && earlier.length === 0 && (
          <span class="muted">
            {" "}
            (earlier attempts were handed back by a stopping worker
            {attempts ? "" : "; the queue no longer keeps their details"})
          </span>
        )}
      </dd>
    </>
  );
}

/** Why a run has no k6 version and load to show: not started, running, or not kept. */
function whyNoPlan(run: Pick<RunRecord, "status" | "startedAt">): string {
  if (run.status === "running")
    return "k6 is running: its version and load are recorded with the verdict";
  if (run.status === "queued") return "not started yet";
  return run.startedAt === null ? "k6 did not run" : "not recorded";
}

/**
 * Whether Flagger has its answer. Before the verdict, a delivered run was answered 202
 * Accepted (`wait_for_results: "false"`): Flagger went on without a verdict, and none will
 * reach it for this run.
 */
export function DeliveredFact(props: { run: Pick<RunRecord, "status" | "delivered"> }) {
  const { status, delivered } = props.run;
  let text = delivered ? "yes" : "not yet";
  if (status !== "finished") {
    text = delivered
      ? 'accepted (202, wait_for_results: "false"): Flagger gets no verdict for this run'
      : "not yet: the verdict goes to the call waiting for it";
  }
  return (
    <>
      <dt>Delivered to Flagger</dt>
      <dd id="delivered">{text}</dd>
    </>
  );
}

/**
 * What ran: k6 and its load as `k6 inspect` read it, the variables by name (a value is
 * never shown: "hidden"), the secrets by reference, and the script, read-only with line
 * numbers.
 */
export function WhatRan(props: {
  inputs: RunInputs | null;
  plan: K6Plan | undefined;
  run: Pick<RunRecord, "status" | "startedAt">;
  saturation?: Saturation;
}) {
  const { saturation } = props;
  const { inputs, plan } = props;
  const noPlan = whyNoPlan(props.run);
  return (
    <section id="what-ran">
      <h2>What ran</h2>
      <dl class="facts">
        <dt>k6</dt>
        <dd id="k6-version">{plan?.version ?? <span class="muted">{noPlan}</span>}</dd>
        <dt>Load</dt>
        <dd id="k6-load">
          {plan && plan.scenarios.length > 0 ? (
            <>
              <ul class="plain" id="scenarios">
                {plan.scenarios.map((scenario) => (
                  <li data-scenario={scenario.name}>
                    <code>{scenario.name}</code> {scenario.executor}: {describeScenario(scenario)}
                    {scenario.envNames?.length ? (
                      <span class="muted">
                        {" "}
                        (env: {scenario.envNames.join(", ")}, values hidden)
                      </span>
                    ) : null}
                  </li>
                ))}
              </ul>
              <span class="muted">
                {plan.totalDuration ? `at most ${plan.totalDuration} with graceful stops` : ""}
                {plan.maxVUs !== null ? `, up to ${plan.maxVUs} VUs` : ""} (from k6 inspect)
              </span>
            </>
          ) : (
            <span class="muted">
              {plan ? "k6 inspect could not read the script's options" : noPlan}
            </span>
          )}
        </dd>
        {saturation && (
          <>
            <dt>k6 CPU</dt>
            <dd id="k6-cpu">
              peak {saturation.peakCpus.toFixed(2)} of {saturation.cpus}{" "}
              {saturation.cpus === 1 ? "CPU" : "CPUs"}; saturated in{" "}
              {Math.round(saturation.share * 100)}% of samples
            </dd>
          </>
        )}
        {inputs && (
          <>
            <dt>Environment</dt>
            <dd id="env-names">
              {inputs.envNames.length === 0 && Object.keys(inputs.secretRefs).length === 0 ? (
                <span class="muted">no env_vars</span>
              ) : (
                <ul class="plain">
                  {inputs.envNames.map((name) => (
                    <li>
                      <code>{name}</code> <span class="muted">= (value hidden)</span>
                    </li>
                  ))}
                  {Object.entries(inputs.secretRefs).map(([name, ref]) => (
                    <li>
                      <code>{name}</code> <span class="muted">from secret</span> <code>{ref}</code>
                    </li>
                  ))}
                </ul>
              )}
            </dd>
            <dt>Limits</dt>
            <dd id="limits">
              {inputs.maxDurationMs !== null
                ? `max_duration ${formatDuration(inputs.maxDurationMs)}`
                : "max_duration from the script"}
              {inputs.maxInterruptedIterations > 0
                ? `, up to ${inputs.maxInterruptedIterations} interrupted iterations allowed`
                : ""}
              {inputs.uploadToCloud ? ", uploaded to k6 Cloud" : ""}
            </dd>
          </>
        )}
      </dl>
      <h3>Script</h3>
      {inputs?.script ? (
        <div class="scroll">
          <pre id="script" class="script" aria-label="k6 script, read-only">
            {inputs.script
              .replace(/\n$/, "")
              .split("\n")
              .map((line) => (
                <code class="line">{line + "\n"}</code>
              ))}
          </pre>
        </div>
      ) : (
        <p class="muted">
          The script is kept with the run from when a worker starts it, for the history's age.
          {inputs ? "" : " Not available for this run."}
        </p>
      )}
    </section>
  );
}
