{{/* Chart name, overridable. */}}
{{- define "k6-gate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Object name prefix: the release name, followed by the chart name unless it contains it
(release "k6-gate" gives "k6-gate", "k6-gate-api", ... as in k8s/base).
*/}}
{{- define "k6-gate.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "k6-gate.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "k6-gate.labels" -}}
helm.sh/chart: {{ include "k6-gate.chart" . }}
app.kubernetes.io/name: {{ include "k6-gate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: k6-gate
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of one component (api, worker, redis): immutable, so never the version. */}}
{{- define "k6-gate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "k6-gate.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Labels of one component's objects and pods. */}}
{{- define "k6-gate.componentLabels" -}}
{{ include "k6-gate.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* The k6-gate image: by digest when one is set, else by tag (default: appVersion). */}}
{{- define "k6-gate.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "k6-gate.apiServiceAccountName" -}}
{{- default (printf "%s-api" (include "k6-gate.fullname" .)) .Values.api.serviceAccount.name }}
{{- end }}

{{- define "k6-gate.workerServiceAccountName" -}}
{{- default (printf "%s-worker" (include "k6-gate.fullname" .)) .Values.worker.serviceAccount.name }}
{{- end }}

{{/* Redis URL without the password (that comes from the Secret as REDIS_PASSWORD). */}}
{{- define "k6-gate.redisUrl" -}}
{{- if .Values.redis.enabled }}
{{- printf "redis://%s-redis:6379" (include "k6-gate.fullname" .) }}
{{- else }}
{{- required "redis.url is required when redis.enabled is false (an external Redis)" .Values.redis.url }}
{{- end }}
{{- end }}

{{/* The Secret holding REDIS_PASSWORD: the user's, or the one this chart generates. */}}
{{- define "k6-gate.redisSecretName" -}}
{{- if .Values.redis.auth.existingSecret }}
{{- .Values.redis.auth.existingSecret }}
{{- else if .Values.redis.enabled }}
{{- printf "%s-redis" (include "k6-gate.fullname" .) }}
{{- else }}
{{- fail "redis.auth.existingSecret is required with an external Redis: k6-gate never runs against a Redis without a password (SECURITY.md)" }}
{{- end }}
{{- end }}

{{- define "k6-gate.publicUrl" -}}
{{- default (printf "http://%s.%s:%d" (include "k6-gate.fullname" .) .Release.Namespace (int .Values.api.port)) .Values.publicUrl }}
{{- end }}

{{/*
allowedNamespaces, checked where Go's regexp can: the API compiles it as a JavaScript
regex, which Go's reads alike but for lookarounds, backreferences and \u/\c escapes
(those are left to the API, which refuses a bad one at start), and Go's flags for the
rest of the pattern (`(?i)`), which JavaScript has not (it has `(?i:...)`, as Go has).
*/}}
{{- define "k6-gate.allowedNamespaces" -}}
{{- $pattern := .Values.allowedNamespaces }}
{{- if regexMatch `\(\?[imsU]+\)` $pattern }}
{{- fail (printf "allowedNamespaces: %q sets flags with (?i), which the API's JavaScript regexes do not take: write (?i:...)" $pattern) }}
{{- end }}
{{- if and $pattern (not (regexMatch `\(\?[=!<]|\\[1-9uc]` $pattern)) }}
{{- $_ := mustRegexMatch (printf "^(?:%s)$" $pattern) "" }}
{{- end }}
{{- $pattern }}
{{- end }}

{{/* secretNamespaces entries as {namespace, secretNames}, checked. */}}
{{- define "k6-gate.secretNamespaces" -}}
{{- $out := list }}
{{- range .Values.secretNamespaces }}
{{- $entry := kindIs "string" . | ternary (dict "namespace" . "secretNames" list) . }}
{{- if eq $entry.namespace $.Release.Namespace }}
{{- fail (printf "secretNamespaces: not %s, the release's own namespace: scripts run as the worker and could read k6-gate's own tokens there" $.Release.Namespace) }}
{{- end }}
{{- $out = append $out (dict "namespace" $entry.namespace "secretNames" (default list $entry.secretNames)) }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/*
SECRET_NAMESPACES: exactly the namespaces granted above; with none, any namespace but the
release's own (RBAC managed elsewhere decides).
*/}}
{{- define "k6-gate.secretNamespacesPattern" -}}
{{- $names := list }}
{{- range (include "k6-gate.secretNamespaces" . | fromJsonArray) }}
{{- $names = append $names .namespace }}
{{- end }}
{{- if $names }}
{{- join "|" $names }}
{{- else }}
{{- printf "(?!%s$).+" .Release.Namespace }}
{{- end }}
{{- end }}

{{/* Env entries reading REDIS_PASSWORD from its Secret (the api, the workers, Redis itself). */}}
{{- define "k6-gate.redisPasswordEnv" -}}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "k6-gate.redisSecretName" . }}
      key: {{ .Values.redis.auth.passwordKey }}
{{- end }}

{{/* Env entries of what runs k6 (the workers, the all-in-one pod) from Secrets, never passed to k6 scripts. */}}
{{- define "k6-gate.workerSecretEnv" -}}
{{- with .Values.slack.existingSecret }}
- name: SLACK_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.slack.tokenKey }}
{{- end }}
{{- with .Values.k6Cloud.existingSecret }}
- name: K6_CLOUD_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.k6Cloud.tokenKey }}
- name: K6_CLOUD_STACK_ID
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.k6Cloud.stackIdKey }}
{{- end }}
{{- end }}

{{/* Seconds a pod that runs k6 needs to stop: SHUTDOWN_GRACE (running k6 may finish) + 10s (the worker's fixed k6 SIGTERM -> SIGKILL) + 20s (write the summary, hand the job back, close Redis). */}}
{{- define "k6-gate.workerTerminationGrace" -}}
{{- add .Values.worker.shutdownGraceSeconds 30 }}
{{- end }}

{{/* Pod spreading over nodes. */}}
{{- define "k6-gate.spread" -}}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "k6-gate.selectorLabels" . | nindent 8 }}
{{- end }}

{{/* Checks across values that the schema cannot express. */}}
{{- define "k6-gate.validate" -}}
{{- if and .Values.keda.enabled .Values.worker.autoscaling.enabled }}
{{- fail "keda.enabled and worker.autoscaling.enabled are both on: one autoscaler per Deployment (KEDA drives the workers through an HPA of its own; two would fight over the replica count)" }}
{{- end }}
{{- if and .Values.keda.enabled (not .Values.redis.enabled) (not (regexMatch "^rediss?://" .Values.redis.url)) }}
{{- fail "keda.enabled with an external Redis needs redis.url as redis://host:port or rediss://host:port" }}
{{- end }}
{{- if eq .Values.mode "all-in-one" }}
{{- range $on, $what := dict "keda.enabled" .Values.keda.enabled "worker.autoscaling.enabled" .Values.worker.autoscaling.enabled "api.pdb.enabled" .Values.api.pdb.enabled "worker.pdb.enabled" .Values.worker.pdb.enabled "metrics.podMonitor.enabled" .Values.metrics.podMonitor.enabled }}
{{- if $what }}
{{- fail (printf "mode: all-in-one runs one pod with the API and a worker: %s needs mode: split (worker Deployments to scale, drain or scrape)" $on) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* Namespace of the runner Jobs (runner.kind job): runner.job.namespace, else the release's. */}}
{{- define "k6-gate.runnerNamespace" -}}
{{- .Values.runner.job.namespace | default .Release.Namespace -}}
{{- end }}
