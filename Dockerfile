# syntax=docker/dockerfile:1
#
# k6-gate: one image for every process. The command picks the entry point:
#   docker run IMAGE api | worker | all | demo-target | demo-send
#
# Stages:
#   k6         the official k6 image, only to copy its static binary
#   node-base  the pinned Node LTS slim base shared by every stage below
#   build      npm ci + npm run build  -> dist/*.js (+ .map; esbuild, packages external)
#   prod-deps  npm ci --omit=dev       -> production node_modules only
#   runtime    node-base + util-linux (setpriv) + tini + CA certs + k6 + the two above
#
# Pins: each version lives in one file, and the default of the build arg below repeats it
# (bump both in one commit; a test fails when they differ):
#   grafana/k6:X.Y.Z  = .k6-version, the k6 that `make` builds into .tools/bin
#                     (test/unit/pins.test.ts). That tag is built from k6's Dockerfile
#                     `release` target: a CGO_ENABLED=0 static binary at /usr/bin/k6,
#                     linux/amd64 + arm64.
#   node:X.Y.Z-trixie-slim  Node 24 LTS on Debian 13 (trixie), with the npm that release
#                     bundles (the Makefile's NPM_VERSION puts the same npm in .tools/node).
#                     Same major.minor as .node-version, the Node that `make test`, `make demo`
#                     and `make bench` install and run on (test/runtime.test.ts).
#                     package.json engines: node >= 24.
#
# Build args for the two base images (defaults: the pins above), for a registry mirror or
# images built elsewhere; an image given here must be the same k6 / Node release:
#   K6_IMAGE    an image holding the static k6 at /usr/bin/k6
#   NODE_IMAGE  Node on Debian trixie slim, laid out as the official node image (Node and
#               npm in /usr/local, user `node` 1000:1000, apt-get working)
# e.g. buildah bud --build-arg K6_IMAGE=mirror.example/grafana/k6:2.2.0 \
#        --build-arg NODE_IMAGE=mirror.example/library/node:24.22.3-trixie-slim -t k6-gate .
# (make e2e builds this Dockerfile with both set to images it makes itself:
# scripts/e2e/build-image.sh.)
ARG K6_IMAGE=grafana/k6:2.2.0
ARG NODE_IMAGE=node:24.22.3-trixie-slim

FROM ${K6_IMAGE} AS k6

FROM ${NODE_IMAGE} AS node-base
# No update check, funding message or audit request from npm during the build (it still
# downloads packages from the registry).
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false

# ---------------------------------------------------------------------------
FROM node-base AS build
WORKDIR /src
# The whole context (trimmed by .dockerignore) goes in before `npm ci`: npm
# workspaces (apps/api, apps/worker, libs/shared, libs/testkit) must all be present for
# `npm ci` to match the lock file. The npm download cache is a BuildKit cache
# mount, so a rebuild after a source change does not download packages again.
COPY . .
RUN --mount=type=cache,target=/root/.npm \
    npm ci \
 && npm run build \
 && test -f dist/api.js && test -f dist/worker.js && test -f dist/all.js \
 && test -f dist/demo-target.js && test -f dist/demo-send.js && test -f dist/pod-run.js

# ---------------------------------------------------------------------------
FROM node-base AS prod-deps
WORKDIR /src
COPY . .
# Production dependencies only: the bundles keep npm packages external (the
# workspace package @k6-gate/shared is bundled in, see scripts/build.mjs).
# --ignore-scripts: no production dependency needs an install script (the one
# native add-on, msgpackr-extract, is optional and ships prebuilt binaries), and
# the slim image has no compiler for node-gyp anyway.
# /out gets exactly what the runtime image needs: package.json ("type":
# "module"), node_modules, the workspaces' package.json files (npm links them
# as node_modules/@k6-gate/* -> ../../apps/*, ../../libs/*, so no link dangles;
# their sources are in the bundles, and the test harness, libs/testkit, stays out)
# and any node_modules npm nested in a workspace.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --ignore-scripts \
 && mkdir -p /out \
 && cp -a package.json node_modules /out/ \
 && for d in apps/* libs/*; do \
      [ -f "$d/package.json" ] || continue; \
      mkdir -p "/out/$d"; \
      cp -a "$d/package.json" "/out/$d/"; \
      if [ -d "$d/node_modules" ]; then cp -a "$d/node_modules" "/out/$d/"; fi; \
    done

# ---------------------------------------------------------------------------
FROM node-base AS runtime

# util-linux: setpriv (the worker starts k6 under `setpriv --pdeathsig KILL`, so
#   no k6 outlives its worker); installed explicitly because it is not
#   guaranteed "Essential" in every Debian release.
# tini: PID 1 that forwards SIGTERM to node and reaps any orphan.
# ca-certificates: the node image purges it, and k6 (Go) needs the system CA
#   store for https targets and k6 Cloud.
# Versions are not pinned on purpose: Debian's archive drops superseded
# versions, so a pin breaks the build at the next security update (hadolint DL3008).
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends util-linux tini ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && command -v setpriv && command -v tini

COPY --from=k6 /usr/bin/k6 /usr/bin/k6

WORKDIR /app
# Application files stay owned by root and are not writable by the runtime
# user (uid 1000): a compromised process cannot rewrite the code it runs.
COPY --from=prod-deps --chown=root:root /out/ ./
COPY --from=build --chown=root:root /src/dist ./dist
# The k6 pin, read by GET /version and k6gate_build_info (the same version as the k6 above).
COPY --chown=root:root .k6-version ./
COPY --chown=root:root --chmod=0755 docker/entrypoint.sh /usr/local/bin/k6-gate
# k6 for k6-operator's runner pods, on their PATH only (the worker sets it in the TestRun).
COPY --chown=root:root --chmod=0755 docker/k6-operator/k6 /usr/local/lib/k6-gate/k6-operator/k6

# NODE_OPTIONS: source maps for stack traces; V8's young generation capped at 16 MB per
# semi-space (holding 1,000 long-polls grows it to 128 MB otherwise: docs/benchmarks.md,
# "Memory"). The test harness starts processes with the same flag (libs/testkit/src/k6gate.ts).
# K6_BIN: the k6 binary the worker runs. Runs are made under the temporary
# directory (TMPDIR, /tmp when unset): with a read-only root filesystem mount a
# writable emptyDir/tmpfs at /tmp, or set TMPDIR to another writable path.
ENV NODE_ENV=production \
    NODE_OPTIONS="--enable-source-maps --max-semi-space-size=16" \
    K6_BIN=/usr/bin/k6

# Smoke test at build time: the binaries the worker needs are there and run.
RUN k6 version && setpriv --version && node --version

# The commit this image is built from, for GET /version and k6gate_build_info (the release
# workflow passes it; a local build says "unknown"). Late, so a new commit does not rebuild
# the layers above. The version itself is package.json's, bundled into dist/.
ARG GIT_COMMIT=unknown
ENV GIT_COMMIT=${GIT_COMMIT}

# The `node` user of the base image (uid/gid 1000), numeric so that
# Kubernetes' runAsNonRoot can verify it.
USER 1000:1000

EXPOSE 8000

# No HEALTHCHECK: the same image runs api, worker and demo processes with
# different health semantics (the api on :8000, the worker only a metrics
# port that can be turned off, the demo-send one-shot). Health is declared
# where the role is known: docker-compose.yml healthchecks and the Kubernetes
# probes in k8s/base.
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/k6-gate"]
CMD ["api"]
