#!/bin/sh
# k6-gate container entry point: one image, the first argument picks the process.
#
#   api          the Hono API (webhook, dashboard, /metrics)      dist/api.js
#   worker       a BullMQ worker that runs k6                     dist/worker.js
#   all          the API and a worker in one process (small       dist/all.js
#                installs: one container, one Node runtime)
#   pod-run      one run's k6 in a runner pod (K6_RUNNER=job: the   dist/pod-run.js
#                worker's Jobs start it; it reads /run/k6-gate)
#   demo-target  the demo HTTP target (/ok healthy, /flaky: one   dist/demo-target.js
#                request in five is a slow 500)
#   demo-send    sends the two demo canaries to the api, prints   dist/demo-send.js
#                their verdicts, exits 0 when both are as expected
#
# Anything else is run as given (e.g. `sh`, `k6 version`) for debugging.
# `exec` replaces this shell, so node receives SIGTERM directly from tini (PID 1).
set -eu

APP_DIR=${APP_DIR:-/app}

cmd=${1:-api}
[ "$#" -gt 0 ] && shift

case "$cmd" in
  api | worker | all | pod-run | demo-target | demo-send)
    exec node "$APP_DIR/dist/$cmd.js" "$@"
    ;;
  -h | --help | help)
    echo "usage: k6-gate api | worker | all | pod-run | demo-target | demo-send [args...]"
    echo "       k6-gate <any command> [args...]"
    exit 0
    ;;
  *)
    exec "$cmd" "$@"
    ;;
esac
