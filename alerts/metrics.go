package alerts

// Exporters of the metrics the rules and the dashboard read.
const (
	ExporterPrometheus = "Prometheus (scrape)"
	ExporterSynapse    = "Synapse"
	ExporterHAProxy    = "HAProxy (built-in exporter)"
	ExporterCNPG       = "CloudNativePG instance"
	ExporterBarman     = "Barman Cloud plugin (via the CNPG instance)"
	ExporterKubelet    = "kubelet"
)

// Metric is one metric the rules or the dashboard read, with who emits it
// and where that is written down. Names are the exposed names: Synapse's
// counters gain "_total" (prometheus_client adds it), histograms are read
// through "_bucket".
type Metric struct {
	Name     string
	Exporter string
	Source   string // a URL to the emitting code or its documentation
}

// Metric names the rules and the panels are written with; each must be in
// Metrics.
const (
	mUp = "up"

	mProcessCPU    = "process_cpu_seconds_total"
	mProcessMemory = "process_resident_memory_bytes"

	mEventsPersisted      = "synapse_storage_events_persisted_events_total"
	mEventPersistedPos    = "synapse_event_persisted_position"
	mEventProcessingPos   = "synapse_event_processing_positions"
	mEventProcessingLag   = "synapse_event_processing_lag"
	mStreamUpdates        = "synapse_replication_tcp_resource_stream_updates_total"
	mReplicationQueue     = "synapse_replication_tcp_command_queue"
	mReplicationConns     = "synapse_replication_tcp_resource_total_connections"
	mHTTPResponseTime     = "synapse_http_server_response_time_seconds_bucket"
	mFederationSentTxns   = "synapse_federation_client_sent_transactions_total"
	mHAProxyRequests      = "haproxy_backend_http_requests_total"
	mHAProxyResponses     = "haproxy_backend_http_responses_total"
	mHAProxyActive        = "haproxy_backend_active_servers"
	mHAProxyResponseTime  = "haproxy_backend_response_time_average_seconds"
	mHAProxyQueue         = "haproxy_backend_current_queue"
	mCNPGUp               = "cnpg_collector_up"
	mCNPGBackends         = "cnpg_backends_total"
	mCNPGSettings         = "cnpg_pg_settings_setting"
	mCNPGReplicationLag   = "cnpg_pg_replication_lag"
	mCNPGStreaming        = "cnpg_pg_replication_streaming_replicas"
	mCNPGInRecovery       = "cnpg_pg_replication_in_recovery"
	mCNPGArchivedTime     = "cnpg_pg_stat_archiver_last_archived_time"
	mCNPGArchiveFailTime  = "cnpg_pg_stat_archiver_last_failed_time"
	mBarmanLastBackup     = "barman_cloud_cloudnative_pg_io_last_available_backup_timestamp"
	mBarmanLastFailed     = "barman_cloud_cloudnative_pg_io_last_failed_backup_timestamp"
	mBarmanRecoverability = "barman_cloud_cloudnative_pg_io_first_recoverability_point"
	mVolumeAvailable      = "kubelet_volume_stats_available_bytes"
	mVolumeCapacity       = "kubelet_volume_stats_capacity_bytes"
)

// Sources, pinned to the versions this program deploys (Synapse v1.157.0,
// CNPG 1.27.1 from chart 0.26.1, plugin-barman-cloud v0.15.0, Kubernetes
// v1.36.3 as in hack/kubeapi).
const (
	srcSynapse     = "https://github.com/element-hq/synapse/blob/v1.157.0/"
	srcCNPGQueries = "https://github.com/cloudnative-pg/cloudnative-pg/blob/v1.27.1/config/manager/default-monitoring.yaml"
	srcCNPGColl    = "https://github.com/cloudnative-pg/cloudnative-pg/blob/v1.27.1/pkg/management/postgres/webserver/metricserver/pg_collector.go"
	srcBarman      = "https://github.com/cloudnative-pg/plugin-barman-cloud/blob/v0.15.0/internal/cnpgi/instance/metrics.go"
	srcHAProxy     = "https://github.com/haproxy/haproxy/blob/v3.2.0/addons/promex/README"
	srcKubelet     = "https://github.com/kubernetes/kubernetes/blob/v1.36.3/pkg/kubelet/metrics/collectors/volume_stats.go"
)

