{{/* Selector labels: pick the controller's pods; stable across upgrades. */}}
{{- define "egret.selectorLabels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/name: egret
{{- end }}

{{/*
Labels on every object. Never app.kubernetes.io/managed-by: egret, the label the controller
garbage-collects by in the clusters it applies to.
*/}}
{{- define "egret.labels" -}}
app.kubernetes.io/component: controller
{{ include "egret.selectorLabels" . }}
app.kubernetes.io/part-of: egret
{{- end }}

{{- define "egret.image" -}}
{{ .Values.image.hub }}/egret:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}
