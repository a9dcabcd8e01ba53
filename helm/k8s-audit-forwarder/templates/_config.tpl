{{/*
The forwarder's config (forwarder.yaml): the user's `config` values plus the keys that follow from the pod layout,
which values.schema.json does not let users set (node, source.path, state.dir, status.listen).
Empty sections are left out so that the forwarder's own defaults apply.
*/}}
{{- define "kaf.config" -}}
{{- $values := deepCopy .Values.config }}
{{- $config := dict "cluster" $values.cluster "node" "${NODE_NAME}" }}
{{- with $values.logLevel }}{{ $_ := set $config "logLevel" . }}{{ end }}
{{- $source := $values.source | default dict }}
{{- $_ := set $source "path" (printf "%s/%s" (include "kaf.auditMountPath" .) .Values.audit.fileName) }}
{{- $_ := set $config "source" $source }}
{{- $_ := set $config "state" (dict "dir" (include "kaf.stateMountPath" .)) }}
{{- with $values.checkpoint }}{{ $_ := set $config "checkpoint" . }}{{ end }}
{{- $_ := set $config "status" (dict "listen" (printf "0.0.0.0:%d" (int .Values.statusPort))) }}
{{- with $values.batch }}{{ $_ := set $config "batch" . }}{{ end }}
{{- with $values.delivery }}{{ $_ := set $config "delivery" . }}{{ end }}
{{- $_ := set $config "sinks" ($values.sinks | default list) }}
{{- toYaml $config }}
{{- end }}

{{/* The names of the ${VAR} references in the config ("$$" is a literal "$", not a reference). */}}
{{- define "kaf.configEnvReferences" -}}
{{- $text := include "kaf.config" . | replace "$$" "" }}
{{- $names := list }}
{{- range regexFindAll "\\$\\{[A-Za-z_][A-Za-z0-9_]*\\}" $text -1 }}
{{- $names = append $names (trimPrefix "${" . | trimSuffix "}") }}
{{- end }}
{{- $names | uniq | sortAlpha | join "," }}
{{- end }}
