{{/*
Checks across values that values.schema.json cannot express. Each failure names the value to change. Rendered
from configmap.yaml, so `helm template` and `helm install` stop before anything reaches the cluster.
*/}}
{{- define "kaf.validate" -}}
{{- $_ := required "config.cluster is required: the cluster name added to every event" .Values.config.cluster }}
{{- if not .Values.config.sinks }}
{{- fail "config.sinks: add at least one sink (see values.yaml and config/forwarder.example.yaml)" }}
{{- end }}

{{- $creds := .Values.credentials }}
{{- if and $creds.existingSecret $creds.create }}
{{- fail "credentials: set either existingSecret or create, not both" }}
{{- end }}
{{- if and (or $creds.env $creds.mount) (not (or $creds.existingSecret $creds.create)) }}
{{- fail "credentials.env and credentials.mount need a Secret: set credentials.existingSecret, or credentials.create with credentials.values" }}
{{- end }}
{{- if $creds.create }}
{{- range $var, $key := $creds.env }}
{{- if not (hasKey ($creds.values | default dict) $key) }}
{{- fail (printf "credentials.env.%s refers to key %q, which is not in credentials.values" $var $key) }}
{{- end }}
{{- end }}
{{- end }}

{{/* Every ${VAR} in the config must be set in the container, or the forwarder refuses to start. */}}
{{- if not .Values.envFrom }}
{{- $defined := list "NODE_NAME" }}
{{- range $var, $_ := $creds.env }}{{ $defined = append $defined $var }}{{ end }}
{{- range .Values.env }}{{ $defined = append $defined .name }}{{ end }}
{{- range $name := splitList "," (include "kaf.configEnvReferences" .) }}
{{- if and $name (not (has $name $defined)) }}
{{- fail (printf "config refers to ${%s}, which is not set in the container: add it to credentials.env (from the Secret) or to env" $name) }}
{{- end }}
{{- end }}
{{- end }}

{{/* SIGTERM must have time to drain in-flight batches and save the checkpoint before the kubelet's SIGKILL. */}}
{{- $shutdownMs := 10000 }}
{{- with .Values.config.delivery }}{{ with .shutdownTimeoutMs }}{{ $shutdownMs = int . }}{{ end }}{{ end }}
{{- $neededSeconds := add (div (add $shutdownMs 999) 1000) 5 }}
{{- if lt (int .Values.terminationGracePeriodSeconds) (int $neededSeconds) }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be at least %d: config.delivery.shutdownTimeoutMs (%d ms) plus 5 s to save the checkpoint" (int .Values.terminationGracePeriodSeconds) (int $neededSeconds) (int $shutdownMs)) }}
{{- end }}

{{/* The root filesystem is read-only: a file sink must write into a mounted, writable directory. */}}
{{- $writable := list (printf "%s/" (include "kaf.stateMountPath" .)) }}
{{- range .Values.extraVolumeMounts }}{{ if not .readOnly }}{{ $writable = append $writable (printf "%s/" (trimSuffix "/" .mountPath)) }}{{ end }}{{ end }}
{{- range $index, $sink := .Values.config.sinks }}
{{- if and (eq (toString $sink.type) "file") $sink.path }}
{{- $ok := false }}
{{- range $writable }}{{ if hasPrefix . (toString $sink.path) }}{{ $ok = true }}{{ end }}{{ end }}
{{- if not $ok }}
{{- fail (printf "config.sinks[%d].path %q is not writable in the pod (read-only root filesystem): put it under %s or under a writable extraVolumeMounts path" $index $sink.path (include "kaf.stateMountPath" $)) }}
{{- end }}
{{- end }}
{{- end }}

{{- if .Values.serviceMonitor.enabled }}
{{- if not .Values.service.enabled }}
{{- fail "serviceMonitor.enabled needs service.enabled" }}
{{- end }}
{{- if not (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor") }}
{{- fail "serviceMonitor.enabled, but the cluster has no monitoring.coreos.com/v1 ServiceMonitor CRD (Prometheus Operator). With helm template, pass --api-versions monitoring.coreos.com/v1/ServiceMonitor" }}
{{- end }}
{{- end }}

{{- if and .Values.dashboard.enabled (not (.Files.Get "dashboards/k8s-audit-forwarder.json")) }}
{{- fail "dashboard.enabled, but the chart has no dashboards/k8s-audit-forwarder.json" }}
{{- end }}
{{- end }}
