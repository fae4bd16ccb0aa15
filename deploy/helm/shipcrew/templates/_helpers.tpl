{{- define "shipcrew.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "shipcrew.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "shipcrew.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "shipcrew.secretName" -}}
{{- default (include "shipcrew.fullname" .) .Values.existingSecret }}
{{- end }}

{{- define "shipcrew.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "shipcrew.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "shipcrew.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The environment both processes share: credentials from the Secret, Redis as a URL. */}}
{{- define "shipcrew.env" -}}
- name: APP_ID
  valueFrom: {secretKeyRef: {name: {{ include "shipcrew.secretName" . }}, key: APP_ID}}
- name: APP_SLUG
  valueFrom: {secretKeyRef: {name: {{ include "shipcrew.secretName" . }}, key: APP_SLUG}}
- name: WEBHOOK_SECRET
  valueFrom: {secretKeyRef: {name: {{ include "shipcrew.secretName" . }}, key: WEBHOOK_SECRET}}
- name: PRIVATE_KEY
  valueFrom: {secretKeyRef: {name: {{ include "shipcrew.secretName" . }}, key: PRIVATE_KEY}}
- name: STATUS_TOKEN
  valueFrom: {secretKeyRef: {name: {{ include "shipcrew.secretName" . }}, key: STATUS_TOKEN, optional: true}}
- name: OPENAI_API_KEY
  valueFrom: {secretKeyRef: {name: {{ include "shipcrew.secretName" . }}, key: OPENAI_API_KEY, optional: true}}
- name: GITHUB_API_URL
  value: {{ .Values.githubApiUrl | quote }}
- name: LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: STATE_DIR
  value: /tmp/shipcrew
- name: REDIS_ADDRESS
  value: {{ printf "%s:%d" .Values.redis.host (int .Values.redis.port) | quote }}
{{- if .Values.redis.existingSecret }}
- name: REDIS_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ .Values.redis.existingSecret }}, key: {{ .Values.redis.passwordKey }}}}
- name: REDIS_URL
  value: {{ printf "%s://:$(REDIS_PASSWORD)@$(REDIS_ADDRESS)/%d" (ternary "rediss" "redis" .Values.redis.tls) (int .Values.redis.database) | quote }}
{{- else }}
- name: REDIS_URL
  value: {{ printf "%s://$(REDIS_ADDRESS)/%d" (ternary "rediss" "redis" .Values.redis.tls) (int .Values.redis.database) | quote }}
{{- end }}
{{- end }}

{{- define "shipcrew.pod" -}}
serviceAccountName: {{ include "shipcrew.serviceAccountName" . }}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  # The root filesystem is read-only; /tmp is the one writable place.
  - name: tmp
    emptyDir:
      sizeLimit: 256Mi
{{- end }}
