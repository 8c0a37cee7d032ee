/**
 * What the numbers above are made of, and what would move them. Written from profiles and
 * A/B runs on this machine (2026-11-27, commit 36c45b5); unlike the sections above it is
 * not regenerated, so re-check it when the hot path changes. Code is named by file and
 * function as it was in that commit (some has moved or changed since, as the status
 * paragraph says), never by line number.
 */
export const ANALYSIS = `## Where the time goes

Figures quoted here without a section number come from investigation runs on 2026-11-27
(commit 36c45b5). This machine is shared, and CPU-bound numbers move with the other work
on it: a verdict's CPU cost itself rises by a quarter or more when other processes keep a
core busy (caches, frequency), so compare runs only at similar "other work" figures.

**Status of the proposals below.** Applied after these profiles (the sections above were
measured with them in): the run-record read before k6 starts and the separate output write
(run-worker.ts), pruning in the background, jittered long-poll re-checks (run-waiter.ts),
and the prune bug (only finished runs are pruned; a job without a run record is skipped).
Applied later (issue 19): lazy imports of the Kubernetes and Slack clients and bull-board
(decision 36; section 6 has the memory), the baseline read made while k6 runs, and list
pages reading each run's figures instead of its whole record (section 8). Not applied:
spawning k6 with \`node:child_process\` instead of execa (execa's \`cancelSignal\` +
\`forceKillAfterDelay\` is the one cancellation path the design asks for; ~2 ms of worker
CPU per run is its price).

### A gated verdict (section 1)

On a quiet machine a call through k6-gate costs 8-14 ms more than the same k6 run by hand.
About 7-10 ms of it is four hops (section 1's phase table): 1-1.5 ms from the POST to the
run decision (HTTP, JSON, zod), 2-3 ms from the decision to the worker marking the run
started (the Lua decision, a run-record read, BullMQ's add, the worker's blocking pickup,
markStarted), 2-3 ms of worker bookkeeping around k6, and 2-3 ms from the verdict's
PUBLISH to the caller reading the answer. The rest is inside the worker's k6 timing, which
runs 3-5 ms longer than the bare k6: writing the script, spawning through execa and
\`setpriv\`, reading the summary. Each Redis round trip is 0.2-0.5 ms here; two on the path
are not needed (apps/ is not the benchmarks' to change; these are proposals):

- apps/worker/src/run-worker.ts, the BullMQ processor (\`process\` in \`createRunWorker\`),
  \`void notifier.runStarted(run, await store.get(runId))\`: the \`await\` reads the run
  record before k6 is spawned, for a notifier that is silent unless Slack is configured.
  Make it \`void store.get(runId).then((record) => notifier.runStarted(run, record),
  (err) => logger.warn(...))\`: one round trip less before k6 starts.
- run-worker.ts \`finish\`, \`await store.setOutput(...)\` then \`await store.finish(...)\`:
  issue both at once (\`const [, first] = await Promise.all([store.setOutput(...),
  store.finish(...)])\`); ioredis pipelines them on the one connection, in order, so the
  output is still written before the verdict is published: one round trip less before the
  verdict.

The p95 target is at the mercy of k6's own spread: when other work shares the cores, bare
k6's p95 alone moves by tens of ms between runs, and the per-pair p95 with it. The
last row of section 1's first table (gate minus the same run's k6 time) keeps its p95 at 11-26 ms.

### Verdicts per second (section 2)

With a stub k6 the path is CPU-bound: section 2 lists the CPU each process spends per
verdict (8-11 ms in all at 100 callers when nothing else runs, more while other work
does), and two cores cap the rate at 2000 ms / that sum. The workers are most of it. A CPU
profile of a worker under this load (\`node --cpu-prof\`, 20 callers) puts 36% of its busy
time in \`ChildProcess.spawn\` itself (the fork of a large process) and another 12% in
execa's own plumbing around it; the Redis client (ioredis) is 11%, the run store 8%,
BullMQ 6%, pino's synchronous log writes 2-4%. Measured in isolation (300 spawns of
\`setpriv --pdeathsig KILL -- <stub>\`, CPU time):

| spawn through | worker CPU per spawn | child CPU (setpriv + sh) |
| --- | --- | --- |
| execa (as run-k6.ts does) | 3.4-4.0 ms | 2.1-2.3 ms |
| node:child_process \`spawn\` | 1.5-1.6 ms | 2.1-2.3 ms |
| execa, process holding @kubernetes/client-node + @slack/web-api (RSS 230 MB) | 4.7-4.9 ms | 2.9-3.7 ms |
| \`spawn\`, same process | 1.7-2.3 ms | 2.3-2.9 ms |

What would lower the cost (proposals again):

1. apps/worker/src/k6/run-k6.ts \`runK6\`: spawn k6 with \`node:child_process\` \`spawn\`
   instead of \`execa\` (a deadline timer and the AbortSignal each send SIGTERM, then
   SIGKILL after \`killGraceMs\`; \`close\` gives the exit code and signal). About 2 ms
   less worker CPU per run (table above).
2. apps/worker/src/main.ts's static imports of kubernetes-secrets.ts and
   slack/slack-notifier.ts: import \`@kubernetes/client-node\` (76 MB of RSS on import)
   and \`@slack/web-api\` (15 MB) only when they are configured (\`await import(...)\`
   inside \`kubernetesSecretsFor\` / \`slackNotifierFor\` after their early
   \`return undefined\`). A smaller worker forks faster (table above), and section 6's
   idle worker shrinks by most of that.
3. apps/worker/src/run-worker.ts \`finish\`, \`await store.prune(...)\`: three sequential
   round trips (ZRANGEBYSCORE, ZRANGE, MULTI) after the verdict and before BullMQ may hand
   the worker its next job. Run it in the background
   (\`void store.prune(...).catch((err) => logger.warn(...))\`) or once every N runs.

In A/B runs of section 2 on scratch copies of the tree with the five worker changes
above, worker CPU per verdict at 100 callers was 5.3-6.5 ms against 6.6-9.2 ms for the
unchanged code, over several quiet runs of each (the ranges do not overlap; the spread
within each is this shared host), about a quarter less, and the rate reached 233-270/s.
The unchanged code passes the target when it has the machine to itself (170-240/s in
quiet runs); the changes are headroom for when it does not.

### 1,000 held calls (section 3)

Holding costs little memory: about 50-60 MB over idle for 1,000 sockets and waiters.
Two things show in the event loop:

- Attaching 1,000 calls at once keeps the loop busy for about a second: every POST is
  parsed, validated, decided, enqueued and read back in arrival order, about 1 ms of CPU
  each (the API column of section 2), and a /healthz that arrives behind them waits its
  turn. That is a burst, not a steady state.
- While holding, apps/api/src/run-waiter.ts \`RunWaiter.wait\` re-reads every waiting run
  every 3 s (\`recheckMs\`), about 300 HGETALL/s for 1,000 waiters (section 3 shows the
  measured rate). The waiters that attached together re-check together, so the reads come
  in bursts that stall the loop for up to a few tens of ms (the hold's /healthz max).
  Spreading them (\`this.recheckMs * (0.5 + Math.random())\` in place of
  \`this.recheckMs\` in that loop's \`nextWake\` call) lowered the worst /healthz during
  the hold from 38-58 ms to 17-20 ms and its p99 from 15-20 ms to 10-11 ms in A/B runs on a
  busy machine. Re-checking when the subscriber reconnects (ioredis \`ready\`: wake every
  waiter) and otherwise every 30 s would remove most of the reads as well.

### A bug the long-poll benchmark found

libs/shared/src/run-store.ts \`RunStore.prune\` deletes a canary's oldest runs beyond
HISTORY_MAX_RUNS_PER_CANARY whatever their status, including runs still queued or
running. With 1,000 calls waiting on one canary, the first verdict pruned 800 waiting runs
and 786 callers got \`503 run <id> disappeared; retry\`; with HISTORY_MAX_RUNS_PER_CANARY=5
and 20 queued runs of one canary, 14 of 20 did. The worker then runs k6 for the deleted
runs anyway (\`markStarted\` answers "missing" and run-worker.ts's processor only stops
on "finished"), and FINISH recreates a partial run hash without a TTL. Fix: prune only
finished runs (take \`tooMany\` from the finished ones, e.g. HMGET each candidate's
\`status\` and skip queued/running, or do the whole prune in a Lua script), and have the
worker skip a "missing" run. Section 3 uses 1,000 distinct canaries, as real traffic would.

### Scaling (section 4)

Efficiency against the 2-second ideal is bounded by k6 itself: a 2-second script takes
k6 about 2.1 s (start-up, the request, shutdown, the summary file). Against
ceil(40/W) x the measured k6 run time the queue keeps workers busy 97-100% of the time; the
rest is the pickup and bookkeeping of section 1, once per run.
`;
