{{/* Names: <release>-omnidesk (or <release> when it already says omnidesk), 63 chars max. */}}
{{- define "omnidesk.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "omnidesk.selectorLabels" -}}
app.kubernetes.io/name: {{ .ctx.Chart.Name }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "omnidesk.labels" -}}
{{ include "omnidesk.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version }}
{{- end -}}

{{- define "omnidesk.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "omnidesk.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "omnidesk.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{- define "omnidesk.secretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-secrets" (include "omnidesk.fullname" .)) -}}
{{- end -}}

{{- define "omnidesk.dbSecretName" -}}
{{- .Values.postgresql.existingSecret | default (printf "%s-postgresql" (include "omnidesk.fullname" .)) -}}
{{- end -}}

{{/* Settings every process reads (Kafka, topics, PostgreSQL URL), as env entries. The
     password is read from its Secret first, so $(OMNIDESK_DB_PASSWORD) expands in the URLs. */}}
{{- define "omnidesk.coreEnv" -}}
- name: OMNIDESK_DB_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "omnidesk.dbSecretName" . }}
      key: {{ if .Values.postgresql.existingSecret }}{{ .Values.postgresql.existingSecretKey }}{{ else }}password{{ end }}
- name: ROUTER_DATABASE_URL
  value: {{ include "omnidesk.databaseUrl" . | quote }}
- name: NOTIFIER_SENTLOG_URL
  value: {{ include "omnidesk.databaseUrl" . | quote }}
- name: KAFKA_BOOTSTRAP_SERVERS
  value: {{ required "kafka.bootstrapServers is required (Kafka is external)" .Values.kafka.bootstrapServers | quote }}
- name: KAFKA_SECURITY_PROTOCOL
  value: {{ .Values.kafka.securityProtocol | quote }}
{{- with .Values.kafka.saslMechanism }}
- name: KAFKA_SASL_MECHANISM
  value: {{ . | quote }}
{{- end }}
{{- with .Values.kafka.saslUsername }}
- name: KAFKA_SASL_USERNAME
  value: {{ . | quote }}
{{- end }}
{{- if .Values.kafka.caSecret }}
- name: KAFKA_SSL_CAFILE
  value: /etc/omnidesk/kafka-ca/{{ .Values.kafka.caKey }}
{{- end }}
- name: KAFKA_TOPIC_PARTITIONS
  value: {{ .Values.kafka.topics.partitions | quote }}
- name: KAFKA_TOPIC_REPLICATION_FACTOR
  value: {{ .Values.kafka.topics.replicationFactor | quote }}
{{- with .Values.kafka.topics.minInsyncReplicas }}
- name: KAFKA_TOPIC_MIN_INSYNC_REPLICAS
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{- define "omnidesk.databaseUrl" -}}
{{- $pg := .Values.postgresql -}}
postgresql+asyncpg://{{ $pg.user }}:$(OMNIDESK_DB_PASSWORD)@{{ required "postgresql.host is required (PostgreSQL is external)" $pg.host }}:{{ $pg.port }}/{{ $pg.database }}
{{- end -}}

{{- define "omnidesk.kafkaCaVolume" -}}
- name: kafka-ca
  secret:
    secretName: {{ .Values.kafka.caSecret }}
{{- end -}}

{{- define "omnidesk.kafkaCaMount" -}}
- name: kafka-ca
  mountPath: /etc/omnidesk/kafka-ca
  readOnly: true
{{- end -}}

{{- define "omnidesk.probes" -}}
readinessProbe:
  httpGet: {path: /readyz, port: http}
  {{- toYaml .Values.probes.readiness | nindent 2 }}
livenessProbe:
  httpGet: {path: /healthz, port: http}
  {{- toYaml .Values.probes.liveness | nindent 2 }}
{{- end -}}

{{- define "omnidesk.podOptions" -}}
serviceAccountName: {{ include "omnidesk.serviceAccountName" . }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
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
{{- end -}}

{{/* `NAME: value` map to env entries. */}}
{{- define "omnidesk.envMap" -}}
{{- range $key, $value := . }}
- name: {{ $key }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

