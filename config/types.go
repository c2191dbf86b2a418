// Package config turns Pulumi stack config into one validated Config.
//
// Everything the program deploys is derived from a Config; nothing else reads
// stack config. Parse is pure (no Pulumi) so that every rule is testable
// offline; Load is the thin Pulumi adapter.
package config

import "strings"

// Pool names one of the Synapse worker pools a tier sizes. The names are the
// keys users write under `synapse:pools`.
type Pool string

// The pools sized by a tier. Stream writers are sized by `streamWriters`.
const (
	PoolGeneric          Pool = "generic"
	PoolSynchrotron      Pool = "synchrotron"
	PoolInitialSync      Pool = "initialSync"
	PoolMedia            Pool = "media"
	PoolEventPersister   Pool = "eventPersister"
	PoolFederationSender Pool = "federationSender"
	PoolPusher           Pool = "pusher"
	PoolBackground       Pool = "background"
	PoolStreamWriter     Pool = "streamWriter" // sizing of every stream writer pod
	PoolMain             Pool = "main"         // sizing of the main process (replicas fixed at 1)
)

// Pools lists every pool key in a stable order (used for docs and errors).
var Pools = []Pool{PoolMain, PoolGeneric, PoolSynchrotron, PoolInitialSync, PoolMedia, PoolEventPersister,
	PoolFederationSender, PoolPusher, PoolBackground, PoolStreamWriter}

// Config is the validated, defaulted configuration of one stack.
type Config struct {
	ServerName    string // the Matrix server name (the part after ':' in user IDs)
	PublicBaseURL string // where clients reach the homeserver, ends with '/'
	Namespace     string

	Image      string // Synapse image for every process but media workers
	MediaImage string // Synapse image for media workers (must ship synapse-s3-storage-provider when S3 is on)

	Tier  string
	Pools map[Pool]PoolSize // every pool of Pools, resolved from tier + overrides

	Federation    Federation
	StreamWriters map[string]int // stream name → writer instances (0 = main writes it)

	DatabasePool DatabasePool
	Postgres     Postgres
	Redis        Redis
	MinIO        MinIO
	MediaStorage Storage // local media store (the only store without MinIO; a cache in front of S3 with it)
	HAProxy      HAProxy
	Ingress      Ingress
	ElementWeb   ElementWeb
	MAS          MAS
	Admin        Admin
	RTC          RTC // Matrix RTC calls (config/rtc.go)
	Monitoring   Monitoring

	// MediaCache bounds each media worker's local store (S3 only);
	// MediaRetention is Synapse's media_retention.
	MediaCache     MediaCache
	MediaRetention MediaRetention
	Maintenance    Maintenance // scheduled jobs (state compression)

	// DataProtection protects the database and the media store from deletion
	// (Pulumi protect + retainOnDelete). On in prod.
	DataProtection bool
}

// PoolSize is the resolved sizing of one pool.
type PoolSize struct {
	Replicas  int        // instances at creation (the HPA floor when Autoscale is set)
	Autoscale *Autoscale // nil: a fixed replica count
	Resources Resources
}

// MaxReplicas is the most instances the pool can ever run: what Postgres
// connections and per-ordinal HAProxy servers are sized for.
func (p PoolSize) MaxReplicas() int {
	if p.Autoscale != nil && p.Autoscale.Max > p.Replicas {
		return p.Autoscale.Max
	}
	return p.Replicas
}

// Autoscale is an autoscaling/v2 HPA range and its utilisation targets.
type Autoscale struct {
	Min, Max                  int
	CPUPercent, MemoryPercent int
}

// Resources are Kubernetes requests and limits, as quantity strings.
type Resources struct {
	Requests ResourceList
	Limits   ResourceList
}

// ResourceList is a CPU and memory pair of Kubernetes quantities.
type ResourceList struct {
	CPU    string
	Memory string
}

// Federation says whether the server talks to other Matrix servers.
type Federation struct {
	Enabled bool
	// Senders is the number of federation sender workers (0 = main sends).
	Senders int
}

// DatabasePool is Synapse's per-process database connection pool.
type DatabasePool struct{ Min, Max int }

// CNPGOperatorNamespace is where the CloudNativePG operator runs (when the
// program installs it). The stack's own namespace may not be this one: the
// operator's objects and ours would share one NetworkPolicy and RBAC scope.
const CNPGOperatorNamespace = "cnpg-system"

// CNPGOperatorChartName is the operator's chart in its Helm repository.
const CNPGOperatorChartName = "cloudnative-pg"

