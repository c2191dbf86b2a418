package plan

import "fmt"

// Service is a named in-cluster service of the data plane or the router:
// its Kubernetes name and port, read by the component that creates it and
// by everything that connects to it.
type Service struct {
	Name      string
	PortName  string
	Port      int
	Namespace string
}

// Host is the Service's cluster DNS name.
func (s Service) Host() string {
	return fmt.Sprintf("%s.%s.svc.cluster.local", s.Name, s.Namespace)
}

// Data plane and router names. The CNPG operator names the read-write
// Service of a Cluster "<cluster>-rw".
const (
	PostgresClusterName = "synapse-postgres"
	PostgresDatabase    = "synapse"
	PostgresOwner       = "synapse"
	RedisName           = "synapse-redis"
	MinIOName           = "synapse-minio"
	HAProxyName         = "synapse-haproxy"
)

// Postgres is the CNPG read-write Service.
func (p *Plan) Postgres() Service {
	return Service{Name: PostgresClusterName + "-rw", PortName: "postgres", Port: 5432, Namespace: p.Namespace}
}

// Redis is the replication pub/sub Service.
func (p *Plan) Redis() Service {
	return Service{Name: RedisName, PortName: "redis", Port: 6379, Namespace: p.Namespace}
}

// MinIO is the S3 API Service.
func (p *Plan) MinIO() Service {
	return Service{Name: MinIOName, PortName: "s3", Port: 9000, Namespace: p.Namespace}
}

// HAProxy is the router's client Service.
func (p *Plan) HAProxy() Service {
	return Service{Name: HAProxyName, PortName: "http", Port: PortHTTP, Namespace: p.Namespace}
}

// Secrets of the data plane: names and keys, shared by the component that
// writes a Secret and every pod that reads it.
const (
	PostgresSecretName = "synapse-postgres-credentials" // kubernetes.io/basic-auth
	PostgresSecretUser = "username"
	PostgresSecretPass = "password"
	RedisSecretName    = "synapse-redis-credentials"
	RedisSecretPass    = "password"
	MinIOSecretName    = "synapse-minio-credentials"
	MinIOSecretUser    = "MINIO_ROOT_USER"
	MinIOSecretPass    = "MINIO_ROOT_PASSWORD"
	SynapseSecretName  = "synapse-secrets" // the files of synapseconfig.SecretFiles
	// MASDatabaseSecretName is MAS's Postgres role (basic-auth), which
	// the CNPG Cluster's managed roles read its password from.
	MASDatabaseSecretName = "synapse-postgres-mas"
	SynapseConfigMapName  = "synapse-config"
	HAProxyConfigMapName  = "synapse-haproxy-config"
)

// Backups and scoped object-store users. Each S3 client gets its own
// credentials, allowed on its own bucket only: Synapse's media workers on
// the media bucket, Postgres (the Barman Cloud plugin) on the backup
// bucket. MinIO's root credentials stay with the MinIO pods and the Job
// that creates buckets and users.
const (
	// PostgresObjectStoreName is the Barman Cloud plugin's ObjectStore.
	PostgresObjectStoreName = PostgresClusterName + "-backup"
	// PostgresScheduledBackupName is the CNPG ScheduledBackup.
	PostgresScheduledBackupName = PostgresClusterName + "-scheduled"
	// BarmanCloudPlugin is the plugin's name in the Cluster and backups.
	BarmanCloudPlugin = "barman-cloud.cloudnative-pg.io"
	// RestoreSourceName is the externalClusters entry a restore reads.
	RestoreSourceName = "origin"

	// PostgresBackupSecretName holds the backup target's S3 keys (generated
	// for MinIO, from stack secrets for an external endpoint).
	PostgresBackupSecretName = PostgresClusterName + "-backup-s3"
	// MediaS3SecretName holds the media workers' S3 keys.
	MediaS3SecretName = "synapse-media-s3"
	// Keys of both S3 Secrets.
	S3SecretAccessKeyID     = "ACCESS_KEY_ID"
	S3SecretSecretAccessKey = "ACCESS_SECRET_KEY"
	S3SecretRegion          = "REGION"

	// MinIO users and policies (policy name = user name).
	MinIOMediaUser  = "synapse-media"
	MinIOBackupUser = "postgres-backup"
)

// PostgresParameters are the memory settings of a Postgres instance whose
// memory limit is memoryLimit, and its max_connections: shared_buffers a
// quarter of the memory (PostgreSQL's guidance for a dedicated server),
// effective_cache_size three quarters (what the page cache can hold),
// maintenance_work_mem a sixteenth up to 2GB (vacuum and index builds of
// Synapse's large tables). Values in MB, as Postgres reads them.
func PostgresParameters(memoryLimitBytes int64, maxConnections int) map[string]string {
	mb := memoryLimitBytes >> 20
	maint := min(mb/16, 2048)
	return map[string]string{
		"max_connections":      fmt.Sprint(maxConnections),
		"shared_buffers":       fmt.Sprintf("%dMB", mb/4),
		"effective_cache_size": fmt.Sprintf("%dMB", mb*3/4),
		"maintenance_work_mem": fmt.Sprintf("%dMB", max(maint, 64)),
	}
}
