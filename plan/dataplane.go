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
	PostgresSecretName   = "synapse-postgres-credentials" // kubernetes.io/basic-auth
	PostgresSecretUser   = "username"
	PostgresSecretPass   = "password"
	RedisSecretName      = "synapse-redis-credentials"
	RedisSecretPass      = "password"
	MinIOSecretName      = "synapse-minio-credentials"
	MinIOSecretUser      = "MINIO_ROOT_USER"
	MinIOSecretPass      = "MINIO_ROOT_PASSWORD"
	SynapseSecretName    = "synapse-secrets" // the files of synapseconfig.SecretFiles
	SynapseConfigMapName = "synapse-config"
	HAProxyConfigMapName = "synapse-haproxy-config"
)