// Postgres configures the CloudNativePG cluster.
type Postgres struct {
	Instances       int
	Storage         Storage
	InstallOperator bool
	// OperatorChart is where the operator's Helm chart comes from: a Helm
	// repository URL (http or https; the chart is cloudnative-pg in it), an
	// oci:// reference to the chart, or a local path to a chart directory
	// or .tgz (absolute, or relative to the project directory), for
	// air-gapped installs. See OperatorChartSource.
	OperatorChart string
	// OperatorChartVersion is the chart version (X.Y.Z) for a repository or
	// oci:// source. A local chart is the version it is: this is ignored.
	OperatorChartVersion string
	Image                string // PostgreSQL operand image
	// Resources of each Postgres instance (tier default; memory request
	// equals the limit, so that the kernel never reclaims shared_buffers
	// from a Burstable pod). The memory limit also bounds max_connections:
	// see ConnectionBudget.
	Resources Resources
	Backup    Backup
	// Restore, when set, bootstraps a new Cluster from Backup's object
	// store instead of an empty database (nil: initdb).
	Restore *Restore
}

// Backup is continuous WAL archiving plus scheduled base backups to an S3
// object store through CloudNativePG's Barman Cloud plugin.
type Backup struct {
	Enabled bool
	// Schedule is the ScheduledBackup's six-field cron (seconds first).
	Schedule string
	// Retention is the ObjectStore's retentionPolicy: base backups and WAL
	// older than the most recent backup before it are deleted ("30d").
	Retention string
	// ServerName is this Cluster's folder in the object store. A restored
	// Cluster must archive under a new name (CNPG refuses a non-empty one).
	ServerName string
	// Bucket on the stack's MinIO (Endpoint "") or on Endpoint.
	Bucket string
	// Endpoint is an external S3 endpoint (https URL); "" = the stack's
	// MinIO. Credentials: the stack secrets BackupS3AccessKeyIDKey and
	// BackupS3SecretAccessKeyKey.
	Endpoint string
	// Path is an optional prefix inside the bucket (several stacks, one
	// bucket).
	Path string
	// Region of an external bucket ("" = the endpoint's default).
	Region string
	// InstallPlugin installs the Barman Cloud plugin next to the operator
	// from PluginManifest (a release manifest URL or a local path).
	InstallPlugin  bool
	PluginManifest string
}

// OnMinIO reports whether backups go to the stack's own MinIO.
func (b Backup) OnMinIO() bool { return b.Enabled && b.Endpoint == "" }

// Restore is a recovery bootstrap from a backup in the object store.
type Restore struct {
	// FromServerName is the folder of the Cluster whose backups are
	// restored (its postgres.backup.serverName).
	FromServerName string
	// TargetTime is an optional point in time (RFC 3339); "" = the end
	// of the archived WAL.
	TargetTime string
}

// OperatorChartSource resolves OperatorChart for a Helm chart resource: for
// a repository URL, chart is "cloudnative-pg" and repo the URL; for an
// oci:// reference or a local path, chart is the reference and repo "".
func (p Postgres) OperatorChartSource() (chart, repo string) {
	if isHTTPURL(p.OperatorChart) {
		return CNPGOperatorChartName, p.OperatorChart
	}
	return p.OperatorChart, ""
}

// OperatorChartIsLocal reports whether OperatorChart is a local path (whose
// version is whatever the chart says: OperatorChartVersion is ignored).
func (p Postgres) OperatorChartIsLocal() bool {
	return !isHTTPURL(p.OperatorChart) && !strings.HasPrefix(p.OperatorChart, ociScheme)
}

const ociScheme = "oci://"

func isHTTPURL(s string) bool {
	return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")
}

// Storage is a PVC size and optional storage class ("" = the cluster default).
type Storage struct {
	Size         string
	StorageClass string
}

// Redis configures the replication pub/sub Redis.
type Redis struct{ Image string }

// MinIO configures the S3 media store.
type MinIO struct {
	Enabled     bool
	Replicas    int
	Storage     Storage
	Bucket      string
	Image       string
	ClientImage string // mc, for the bucket-creating Job
}

// HAProxy configures the router in front of Synapse.
type HAProxy struct {
	Replicas int
	Image    string
}

// Ingress configures the Ingress in front of HAProxy.
type Ingress struct {
	Enabled       bool
	ClassName     string
	Host          string
	TLSSecretName string // "" = plain HTTP (dev)
	Annotations   map[string]string
}

// Monitoring configures ServiceMonitors and who may scrape metrics.
type Monitoring struct {
	Enabled   bool
	Namespace string // namespace of Prometheus, allowed to reach metrics ports
}

// ElementWeb configures the Element Web client: its own Deployment,
// Service and (with ingress.enabled) Ingress on its own host, not
// through HAProxy.
type ElementWeb struct {
	Enabled       bool
	Host          string // DNS name of its Ingress (default "element." + serverName)
	Image         string
	Replicas      int
	TLSSecretName string // "" = plain HTTP; its own Secret, as Host is not ingress.host
}
