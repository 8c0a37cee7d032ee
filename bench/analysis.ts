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
pages reading each run's figures instead of its whole record (section 8). Applied on
2026-11-29: \`/\` and \`/metrics\` read each canary's newest runs with one read-only script
per canary (libs/shared/src/commands/read-commands.ts) instead of one command per run
(section 8). Not applied:
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

libs/shared/src/store/retention.ts \`RunStore.prune\` deletes a canary's oldest runs beyond
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

/**
 * Why each target section 1-8 missed on its last run is missed, from profiles taken on
 * 2026-11-29 with bench/profile.ts, since removed (its modes are named beside each figure). Static, like
 * ANALYSIS: re-measure and rewrite it when the path changes or a row is met.
 */
export const TARGETS_NOT_MET = `## Targets not met, and why

Measured on 2026-11-29 at commit e5e5ed0 on this 2-core VM while other work kept it busy
(load average 5-10 during these runs; 0.8 when the sections above started), so this
section leans on CPU time from /proc and on \`node --cpu-prof\` profiles rather than on
wall-clock time. A profile samples the main thread every millisecond whether it runs or
waits for a core: on a busy machine its figures are where the time went, not CPU time.
Each figure names the mode of bench/profile.ts (removed since: \`git show d55edf0:bench/profile.ts\`)
that measured it, on the container form (\`node dist/*.js\`, as the sections above start
it). Written by hand, like the analysis below: re-measure when the path changes, with the
profiler in the processes a benchmark starts:
\`PROFILE_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" npx tsx bench/main.ts overhead\`
writes one \`.cpuprofile\` per process (Chrome DevTools, Performance, opens it).

### A gated call, phase by phase

\`overhead --cpu-prof\`: 60 short calls one after another; time the API and the worker were
sampled busy in each phase of section 1's table, per call, largest owners in brackets:

| phase | wall median | API | worker |
| --- | --- | --- | --- |
| POST sent -> run decided | 3.0 ms | 2.7 ms (zod 0.5, HTTP streams and Hono 0.6) | 2.1 ms (GC 0.5, ioredis 0.5: the previous call's leftovers) |
| run decided -> worker marks it started | 3.0 ms | 2.7 ms (socket writes 0.9, ioredis 0.4, BullMQ 0.2) | 2.2 ms (ioredis 0.5, BullMQ 0.2) |
| worker started -> \`k6 run\` spawned | 5.0 ms | 0.6 ms | 4.8 ms (ioredis 1.0, k6-gate 0.9, file open 0.4, zod 0.3) |
| \`k6 run\` spawned -> end of the worker's k6 time | 77.5 ms | 0.6 ms | 11.8 ms (child_process 2.9, execa 1.2, k6-gate 1.2) |
| -> FINISH sent (summary read, judging) | 0.0 ms | 0.2 ms | 0.6 ms |
| verdict recorded -> response read by caller | 4.7 ms | 3.2 ms (pino's redaction 0.4, zod 0.3) | 3.8 ms (k6-gate 0.8, ioredis 0.5) |

Without the profiler (\`overhead\`): gate minus its own k6 time 19.1 ms median, 40.5 ms p95;
CPU per call API 7.8 ms, worker 21.3 ms, k6 with setpriv 68.3 ms, redis-server 3.2 ms; 210
Redis commands per call (those inside scripts counted), 40 of them HMGET of the baseline's
history read and 21 HGET + 20 DEL of pruning.

Outside k6 the call is four hops of 3-5 ms, and in each the process doing the work was
busy for most of it: the time is Node work spread thin over HTTP and streams, zod, ioredis
and BullMQ commands and socket writes, and pino, not one slow step, and not Redis (3.2 ms
of redis-server CPU per call in all). Reaching 5 ms would need about three quarters of
that work gone from both processes. The round trips earlier profiles found removable have
gone ("Status of the proposals" below); what is left is layers: Hono and its web-streams
adapter, zod on the webhook, pino's per-call lines, BullMQ's job bookkeeping. Dropping
them is not an option: zod is the one statement of the payload's, config's and records'
rules and of the messages Flagger users read; BullMQ (and ioredis, which it requires) is
the queue's durability, retries and recovery (section 7); the per-call lines are
production's record. As sampled on the path, zod and pino's redaction are about 1.5 ms of
the 15.7 ms outside k6.

### A verdict's CPU with the stub k6

\`queue\`: section 2's load at 10 callers for 8 s. CPU per verdict: API 3.6 ms, workers 14.4
ms, the stub and setpriv 2.5 ms, redis-server 2.5 ms, load generator 1.0 ms: 24 ms, so two
idle cores would carry 83/s; 150/s needs 13.3 ms. \`queue --cpu-prof\`, share of the first
worker's sampled time: k6's run 35% (the spawn itself 20%), pruning 11%, the baseline's
history read 5%, FINISH 3%, pino 3%, GC 5%. Of 540 Redis commands per verdict, 181 HGET
and 179 DEL are \`RunStore.prune\` (libs/shared/src/store/retention.ts) checking again every run
past HISTORY_MAX_OUTPUTS_PER_CANARY (20) of the canary, here one canary of up to 200 runs,
and deleting outputs already deleted: work that grows with the history, on every verdict.
Applied since: a prune looks for outputs only among the 20 runs just past the budget.

### Memory

\`memory\` (idle, then one 2 s k6 run), \`hold\` (section 3's 1,000 held calls) and
\`modules <list>\` (section 6's probe, libraries in the order given):

| measured | VmRSS | of which file-backed | V8 heap committed / used | young generation committed / used |
| --- | --- | --- | --- | --- |
| API idle | 105 MB | 52 MB | 55 / 22 MB | 32 / 1 MB |
| worker idle | 105 MB | 52 MB | 56 / 23 MB | 32 / 1 MB |
| API holding 1,000 calls | 254 MB | 52 MB | 191 / 95 MB | 128 / 35 MB |
| API holding 1,000 calls, \`--max-semi-space-size=16\` | 198 MB | 52 MB | 108 / 59 MB | 32 / 5 MB |

File-backed pages are the node binary's code as mapped. A fresh node that imports only
node:crypto, node:net, node:tls, node:http and node:child_process is at 60.0 MB
(\`modules node:crypto,node:net,node:tls,node:http,node:child_process,zod,pino,ioredis,bullmq,prom-client,execa\`:
41.7 + 18.3 MB): the worker's target is what Node takes before any library. Section 6's
per-library figures add up to the total but do not say what dropping one would save: a
library's figure depends on what loaded before it (zod 18.3 MB first,
\`modules zod,ioredis,bullmq\`; 9.1 MB after ioredis and BullMQ, \`modules ioredis,bullmq,zod\`).

### Row by row

- **Overhead, gate - its own k6 (short test), median (19.0 ms at e5e5ed0):** the four hops outside k6,
  3.0 + 3.0 + 5.0 + 4.7 ms of Node work in the API and worker (phase table above); 5 ms
  would need those layers gone, which is not an option (above).
- **Overhead, gate - its own k6 (short test), p95 (29.1 ms at e5e5ed0):** the same hops waiting for a
  core: k6 and setpriv take 68 ms of CPU per run (\`overhead\`), close to a whole core for
  the run's length, while the worker spends 11.8 ms beside it; the p95 follows the
  machine's load (40.5 ms in the \`overhead\` run above, at load average 9).
- **Overhead per pair (short test), median (28.9 ms at e5e5ed0):** the row above plus what the worker's
  k6 time holds beyond a bare \`k6 run\`: the spawn through execa and \`setpriv\` (2.9 + 1.2 ms
  sampled per call), the script file and the summary read, and k6 sharing the two cores
  with the worker, the API and Redis. Spawning with \`node:child_process\` would save about
  2 ms of worker CPU per run (2026-11-27's table below); not applied, execa's cancellation
  is the design's one path.
- **Overhead per pair (short test), p95 (64.2 ms at e5e5ed0):** the median's causes plus bare k6's own
  spread, which a pairwise difference keeps (section 1: bare k6 p95 81.1 against median
  58.7 ms).
- **Overhead, gate - its own k6 (2.5 s test), median and p95 (21.3 and 48.5 ms at e5e5ed0, before the sampler change):** the short
  test's hops, plus the worker's saturation sampler (apps/worker/src/k6/cpu-sampler.ts):
  from 250 ms into a run it reads /proc/<pid>/stat of every process the worker can see,
  every 250 ms. On this VM that is 122-141 processes (\`ls /proc | grep -c '^[0-9]'\`) and
  483 ms of worker CPU per 2.5 s call, against 85 ms with the worker in a PID namespace of
  its own as in a pod (\`overhead --long\`, \`overhead --long --pidns\`; p95 106.2 against 45.0
  ms in those runs); it competes with k6 and the API for the cores. Applied since: the
  sampler looks for k6's descendants among all processes every 2 s and reads only the ones
  it knows in between (/proc/<pid>/task/*/children, which would avoid the scan, is missing
  on kernels without CONFIG_PROC_CHILDREN, this VM's included).
- **Overhead per pair (2.5 s test), median and p95 (44.3 and 84.0 ms at e5e5ed0, before the sampler change):** the two rows above
  plus the per-pair causes of the short test; the sampler is inside the worker's k6 time,
  so it weighs more here (23 ms between the two medians, 10 ms in the short test).
- **Verdict throughput, stub k6 (75/s at e5e5ed0, before the prune change):** 24 ms of CPU per verdict where 150/s needs 13.3
  (CPU section above). Pruning only what crossed a line since the last verdict (the run
  that just passed the 20-output mark, runs past age or count) removes those 360
  commands and about a tenth of the worker's time (applied since); spawning with \`node:child_process\` about
  2 ms more. Even then the sum stays above 13.3 ms: the stub's processes, Redis, the API and
  the load generator alone take 9.6 ms. Tried: \`queue --node-flags=--max-semi-space-size=1\`
  (workers 17.0 ms per verdict) and \`--node-flags=--lite-mode\` (26.4 ms), against 14.4-16.1
  ms without: both worse.
- **API RSS holding 1,000 calls (265 MB at e5e5ed0):** V8's young generation, which grows to 128 MB
  committed (35 MB in use) while 1,000 calls attach (memory table: 254 MB in the container
  form; section 3 runs the harness form, \`hold --harness\` 303 MB). Capped at 16 MB per
  semi-space the same hold peaked 198 MB, and attaching took 2140 ms of API CPU against 1950
  ms uncapped. Applied since (issue 31): \`--max-semi-space-size=16\` in the image's NODE_OPTIONS,
  the test harness and the benchmarks' processes; "Footprint of a small install" measures it.
- **API RSS idle (105 MB):** 52 MB of node's own code pages and 53 MB anonymous, most of it
  V8's heap for the libraries (memory table); 70 MB is 10 MB above what Node alone takes
  with its network modules. Dropping libraries is not an option: BullMQ is the queue and
  requires ioredis; zod is the one statement of the rules; Hono serves the dashboard. Tried
  (\`memory --node-flags=...\`): \`--max-semi-space-size=1\` 92 MB (verdicts cost more CPU, above),
  \`--lite-mode\` (no optimizing compiler) 75 MB at +3.0 ms API CPU per verdict.
- **Worker RSS idle (107 MB):** as the API: 105 MB here, 52 file-backed, heap 56 / 23 MB;
  60 MB is what Node takes with the modules it needs before any library, so no library
  choice reaches it. execa stays (the design's one cancellation path: SIGTERM, then SIGKILL
  after KILL_GRACE). Tried: \`--max-semi-space-size=1\` 92 MB, \`--lite-mode\` 77 MB at +12 ms
  worker CPU per verdict (26.4 against 14.4 ms).
- **Worker RSS while k6 runs (114 MB at e5e5ed0):** idle plus what a run adds: 116 MB peak against 105
  idle (\`memory\`), and 106 MB with the worker in its own PID namespace (\`memory --pidns\`):
  the 11 MB is the heap growing with the saturation sampler's reads of this VM's process
  table. In a pod the gap is the idle one. \`--lite-mode\` meets this row (80 MB) at the CPU
  cost above.
- **\`/\` with 10,000 runs, median:** at the target, either side of it from run to run: 53.6 ms
  at e5e5ed0; 35.8 and 37.2 ms by hand (\`npx tsx bench/main.ts dashboard\`) after a canary's
  runs became one read-only script call each, all in one pipeline; 50.6 ms in the
  \`make bench\` run of 2026-11-29 22:26 UTC. What is left is the page itself: 50 canaries' summaries parsed
  and checked (about 9 ms of API CPU) and rendered (about 5 ms), and Redis running 50 short
  scripts (12.8 ms of redis-server CPU per page), on two cores shared with the benchmark's
  own client.

### A small install under a burst (the footprint section)

Measured on 2026-12-07 between 12:18 and 12:47 UTC at the commits before a0d7887, five runs
of \`npx tsx bench/main.ts footprint\` in a loopback-only network namespace, and ad hoc A/B
runs, on this 2-core VM while other sessions' suites and a Kubernetes cluster kept it
21-163% busy (of 200%).

- **20 canaries x 2 s, no run saturated:** the answer time is met in every run (4.9-6.0 s
  against the peer's 2.4-3.7 s in the same runs); the saturation count follows the other
  processes' load, not k6-gate: 0-2 runs carried the warning when they used under about 45%
  of the machine, 5-20 above about 75%, where the warning is true (k6 waited for a core its
  neighbours held). A cold burst started 12 \`k6 inspect\` beside 12 \`k6 run\`: runs of one
  script started together now share one inspect (inspect-cache.ts), which took the cold
  burst from 9 saturated runs to 0 on a quiet machine. Tried and dropped: pacing k6 starts
  (100 ms of a core apart): six alternating bursts each way, 2/9/14/17/0/0 saturated paced
  against 1/13/2/5/0/0 unpaced, no difference under this noise.
- **All-in-one RSS holding 1,000 calls (<= 220 MB):** 217-252 MB over four runs. A heap
  snapshot while holding shows 53 MB live (12.6 MB of strings; about 1,000 each of
  sockets, requests, responses and Hono contexts, 3,000 AbortSignals); the rest of the peak
  is old-generation garbage from attaching and re-checking the held runs (each is read
  again every 3 s), not data per call and no longer the young generation: semi-space caps of
  8 and 4 MB measured 257 and 230 MB at more CPU (1870 and 2430 ms against 1440 ms at 16).
  The API alone holds them in 206-251 MB with the cap (273-315 MB without).
- **Overhead, gate - its own k6 (16.8 ms median, \`overhead --cpu-prof\`, 60 short calls):**
  POST -> decided 2.9 ms, decided -> started 3.0 ms, started -> \`k6 run\` spawned 12.0 ms
  (was 5.0 ms), verdict -> answer 4.8 ms. The phase that grew is the metric stream's FIFO
  (decision 37): \`mkfifo\` is a process started before every run, 5.2 ms median alone (p90
  9.9 ms, 40 calls); the worker's sampled time in that phase is child_process 2.9, GC 2.1,
  execa 1.2, zod 0.9, ioredis 0.7 ms. A FIFO made ahead and renamed into the run's directory
  would take it off the path, at the price of a spare FIFO in the runs' directory between runs (the
  isolation test asserts none is left); not done. One process instead of two changes
  nothing measurable (18.3 / 15.7 ms all-in-one against 16.8 / 23.4 ms split, two runs each).
`;