// Metrics is every metric the rules and the dashboard may read: the
// documented-metrics table the tests hold every expression to (a name not
// here fails them), and the table in README.md. Names are written out, not
// taken from the constants above, so that renaming a metric in a rule
// fails the tests until this table (checked against its source) agrees.
var Metrics = []Metric{
	{"up", ExporterPrometheus, "https://prometheus.io/docs/concepts/jobs_instances/#automatically-generated-labels-and-time-series"},

	// Synapse serves prometheus_client's default registry
	// (synapse/metrics/__init__.py), which holds the process collector.
	{"process_cpu_seconds_total", ExporterSynapse, "https://prometheus.github.io/client_python/collector/"},
	{"process_resident_memory_bytes", ExporterSynapse, "https://prometheus.github.io/client_python/collector/"},
	{"synapse_storage_events_persisted_events_total", ExporterSynapse, srcSynapse + "synapse/storage/databases/main/events.py"},
	{"synapse_event_persisted_position", ExporterSynapse, srcSynapse + "synapse/metrics/__init__.py"},
	{"synapse_event_processing_positions", ExporterSynapse, srcSynapse + "synapse/metrics/__init__.py"},
	{"synapse_event_processing_lag", ExporterSynapse, srcSynapse + "synapse/metrics/__init__.py"},
	{"synapse_replication_tcp_resource_stream_updates_total", ExporterSynapse, srcSynapse + "synapse/replication/tcp/resource.py"},
	{"synapse_replication_tcp_command_queue", ExporterSynapse, srcSynapse + "synapse/replication/tcp/handler.py"},
	{"synapse_replication_tcp_resource_total_connections", ExporterSynapse, srcSynapse + "synapse/replication/tcp/handler.py"},
	{"synapse_http_server_response_time_seconds_bucket", ExporterSynapse, srcSynapse + "synapse/http/request_metrics.py"},
	{"synapse_federation_client_sent_transactions_total", ExporterSynapse, srcSynapse + "synapse/metrics/__init__.py"},

	{"haproxy_backend_http_requests_total", ExporterHAProxy, srcHAProxy},
	{"haproxy_backend_http_responses_total", ExporterHAProxy, srcHAProxy},
	{"haproxy_backend_active_servers", ExporterHAProxy, srcHAProxy},
	{"haproxy_backend_response_time_average_seconds", ExporterHAProxy, srcHAProxy},
	{"haproxy_backend_current_queue", ExporterHAProxy, srcHAProxy},

	{"cnpg_collector_up", ExporterCNPG, srcCNPGColl},
	{"cnpg_backends_total", ExporterCNPG, srcCNPGQueries},
	{"cnpg_pg_settings_setting", ExporterCNPG, srcCNPGQueries},
	{"cnpg_pg_replication_lag", ExporterCNPG, srcCNPGQueries},
	{"cnpg_pg_replication_streaming_replicas", ExporterCNPG, srcCNPGQueries},
	{"cnpg_pg_replication_in_recovery", ExporterCNPG, srcCNPGQueries},
	{"cnpg_pg_stat_archiver_last_archived_time", ExporterCNPG, srcCNPGQueries},
	{"cnpg_pg_stat_archiver_last_failed_time", ExporterCNPG, srcCNPGQueries},

	// The plugin's metrics replace cnpg_collector_last_*_backup_timestamp,
	// which CNPG 1.26+ no longer updates for plugin-based backups.
	{"barman_cloud_cloudnative_pg_io_last_available_backup_timestamp", ExporterBarman, srcBarman},
	{"barman_cloud_cloudnative_pg_io_last_failed_backup_timestamp", ExporterBarman, srcBarman},
	{"barman_cloud_cloudnative_pg_io_first_recoverability_point", ExporterBarman, srcBarman},

	{"kubelet_volume_stats_available_bytes", ExporterKubelet, srcKubelet},
	{"kubelet_volume_stats_capacity_bytes", ExporterKubelet, srcKubelet},
}

// KnownMetric returns the table entry of a metric name.
func KnownMetric(name string) (Metric, bool) {
	for _, m := range Metrics {
		if m.Name == name {
			return m, true
		}
	}
	return Metric{}, false
}
