{{/* Names, labels and the paths shared by the templates. */}}

{{- define "kaf.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* <release>-<chart>, or <release> alone when it already contains the chart name; at most 63 characters. */}}
{{- define "kaf.fullname" -}}
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

{{- define "kaf.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Immutable in a DaemonSet's selector: never add version labels here. */}}
{{- define "kaf.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kaf.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The helm test pod's labels: they must not match selectorLabels. */}}
{{- define "kaf.testSelectorLabels" -}}
app.kubernetes.io/name: {{ include "kaf.name" . | trunc 58 | trimSuffix "-" }}-test
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: test
{{- end }}

{{- define "kaf.labels" -}}
helm.sh/chart: {{ include "kaf.chart" . }}
{{ include "kaf.selectorLabels" . }}
app.kubernetes.io/version: {{ include "kaf.imageTag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: k8s-audit-forwarder
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "kaf.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "kaf.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "kaf.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{/* repository:tag, or repository@digest when a digest is set. */}}
{{- define "kaf.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (include "kaf.imageTag" .) }}
{{- end }}
{{- end }}

{{- define "kaf.secretName" -}}
{{- if .Values.credentials.existingSecret }}
{{- .Values.credentials.existingSecret }}
{{- else }}
{{- include "kaf.fullname" . }}
{{- end }}
{{- end }}

{{/* Paths inside the container. */}}
{{- define "kaf.auditMountPath" -}}/host/audit{{- end }}
{{- define "kaf.stateMountPath" -}}/var/lib/k8s-audit-forwarder{{- end }}
{{- define "kaf.configMountPath" -}}/etc/k8s-audit-forwarder/config{{- end }}
{{- define "kaf.credentialsMountPath" -}}/etc/k8s-audit-forwarder/credentials{{- end }}

{{/* The release's own state directory on the host: two releases never share a checkpoint. */}}
{{- define "kaf.stateHostPath" -}}
{{- printf "%s/%s-%s" (trimSuffix "/" .Values.checkpoint.hostPathRoot) .Release.Namespace (include "kaf.fullname" .) }}
{{- end }}

{{/* The memory limit in MiB when it is written in Mi or Gi (or plain bytes); 0 when unset or in another unit. */}}
{{- define "kaf.memoryLimitMiB" -}}
{{- $limit := "" }}
{{- with .Values.resources }}{{ with .limits }}{{ with .memory }}{{ $limit = toString . }}{{ end }}{{ end }}{{ end }}
{{- if regexMatch "^[0-9]+Mi$" $limit }}
{{- trimSuffix "Mi" $limit }}
{{- else if regexMatch "^[0-9]+Gi$" $limit }}
{{- mul (trimSuffix "Gi" $limit | atoi) 1024 }}
{{- else if regexMatch "^[0-9]+$" $limit }}
{{- div ($limit | atoi) 1048576 }}
{{- else }}
{{- 0 }}
{{- end }}
{{- end }}

{{/* "true" when kaf.nodeOptions caps the heap: the chart's own flags, and a memory limit to cap it at. */}}
{{- define "kaf.capsHeap" -}}
{{- if and (not .Values.nodeOptions) (gt (include "kaf.memoryLimitMiB" . | atoi) 0) }}true{{ end }}
{{- end }}

{{- define "kaf.nodeOptions" -}}
{{- if .Values.nodeOptions }}
{{- .Values.nodeOptions }}
{{- else }}
{{- /* The image's flags (see the Dockerfile and the README's memory notes) and a heap cap. */}}
{{- $limitMiB := include "kaf.memoryLimitMiB" . | atoi }}
{{- if include "kaf.capsHeap" . }}
{{- printf "--max-semi-space-size=2 --v8-pool-size=1 --max-old-space-size=%d" (div (mul $limitMiB 3) 4) }}
{{- else }}
{{- "--max-semi-space-size=2 --v8-pool-size=1" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Estimated peak memory in MiB: ~100 MiB for Node and the libraries, plus per sink about three times the bytes a
lane may hold ((maxInFlightBatches + 1) x batch.maxBytes, capped by maxBufferedBytes + batch.maxBytes): parsed
events and the encoded request both live on the heap. Forwarder defaults are used for unset keys.
*/}}
{{- define "kaf.memoryEstimateMiB" -}}
{{- $batch := .Values.config.batch | default dict }}
{{- $delivery := .Values.config.delivery | default dict }}
{{- $maxBytes := $batch.maxBytes | default 5242880 | int64 }}
{{- $inFlight := $delivery.maxInFlightBatches | default 2 | int64 }}
{{- $buffered := $delivery.maxBufferedBytes | default 33554432 | int64 }}
{{- $perLane := mul (add $inFlight 1) $maxBytes }}
{{- $cap := add $buffered $maxBytes }}
{{- if gt $perLane $cap }}{{ $perLane = $cap }}{{ end }}
{{- $sinks := len (.Values.config.sinks | default list) | int64 }}
{{- /* Encoder threads: ~25 MiB each; auto starts at most 2. */}}
{{- $workers := 2 }}
{{- if kindIs "float64" $delivery.encodeWorkers }}{{ $workers = int64 $delivery.encodeWorkers }}{{ end }}
{{- if kindIs "int64" $delivery.encodeWorkers }}{{ $workers = $delivery.encodeWorkers }}{{ end }}
{{- add 100 (mul 25 $workers) (div (mul 3 $perLane $sinks) 1048576) }}
{{- end }}
