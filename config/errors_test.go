package config

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// fe is one expected FieldError: the key, the value as written ("" for a
// missing key) and a fragment of the explanation.
type fe struct{ key, value, msg string }

// goTypeNames are what encoding/json and fmt leak into messages.
var goTypeNames = regexp.MustCompile(`map\[|\[\]|config\.|json:|float64|int64|\bint\b|rawPool|struct|\*[a-z]`)

// s3 turns on MinIO with an S3-capable media image, so that a tier with
// several media workers is valid.
func s3(kv ...string) map[string]string {
	return with(append([]string{"minio", `{"enabled":true}`, "mediaImage", "r.io/s3:1"}, kv...)...)
}

// TestParseRejectsBadConfig: every bad input is reported under exactly the
// key(s) the user wrote, with the value as written, and nothing else.
func TestParseRejectsBadConfig(t *testing.T) {
	cases := []struct {
		name string
		raw  map[string]string
		want []fe
	}{
		// Identity.
		{"null server name", with("serverName", "null"), []fe{{"serverName", "null", "remove the key to take the default"}}},
		{"missing server name", with("serverName", "<unset>"), []fe{{"serverName", "", "missing"}}},
		{"server name not a DNS name", with("serverName", "Example_Org"), []fe{{"serverName", "Example_Org", "DNS name"}}},
		{"server name without a dot", with("serverName", "localhost"), []fe{{"serverName", "localhost", "at least one dot"}}},
		{"public base URL not a URL", with("publicBaseUrl", "matrix.example.org"), []fe{{"publicBaseUrl", "matrix.example.org", "absolute http(s) URL"}}},
		{"public base URL with user info", with("publicBaseUrl", "https://user:pass@matrix.example.org/"), []fe{{"publicBaseUrl", "https://user:pass@matrix.example.org/", "user:pass@"}}},
		{"public base URL port 0", with("publicBaseUrl", "https://matrix.example.org:0/"), []fe{{"publicBaseUrl", "https://matrix.example.org:0/", "from 1 to 65535"}}},
		{"public base URL port too large", with("publicBaseUrl", "https://matrix.example.org:70000/"), []fe{{"publicBaseUrl", "https://matrix.example.org:70000/", "from 1 to 65535"}}},
		{"public base URL port not a number", with("publicBaseUrl", "https://matrix.example.org:https/"), []fe{{"publicBaseUrl", "https://matrix.example.org:https/", "from 1 to 65535"}}},
		{"public base URL empty port", with("publicBaseUrl", "https://matrix.example.org:/"), []fe{{"publicBaseUrl", "https://matrix.example.org:/", "from 1 to 65535"}}},
		{"public base URL ftp", with("publicBaseUrl", "ftp://matrix.example.org/"), []fe{{"publicBaseUrl", "ftp://matrix.example.org/", "scheme must be https"}}},
		{"public base URL with a query", with("publicBaseUrl", "https://matrix.example.org/?a=b"), []fe{{"publicBaseUrl", "https://matrix.example.org/?a=b", "query"}}},
		{"public base URL with a fragment", with("publicBaseUrl", "https://matrix.example.org/#top"), []fe{{"publicBaseUrl", "https://matrix.example.org/#top", "fragment"}}},
		{"public base URL with a path", with("publicBaseUrl", "https://example.org/matrix/"), []fe{{"publicBaseUrl", "https://example.org/matrix/", "must not have a path"}}},
		{"public base URL upper-case host", with("publicBaseUrl", "https://Matrix.Example.org/"), []fe{{"publicBaseUrl", "https://Matrix.Example.org/", "lower-case DNS name"}}},
		{"ingress host derived from an IP base URL", with("publicBaseUrl", "https://10.0.0.1/"), []fe{{"ingress.host", "", "host of publicBaseUrl (10.0.0.1)"}}},

		// Namespace.
		{"bad namespace", with("namespace", "Matrix_NS"), []fe{{"namespace", "Matrix_NS", "namespace name"}}},
		{"namespace kube-system", with("namespace", "kube-system"), []fe{{"namespace", "kube-system", "must not be one of"}}},
		{"namespace kube-public", with("namespace", "kube-public"), []fe{{"namespace", "kube-public", "must not be one of"}}},
		{"namespace kube-node-lease", with("namespace", "kube-node-lease"), []fe{{"namespace", "kube-node-lease", "must not be one of"}}},
		{"namespace default", with("namespace", "default"), []fe{{"namespace", "default", "must not be one of"}}},
		{"namespace of the CNPG operator", with("namespace", CNPGOperatorNamespace), []fe{{"namespace", "cnpg-system", "CNPG operator"}}},

		// Top level.
		{"unknown tier", with("tier", "huge"), []fe{{"tier", "huge", "laptop"}}},
		{"unknown top-level key", with("replicas", "3"), []fe{{"replicas", "3", "unknown key"}}},
		{"misspelt tier key", with("teir", "large"), []fe{{"teir", "large", "known keys: serverName"}}},
		{"dataProtection not a bool", with("dataProtection", "yes please"), []fe{{"dataProtection", "yes please", "true or false"}}},
		{"dataProtection 1", with("dataProtection", "1"), []fe{{"dataProtection", "1", "true or false"}}},
		{"dataProtection True", with("dataProtection", "True"), []fe{{"dataProtection", "True", "true or false"}}},
		{"top-level null object", with("postgres", "null"), []fe{{"postgres", "null", "remove the key to take the default"}}},
		{"top-level null string", with("tier", "null"), []fe{{"tier", "null", "remove the key to take the default"}}},
		{"pools not JSON", with("pools", "generic: 2"), []fe{{"pools", "generic: 2", "YAML map"}}},
		{"pools a list", with("pools", `[1,2]`), []fe{{"pools", "[1,2]", "not a list"}}},
		{"federation a string", with("federation", `"on"`), []fe{{"federation", "on", "not a string"}}},

		// Postgres sizing, backups and restore.
		{"postgres memory below its floor", with("postgres", `{"resources":{"limits":{"memory":"1Mi"}}}`), []fe{{"postgres.resources.limits.memory", "1Mi", "from 64Mi to 1Ti"}}},
		{"postgres request above its limit", with("postgres", `{"resources":{"requests":{"cpu":"4"},"limits":{"cpu":"2"}}}`), []fe{{"postgres.resources.requests.cpu", "4", "must not exceed its limit"}}},
		{"connections beyond the memory budget", with("databasePool", `{"max":100}`, "postgres", `{"resources":{"requests":{"memory":"256Mi"},"limits":{"memory":"256Mi"}}}`), []fe{{"databasePool.max", "100", "more than the 64 that postgres.resources.limits.memory (256Mi) pays for"}}},
		{"largest pools beyond the tier's budget", s3("tier", "small", "databasePool", `{"max":100}`, "pools", `{"generic":{"maxReplicas":64},"synchrotron":{"maxReplicas":64}}`), []fe{{"databasePool.max", "100", "lower databasePool.max or the pools' maxReplicas"}}},
		{"backup without MinIO or endpoint", with("postgres", `{"backup":{"enabled":true}}`), []fe{{"postgres.backup.enabled", "true", "set minio.enabled=true, or postgres.backup.endpoint"}}},
		{"backup schedule of five fields", s3("postgres", `{"backup":{"enabled":true,"schedule":"0 3 * * *"}}`), []fe{{"postgres.backup.schedule", "0 3 * * *", "six fields, seconds first"}}},
		{"backup schedule in words", s3("postgres", `{"backup":{"enabled":true,"schedule":"nightly"}}`), []fe{{"postgres.backup.schedule", "nightly", "six fields"}}},
		{"backup retention in hours", s3("postgres", `{"backup":{"enabled":true,"retention":"48h"}}`), []fe{{"postgres.backup.retention", "48h", "30d, 8w or 6m"}}},
		{"backup retention zero", s3("postgres", `{"backup":{"enabled":true,"retention":"0d"}}`), []fe{{"postgres.backup.retention", "0d", "30d, 8w or 6m"}}},
		{"backup bucket is the media bucket", s3("postgres", `{"backup":{"enabled":true,"bucket":"synapse-media"}}`), []fe{{"postgres.backup.bucket", "synapse-media", "must differ from minio.bucket"}}},
		{"backup bucket as an IP", s3("postgres", `{"backup":{"enabled":true,"bucket":"10.0.0.1"}}`), []fe{{"postgres.backup.bucket", "10.0.0.1", "S3 bucket name"}}},
		{"backup server name with a slash", s3("postgres", `{"backup":{"enabled":true,"serverName":"a/b"}}`), []fe{{"postgres.backup.serverName", "a/b", "folder name"}}},
		{"backup endpoint with a path", with("postgres", `{"backup":{"enabled":true,"endpoint":"https://s3.example.org/bucket"}}`), []fe{{"postgres.backup.endpoint", "https://s3.example.org/bucket", "no path"}}},
		{"backup endpoint with credentials", with("postgres", `{"backup":{"enabled":true,"endpoint":"https://k:s@s3.example.org"}}`), []fe{{"postgres.backup.endpoint", "https://k:s@s3.example.org", "user name or password"}}},
		{"backup endpoint not a URL", with("postgres", `{"backup":{"enabled":true,"endpoint":"s3.example.org"}}`), []fe{{"postgres.backup.endpoint", "s3.example.org", "http(s) URL"}}},
		{"backup path with a leading slash", with("postgres", `{"backup":{"enabled":true,"endpoint":"https://s3.example.org","path":"/prod"}}`), []fe{{"postgres.backup.path", "/prod", "no leading or trailing"}}},
		{"backup region on MinIO", s3("postgres", `{"backup":{"enabled":true,"region":"eu-west-1"}}`), []fe{{"postgres.backup.region", "eu-west-1", "only applies to an external endpoint"}}},
		{"backup plugin manifest over ftp", s3("postgres", `{"backup":{"enabled":true,"pluginManifest":"ftp://mirror/manifest.yaml"}}`), []fe{{"postgres.backup.pluginManifest", "ftp://mirror/manifest.yaml", "only http:// and https://"}}},
		{"backup settings while off", with("postgres", `{"backup":{"schedule":"0 0 3 * * *"}}`), []fe{{"postgres.backup.schedule", "0 0 3 * * *", "no effect while postgres.backup.enabled is false"}}},
		{"backup setting null while off", with("postgres", `{"backup":{"schedule":null}}`), []fe{{"postgres.backup.schedule", "null", "remove the key to take the default"}}},
		{"backup enabled a string", with("postgres", `{"backup":{"enabled":"yes"}}`), []fe{{"postgres.backup.enabled", "yes", "true or false"}}},
		{"misspelt backup key", s3("postgres", `{"backup":{"enabled":true,"schedul":"0 0 3 * * *"}}`), []fe{{"postgres.backup.schedul", "0 0 3 * * *", "unknown key"}}},
		{"restore without backups", with("postgres", `{"restore":{"fromServerName":"old"}}`), []fe{{"postgres.restore", "", "set postgres.backup.enabled=true"}}},
		{"restore without a source", s3("postgres", `{"backup":{"enabled":true},"restore":{}}`), []fe{{"postgres.restore.fromServerName", "", "missing"}}},
		{"restore into its own archive", s3("postgres", `{"backup":{"enabled":true},"restore":{"fromServerName":"synapse-postgres"}}`), []fe{{"postgres.restore.fromServerName", "synapse-postgres", "CNPG refuses to archive into a folder"}}},
		{"restore target time without a zone", s3("postgres", `{"backup":{"enabled":true,"serverName":"pg2"},"restore":{"fromServerName":"synapse-postgres","targetTime":"2026-11-30 08:00"}}`), []fe{{"postgres.restore.targetTime", "2026-11-30 08:00", "RFC 3339"}}},

		// Images.
		{"image without tag", with("image", "ghcr.io/element-hq/synapse"), []fe{{"image", "ghcr.io/element-hq/synapse", "tag or a digest"}}},
		{"image with latest", with("image", "ghcr.io/element-hq/synapse:latest"), []fe{{"image", "ghcr.io/element-hq/synapse:latest", ":latest"}}},
		{"malformed image", with("image", "ghcr.io/Element/Synapse:v1"), []fe{{"image", "ghcr.io/Element/Synapse:v1", "image reference"}}},
		{"redis image a number", with("redis", `{"image":7}`), []fe{{"redis.image", "7", "not a number"}}},

		// Pools.
		{"HPA min above max", s3("tier", "small", "pools", `{"generic":{"minReplicas":10,"maxReplicas":4}}`), []fe{{"pools.generic.maxReplicas", "4", "at least minReplicas (10)"}}},
		{"max below replicas", s3("tier", "small", "pools", `{"generic":{"replicas":10,"maxReplicas":4}}`), []fe{{"pools.generic.maxReplicas", "4", "at least replicas (10)"}}},
		{"replicas above max", s3("tier", "small", "pools", `{"generic":{"replicas":10,"minReplicas":2,"maxReplicas":4}}`), []fe{{"pools.generic.replicas", "10", "at most maxReplicas (4)"}}},
		{"replicas below min", s3("tier", "small", "pools", `{"generic":{"replicas":3,"minReplicas":5}}`), []fe{{"pools.generic.replicas", "3", "at least minReplicas (5)"}}},
		{"zero generic workers", with("pools", `{"generic":{"replicas":0}}`), []fe{{"pools.generic.replicas", "0", "from 1 to 64"}}},
		{"fractional replicas", with("pools", `{"generic":{"replicas":2.5}}`), []fe{{"pools.generic.replicas", "2.5", "2.5 has a fraction"}}},
		{"replicas as a string", with("pools", `{"generic":{"replicas":"2"}}`), []fe{{"pools.generic.replicas", "2", "not a string"}}},
		{"absurd replicas", with("pools", `{"generic":{"replicas":1e9}}`), []fe{{"pools.generic.replicas", "1e9", "from 1 to 64"}}},
		{"misspelt replicas", with("pools", `{"generic":{"replicaz":2}}`), []fe{{"pools.generic.replicaz", "2", "unknown key under pools.generic"}}},
		{"misspelt cpu", with("pools", `{"generic":{"resources":{"requests":{"cpuu":"1"}}}}`), []fe{{"pools.generic.resources.requests.cpuu", "1", "allowed keys: cpu, memory"}}},
		{"pool null", with("pools", `{"generic":null}`), []fe{{"pools.generic", "null", "remove the key to take the default"}}},
		{"pool a number", with("pools", `{"generic":3}`), []fe{{"pools.generic", "3", "an object with the keys replicas"}}},
		{"resources a string", with("pools", `{"generic":{"resources":"big"}}`), []fe{{"pools.generic.resources", "big", "an object with the keys requests, limits"}}},
		{"negative synchrotrons", with("pools", `{"synchrotron":{"replicas":-2}}`), []fe{{"pools.synchrotron.replicas", "-2", "from 1 to 64"}}},
		{"synchrotron floor above the bound", s3("tier", "small", "pools", `{"synchrotron":{"minReplicas":99}}`), []fe{{"pools.synchrotron.minReplicas", "99", "from 1 to 64"}}},
		{"synchrotron ceiling above the bound", s3("tier", "small", "pools", `{"synchrotron":{"maxReplicas":100}}`), []fe{{"pools.synchrotron.maxReplicas", "100", "from 1 to 64"}}},
		{"zero event persisters", with("pools", `{"eventPersister":{"replicas":0}}`), []fe{{"pools.eventPersister.replicas", "0", "from 1 to 64"}}},
		{"unknown pool", with("pools", `{"sync":{"replicas":2}}`), []fe{{"pools.sync", `{"replicas":2}`, "known pools"}}},
		{"main replicas", with("pools", `{"main":{"replicas":2}}`), []fe{{"pools.main.replicas", "2", "exactly one"}}},
		{"main autoscale", with("pools", `{"main":{"autoscale":true}}`), []fe{{"pools.main.autoscale", "true", "exactly one"}}},
		{"federation sender min replicas", with("pools", `{"federationSender":{"minReplicas":2}}`), []fe{{"pools.federationSender.minReplicas", "2", "federation.senders"}}},
		{"writer replicas under pools", with("pools", `{"streamWriter":{"replicas":2}}`), []fe{{"pools.streamWriter.replicas", "2", "streamWriters"}}},
		{"autoscaled event persisters", with("pools", `{"eventPersister":{"autoscale":true}}`), []fe{{"pools.eventPersister.autoscale", "true", "instance_map"}}},
		{"pusher ceiling", with("pools", `{"pusher":{"maxReplicas":3}}`), []fe{{"pools.pusher.maxReplicas", "3", "never autoscaled"}}},
		{"two background workers", with("pools", `{"background":{"replicas":2}}`), []fe{{"pools.background.replicas", "2", "run_background_tasks_on"}}},
		{"min/max without autoscaling", with("pools", `{"generic":{"maxReplicas":4}}`), []fe{{"pools.generic.maxReplicas", "4", "need autoscaling"}}},
		{"autoscaling a pool of zero", with("pools", `{"initialSync":{"autoscale":true}}`), []fe{{"pools.initialSync.autoscale", "true", "never scales to 0"}}},
		{"autoscaled replicas zero", with("pools", `{"initialSync":{"autoscale":true,"replicas":0}}`), []fe{{"pools.initialSync.replicas", "0", "at least 1 with autoscaling"}}},
		{"autoscale a string", with("pools", `{"generic":{"autoscale":"yes"}}`), []fe{{"pools.generic.autoscale", "yes", "true or false, not a string"}}},
		{"cpu in cores", with("pools", `{"generic":{"resources":{"requests":{"cpu":"1.5 cores"}}}}`), []fe{{"pools.generic.resources.requests.cpu", "1.5 cores", "quantity of CPU"}}},
		{"cpu absurd", with("pools", `{"generic":{"resources":{"limits":{"cpu":"1000"}}}}`), []fe{{"pools.generic.resources.limits.cpu", "1000", "from 10m to 256"}}},
		{"memory of one byte", with("pools", `{"generic":{"resources":{"requests":{"memory":"1"}}}}`), []fe{{"pools.generic.resources.requests.memory", "1", "from 64Mi to 1Ti"}}},
		{"memory a number", with("pools", `{"generic":{"resources":{"requests":{"memory":512}}}}`), []fe{{"pools.generic.resources.requests.memory", "512", "quote it"}}},
		{"request above limit", with("pools", `{"generic":{"resources":{"requests":{"memory":"4Gi"}}}}`), []fe{{"pools.generic.resources.requests.memory", "4Gi", "must not exceed its limit (512Mi)"}}},
		{"limit below request", with("pools", `{"generic":{"resources":{"limits":{"memory":"64Mi"}}}}`), []fe{{"pools.generic.resources.limits.memory", "64Mi", "below its request (128Mi)"}}},
		{"media replicas without S3", with("pools", `{"media":{"replicas":3}}`), []fe{{"pools.media.replicas", "3", "minio.enabled=true"}}},
		{"small tier media without S3", with("tier", "small"), []fe{{"pools.media.replicas", "8", "shared media storage"}}},
		{"media ceiling without S3", with("tier", "small", "pools", `{"media":{"maxReplicas":4}}`), []fe{{"pools.media.maxReplicas", "4", "shared media storage"}}},

		// Federation.
		{"federation senders while federation off", with("federation", `{"senders":2}`), []fe{{"federation.senders", "2", "federation.enabled=true"}}},
		{"federation senders too many", with("federation", `{"enabled":true,"senders":100}`), []fe{{"federation.senders", "100", "from 0 (the main process sends) to 64"}}},
		{"federation senders negative", with("federation", `{"enabled":true,"senders":-1}`), []fe{{"federation.senders", "-1", "from 0"}}},
		{"federation enabled a string", with("federation", `{"enabled":"true"}`), []fe{{"federation.enabled", "true", "true or false, not a string"}}},
		{"unknown key under federation", with("federation", `{"enable":true}`), []fe{{"federation.enable", "true", "unknown key"}}},

		// Stream writers.
		{"two typing writers", with("streamWriters", `{"typing":2}`), []fe{{"streamWriters.typing", "2", "single writer"}}},
		{"two to-device writers", with("streamWriters", `{"to_device":2}`), []fe{{"streamWriters.to_device", "2", "single writer"}}},
		{"two account-data writers", with("streamWriters", `{"account_data":2}`), []fe{{"streamWriters.account_data", "2", "single writer"}}},
		{"two presence writers", with("streamWriters", `{"presence":2}`), []fe{{"streamWriters.presence", "2", "single writer"}}},
		{"two push-rules writers", with("streamWriters", `{"push_rules":2}`), []fe{{"streamWriters.push_rules", "2", "single writer"}}},
		{"negative receipts writers", with("streamWriters", `{"receipts":-1}`), []fe{{"streamWriters.receipts", "-1", "0 (the main process"}}},
		{"too many device-list writers", with("streamWriters", `{"device_lists":17}`), []fe{{"streamWriters.device_lists", "17", "to 16"}}},
		{"unknown stream", with("streamWriters", `{"events":2}`), []fe{{"streamWriters.events", "2", "eventPersister"}}},
		{"null writer", with("streamWriters", `{"typing":null}`), []fe{{"streamWriters.typing", "null", "remove the key to take the default"}}},
		{"fractional writers", with("streamWriters", `{"receipts":1.5}`), []fe{{"streamWriters.receipts", "1.5", "whole number"}}},

		// Database.
		{"db pool max below min", with("databasePool", `{"min":10,"max":5}`), []fe{{"databasePool.max", "5", "between databasePool.min (10)"}}},
		{"db pool min above the default max", with("databasePool", `{"min":20}`), []fe{{"databasePool.min", "20", "must not exceed databasePool.max (10"}}},
		{"db pool max absurd", with("databasePool", `{"max":1000}`), []fe{{"databasePool.max", "1000", "from 1 to 100"}}},
		{"postgres instances zero", with("postgres", `{"instances":0}`), []fe{{"postgres.instances", "0", "from 1 to 9"}}},
		{"postgres instances a string", with("postgres", `{"instances":"3"}`), []fe{{"postgres.instances", "3", "not a string"}}},
		{"unknown key under postgres", with("postgres", `{"instance":2}`), []fe{{"postgres.instance", "2", "unknown key"}}},
		{"storage size with a space", with("postgres", `{"storage":{"size":"10 GB"}}`), []fe{{"postgres.storage.size", "10 GB", "quantity"}}},
		{"postgres storage of one byte", with("postgres", `{"storage":{"size":"1"}}`), []fe{{"postgres.storage.size", "1", "from 1Gi"}}},
		{"postgres storage 100Mi", with("postgres", `{"storage":{"size":"100Mi"}}`), []fe{{"postgres.storage.size", "100Mi", "from 1Gi"}}},
		{"postgres storage absurd", with("postgres", `{"storage":{"size":"2Pi"}}`), []fe{{"postgres.storage.size", "2Pi", "to 1Pi"}}},
		{"postgres storage size null", with("postgres", `{"storage":{"size":null}}`), []fe{{"postgres.storage.size", "null", "remove the key to take the default"}}},
		{"operator chart version", with("postgres", `{"operatorChartVersion":"latest"}`), []fe{{"postgres.operatorChartVersion", "latest", "chart version"}}},
		{"operator chart version for oci", with("postgres", `{"operatorChart":"oci://ghcr.io/cloudnative-pg/charts/cloudnative-pg","operatorChartVersion":"0.26"}`), []fe{{"postgres.operatorChartVersion", "0.26", "chart version"}}},
		{"operator chart empty", with("postgres", `{"operatorChart":""}`), []fe{{"postgres.operatorChart", "", `"" (empty) is not allowed`}}},
		{"operator chart white space", with("postgres", `{"operatorChart":"  "}`), []fe{{"postgres.operatorChart", "  ", "must not be blank"}}},
		{"operator chart padded", with("postgres", `{"operatorChart":" ./charts/cnpg"}`), []fe{{"postgres.operatorChart", " ./charts/cnpg", "white space"}}},
		{"operator chart with user info", with("postgres", `{"operatorChart":"https://u:p@charts.example.org/"}`), []fe{{"postgres.operatorChart", "https://u:p@charts.example.org/", "user name or password"}}},
		{"operator chart archive URL", with("postgres", `{"operatorChart":"https://example.org/cloudnative-pg-0.26.1.tgz"}`), []fe{{"postgres.operatorChart", "https://example.org/cloudnative-pg-0.26.1.tgz", "not a chart archive"}}},
		{"operator chart other scheme", with("postgres", `{"operatorChart":"s3://charts/cnpg"}`), []fe{{"postgres.operatorChart", "s3://charts/cnpg", "only http://, https:// and oci://"}}},
		{"operator chart oci with tag", with("postgres", `{"operatorChart":"oci://ghcr.io/cloudnative-pg/charts/cloudnative-pg:0.26.1"}`), []fe{{"postgres.operatorChart", "oci://ghcr.io/cloudnative-pg/charts/cloudnative-pg:0.26.1", "not as a tag"}}},
		{"operator chart oci malformed", with("postgres", `{"operatorChart":"oci://Ghcr.io/CNPG"}`), []fe{{"postgres.operatorChart", "oci://Ghcr.io/CNPG", "registry host and repository"}}},
		{"operator chart a number", with("postgres", `{"operatorChart":1}`), []fe{{"postgres.operatorChart", "1", "not a number"}}},

		// Media storage and MinIO.
		{"media storage 100Mi", with("mediaStorage", `{"size":"100Mi"}`), []fe{{"mediaStorage.size", "100Mi", "from 1Gi"}}},
		{"minio storage 1m", s3("minio", `{"enabled":true,"storage":{"size":"1m"}}`), []fe{{"minio.storage.size", "1m", "from 1Gi"}}},
		{"storage class", with("mediaStorage", `{"storageClass":"Fast_SSD"}`), []fe{{"mediaStorage.storageClass", "Fast_SSD", "StorageClass"}}},
		{"MinIO without an S3-capable media image", with("minio", `{"enabled":true}`), []fe{{"mediaImage", "", "synapse-s3-storage-provider"}}},
		{"minio with three drives", s3("minio", `{"enabled":true,"replicas":3}`), []fe{{"minio.replicas", "3", "at least 4 drives"}}},
		{"minio with 2.5 drives", s3("minio", `{"enabled":true,"replicas":2.5}`), []fe{{"minio.replicas", "2.5", "2.5 has a fraction"}}},
		{"minio enabled 1", with("minio", `{"enabled":1}`), []fe{{"minio.enabled", "1", "true or false, not a number"}}},
		{"bad bucket", with("minio", `{"bucket":"My_Bucket"}`), []fe{{"minio.bucket", "My_Bucket", "S3 bucket name"}}},
		{"bucket as an IP address", with("minio", `{"bucket":"192.168.1.1"}`), []fe{{"minio.bucket", "192.168.1.1", "IP address"}}},
		{"bucket xn--", with("minio", `{"bucket":"xn--media"}`), []fe{{"minio.bucket", "xn--media", "prefix xn--"}}},
		{"bucket sthree-", with("minio", `{"bucket":"sthree-media"}`), []fe{{"minio.bucket", "sthree-media", "prefix sthree-"}}},
		{"bucket -s3alias", with("minio", `{"bucket":"media-s3alias"}`), []fe{{"minio.bucket", "media-s3alias", "suffix -s3alias"}}},
		{"bucket --ol-s3", with("minio", `{"bucket":"media--ol-s3"}`), []fe{{"minio.bucket", "media--ol-s3", "suffix --ol-s3"}}},
		{"bucket adjacent dots", with("minio", `{"bucket":"synapse..media"}`), []fe{{"minio.bucket", "synapse..media", "adjacent dots"}}},
		{"bucket dot before hyphen", with("minio", `{"bucket":"synapse.-media"}`), []fe{{"minio.bucket", "synapse.-media", "next to a hyphen"}}},
		{"bucket hyphen before dot", with("minio", `{"bucket":"synapse-.media"}`), []fe{{"minio.bucket", "synapse-.media", "next to a hyphen"}}},
		{"bucket too short", with("minio", `{"bucket":"ab"}`), []fe{{"minio.bucket", "ab", "2 characters"}}},
		{"bucket starting with a hyphen", with("minio", `{"bucket":"-media"}`), []fe{{"minio.bucket", "-media", "starts or ends"}}},

		// Media cache, media retention, maintenance.
		{"media cache days zero", s3("mediaStorage", `{"cacheDays":0}`), []fe{{"mediaStorage.cacheDays", "0", "from 1 to 3650"}}},
		{"media cache days fractional", s3("mediaStorage", `{"cacheDays":1.5}`), []fe{{"mediaStorage.cacheDays", "1.5", "has a fraction"}}},
		{"media cache percent too high", s3("mediaStorage", `{"cacheMaxPercent":99}`), []fe{{"mediaStorage.cacheMaxPercent", "99", "from 10 to 95"}}},
		{"media cache percent a string", s3("mediaStorage", `{"cacheMaxPercent":"80%"}`), []fe{{"mediaStorage.cacheMaxPercent", "80%", "not a string"}}},
		{"media cache days without S3", with("mediaStorage", `{"cacheDays":7}`), []fe{{"mediaStorage.cacheDays", "7", "only copy of the media"}}},
		{"media cache percent without S3", with("mediaStorage", `{"cacheMaxPercent":80}`), []fe{{"mediaStorage.cacheMaxPercent", "80", "minio.enabled=true"}}},
		{"misspelt media cache key", s3("mediaStorage", `{"cacheDay":7}`), []fe{{"mediaStorage.cacheDay", "7", "allowed keys: size, storageClass, cacheDays, cacheMaxPercent"}}},
		{"local media lifetime in minutes", with("mediaRetention", `{"localMediaLifetime":"3m"}`), []fe{{"mediaRetention.localMediaLifetime", "3m", "m is minutes"}}},
		{"remote media lifetime without a unit", with("mediaRetention", `{"remoteMediaLifetime":"90"}`), []fe{{"mediaRetention.remoteMediaLifetime", "90", "one unit of s, m (minutes), h, d, w or y"}}},
		{"remote media lifetime in words", with("mediaRetention", `{"remoteMediaLifetime":"90 days"}`), []fe{{"mediaRetention.remoteMediaLifetime", "90 days", "such as 90d"}}},
		{"remote media lifetime negative", with("mediaRetention", `{"remoteMediaLifetime":"-1d"}`), []fe{{"mediaRetention.remoteMediaLifetime", "-1d", "Synapse duration"}}},
		{"remote media lifetime a number", with("mediaRetention", `{"remoteMediaLifetime":90}`), []fe{{"mediaRetention.remoteMediaLifetime", "90", "not a number"}}},
		{"media lifetime under a day", with("mediaRetention", `{"localMediaLifetime":"12h"}`), []fe{{"mediaRetention.localMediaLifetime", "12h", "at least 1d"}}},
		{"misspelt media retention key", with("mediaRetention", `{"localMediaLifeTime":"1y"}`), []fe{{"mediaRetention.localMediaLifeTime", "1y", "unknown key under mediaRetention"}}},
		{"state compression without an image", with("maintenance", `{"stateCompression":{"enabled":true}}`), []fe{{"maintenance.stateCompression.image", "", "images/synapse-compress-state"}}},
		{"state compression image latest", with("maintenance", `{"stateCompression":{"enabled":true,"image":"ghcr.io/matrix-org/rust-synapse-compress-state:latest"}}`), []fe{{"maintenance.stateCompression.image", "ghcr.io/matrix-org/rust-synapse-compress-state:latest", ":latest"}}},
		{"state compression schedule in words", with("maintenance", `{"stateCompression":{"schedule":"every night"}}`), []fe{{"maintenance.stateCompression.schedule", "every night", "five fields"}}},
		{"state compression schedule with seconds", with("maintenance", `{"stateCompression":{"schedule":"0 0 3 * * *"}}`), []fe{{"maintenance.stateCompression.schedule", "0 0 3 * * *", "five fields"}}},
		{"state compression schedule hour 24", with("maintenance", `{"stateCompression":{"schedule":"0 24 * * *"}}`), []fe{{"maintenance.stateCompression.schedule", "0 24 * * *", "minute hour day-of-month"}}},
		{"state compression schedule with a time zone", with("maintenance", `{"stateCompression":{"schedule":"CRON_TZ=UTC 0 3 * * *"}}`), []fe{{"maintenance.stateCompression.schedule", "CRON_TZ=UTC 0 3 * * *", "TZ"}}},
		{"state compression chunk below the first level", with("maintenance", `{"stateCompression":{"chunkSize":50}}`), []fe{{"maintenance.stateCompression.chunkSize", "50", "first level size"}}},
		{"state compression chunks zero", with("maintenance", `{"stateCompression":{"chunks":0}}`), []fe{{"maintenance.stateCompression.chunks", "0", "from 1 to 100000"}}},
		{"state compression memory", with("maintenance", `{"stateCompression":{"resources":{"limits":{"memory":"1"}}}}`), []fe{{"maintenance.stateCompression.resources.limits.memory", "1", "from 64Mi"}}},
		{"state compression enabled a string", with("maintenance", `{"stateCompression":{"enabled":"yes"}}`), []fe{{"maintenance.stateCompression.enabled", "yes", "true or false"}}},
		{"misspelt maintenance job", with("maintenance", `{"stateCompresion":{"enabled":true}}`), []fe{{"maintenance.stateCompresion", `{"enabled":true}`, "unknown key under maintenance"}}},
		{"maintenance a list", with("maintenance", `["stateCompression"]`), []fe{{"maintenance", `["stateCompression"]`, "not a list"}}},

		// Router, ingress, monitoring.
		{"haproxy replicas zero", with("haproxy", `{"replicas":0}`), []fe{{"haproxy.replicas", "0", "from 1 to 16"}}},
		{"haproxy replicas negative", with("haproxy", `{"replicas":-1}`), []fe{{"haproxy.replicas", "-1", "from 1 to 16"}}},
		{"wrong type", with("haproxy", `{"replicas":"two"}`), []fe{{"haproxy.replicas", "two", "whole number from 1 to 16 (2 or more in production), not a string"}}},
		{"ingress host invalid with the Ingress off", with("ingress", `{"enabled":false,"host":"Bad_Host"}`), []fe{{"ingress.host", "Bad_Host", "lower-case DNS name"}}},
		{"ingress host empty", with("ingress", `{"host":""}`), []fe{{"ingress.host", "", `"" (empty) is not allowed; must be a lower-case DNS name`}}},
		{"redis image empty", with("redis", `{"image":""}`), []fe{{"redis.image", "", `"" (empty) is not allowed; must be an image reference`}}},
		{"ingress host an IP address", with("ingress", `{"host":"10.0.0.1"}`), []fe{{"ingress.host", "10.0.0.1", "not an IP address"}}},
		{"bad ingress class", with("ingress", `{"className":"Nginx!"}`), []fe{{"ingress.className", "Nginx!", "IngressClass name"}}},
		{"bad annotation key", with("ingress", `{"annotations":{"bad key!":"x"}}`), []fe{{"ingress.annotations.bad key!", "x", "qualified names"}}},
		{"annotation value a number", with("ingress", `{"annotations":{"nginx.ingress.kubernetes.io/proxy-read-timeout":3600}}`), []fe{{"ingress.annotations.nginx.ingress.kubernetes.io/proxy-read-timeout", "3600", "quote it"}}},
		{"annotations a list", with("ingress", `{"annotations":["a"]}`), []fe{{"ingress.annotations", `["a"]`, "not a list"}}},
		{"bad TLS secret name", with("ingress", `{"tlsSecretName":"TLS_Secret"}`, "mas", `{"enabled":false}`), []fe{{"ingress.tlsSecretName", "TLS_Secret", "Secret name"}}},
		{"server name label of 64 characters", with("serverName", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.example.org"), []fe{{"serverName", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.example.org", "at most 63 characters"}}},
		{"server name of 237 characters", with("serverName", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.org"), []fe{{"serverName", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.org", "at most 230 characters"}}},
		{"plain http behind a TLS ingress", with("publicBaseUrl", "http://matrix.example.org/", "ingress", `{"tlsSecretName":"matrix-tls"}`, "mas", `{"tlsSecretName":"auth-tls"}`), []fe{{"publicBaseUrl", "http://matrix.example.org/", "must be an https URL when ingress.tlsSecretName is set"}}},
		{"monitoring in the stack's namespace", with("namespace", "matrix", "monitoring", `{"enabled":true,"namespace":"matrix"}`), []fe{{"monitoring.namespace", "matrix", "not the stack's"}}},
		// One service per host: the error names the key the user wrote.
		{"mas host is the RTC default", with("mas", `{"host":"rtc.example.org"}`, "rtc", `{"enabled":true}`), []fe{{"mas.host", "rtc.example.org", "must differ from rtc.host (the default rtc.<serverName>)"}}},
		{"admin host is Element Web's", with("admin", `{"enabled":true,"host":"element.example.org"}`, "elementWeb", `{"enabled":true}`), []fe{{"admin.host", "element.example.org", "must differ from elementWeb.host (the default"}}},
		{"element web host is the MAS default", with("elementWeb", `{"enabled":true,"host":"auth.example.org"}`), []fe{{"elementWeb.host", "auth.example.org", "must differ from mas.host (the default auth.<serverName>)"}}},
		{"rtc host is the MAS default", with("rtc", `{"enabled":true,"host":"auth.example.org"}`), []fe{{"rtc.host", "auth.example.org", "must differ from mas.host"}}},
		{"publicBaseUrl on the MAS default host", with("publicBaseUrl", "https://auth.example.org/"), []fe{{"mas.host", "auth.example.org", "must differ from ingress.host (the host of publicBaseUrl)"}}},
		{"turn domain is the RTC host", with("rtc", `{"enabled":true,"turn":{"enabled":true,"domain":"rtc.example.org"}}`), []fe{{"rtc.turn.domain", "rtc.example.org", "must differ from rtc.host"}}},
		{"element web on the server name's host", with("publicBaseUrl", "https://matrix.example.org/", "elementWeb", `{"enabled":true,"host":"example.org"}`), []fe{{"elementWeb.host", "example.org", "/.well-known/matrix/ must reach HAProxy"}}},
		// With TLS at the Ingress, every other host it serves needs its own
		// certificate (mas is on by default).
		{"MAS host without TLS behind a TLS ingress", with("ingress", `{"tlsSecretName":"matrix-tls"}`), []fe{{"mas.tlsSecretName", "", "auth.example.org needs a certificate of its own"}}},
		{"every sibling host without TLS behind a TLS ingress", with("ingress", `{"tlsSecretName":"matrix-tls"}`, "elementWeb", `{"enabled":true}`, "admin", `{"enabled":true}`, "rtc", `{"enabled":true}`),
			[]fe{{"elementWeb.tlsSecretName", "", "element.example.org needs a certificate"}, {"mas.tlsSecretName", "", "auth.example.org needs a certificate"}, {"admin.tlsSecretName", "", "admin.example.org needs a certificate"}, {"rtc.tlsSecretName", "", "rtc.example.org needs a certificate"}}},
		// Element Web: checked even when off, like ingress.host.
		{"element web host invalid while off", with("elementWeb", `{"host":"Bad_Host"}`), []fe{{"elementWeb.host", "Bad_Host", "lower-case DNS name such as element.example.org"}}},
		{"element web host an IP address", with("elementWeb", `{"enabled":true,"host":"10.0.0.2"}`), []fe{{"elementWeb.host", "10.0.0.2", "not an IP address"}}},
		{"element web host is the Matrix host", with("elementWeb", `{"enabled":true,"host":"matrix.example.org"}`, "ingress", `{"host":"matrix.example.org"}`), []fe{{"elementWeb.host", "matrix.example.org", "must differ from ingress.host"}}},
		{"element web image latest", with("elementWeb", `{"image":"ghcr.io/element-hq/element-web:latest"}`), []fe{{"elementWeb.image", "ghcr.io/element-hq/element-web:latest", ":latest"}}},
		{"element web image unpinned", with("elementWeb", `{"image":"ghcr.io/element-hq/element-web"}`), []fe{{"elementWeb.image", "ghcr.io/element-hq/element-web", "must pin a tag or a digest"}}},
		{"element web replicas zero", with("elementWeb", `{"replicas":0}`), []fe{{"elementWeb.replicas", "0", "from 1 to 16"}}},
		{"element web replicas 17", with("elementWeb", `{"replicas":17}`), []fe{{"elementWeb.replicas", "17", "from 1 to 16"}}},
		{"element web enabled not a bool", with("elementWeb", `{"enabled":"yes"}`), []fe{{"elementWeb.enabled", "yes", "true or false"}}},
		{"element web unknown key", with("elementWeb", `{"hostname":"element.example.org"}`), []fe{{"elementWeb.hostname", "element.example.org", "unknown key"}}},
		{"element web bad TLS secret name", with("elementWeb", `{"tlsSecretName":"TLS_Secret"}`), []fe{{"elementWeb.tlsSecretName", "TLS_Secret", "Secret name"}}},
		{"element web a list", with("elementWeb", `["enabled"]`), []fe{{"elementWeb", `["enabled"]`, "not a list"}}},
		// Matrix RTC.
		{"rtc without an Ingress", with("rtc", `{"enabled":true}`, "ingress", `{"enabled":false}`), []fe{{"rtc.enabled", "true", "calls need the RTC Ingress on rtc.host"}}},
		{"rtc enabled a string", with("rtc", `{"enabled":"yes"}`), []fe{{"rtc.enabled", "yes", "true or false"}}},
		{"rtc unknown key", with("rtc", `{"livekitt":{}}`), []fe{{"rtc.livekitt", "{}", "unknown key under rtc"}}},
		{"rtc host an IP address", with("rtc", `{"host":"10.0.0.3"}`), []fe{{"rtc.host", "10.0.0.3", "not an IP address"}}},
		{"rtc host is the Matrix host", with("rtc", `{"enabled":true,"host":"matrix.example.org"}`, "ingress", `{"host":"matrix.example.org"}`), []fe{{"rtc.host", "matrix.example.org", "must differ from ingress.host"}}},
		{"rtc host is Element Web's", with("rtc", `{"host":"element.example.org"}`, "elementWeb", `{"enabled":true}`), []fe{{"rtc.host", "element.example.org", "must differ from elementWeb.host"}}},
		{"rtc bad TLS secret name", with("rtc", `{"tlsSecretName":"RTC_TLS"}`), []fe{{"rtc.tlsSecretName", "RTC_TLS", "Secret name"}}},
		{"livekit image latest", with("rtc", `{"livekit":{"image":"livekit/livekit-server:latest"}}`), []fe{{"rtc.livekit.image", "livekit/livekit-server:latest", ":latest"}}},
		{"authorization image unpinned", with("rtc", `{"authorization":{"image":"ghcr.io/element-hq/lk-jwt-service"}}`), []fe{{"rtc.authorization.image", "ghcr.io/element-hq/lk-jwt-service", "must pin a tag or a digest"}}},
		{"livekit replicas zero", with("rtc", `{"livekit":{"replicas":0}}`), []fe{{"rtc.livekit.replicas", "0", "from 1 to 16"}}},
		{"livekit memory limit below request", with("rtc", `{"livekit":{"resources":{"limits":{"memory":"256Mi"}}}}`), []fe{{"rtc.livekit.resources.limits.memory", "256Mi", "must not be below its request"}}},
		{"two livekit replicas behind a load balancer", with("rtc", `{"enabled":true,"livekit":{"replicas":2}}`), []fe{{"rtc.livekit.replicas", "2", "needs rtc.media.serviceType=NodePort"}}},
		{"two livekit replicas with one fixed address", with("rtc", `{"enabled":true,"livekit":{"replicas":2},"media":{"serviceType":"NodePort","externalAddress":"198.51.100.7"}}`), []fe{{"rtc.livekit.replicas", "2", `"stun" or "hostIP"`}}},
		{"media service type ClusterIP", with("rtc", `{"media":{"serviceType":"ClusterIP"}}`), []fe{{"rtc.media.serviceType", "ClusterIP", "must be LoadBalancer or NodePort"}}},
		{"media address a host name", with("rtc", `{"media":{"externalAddress":"media.example.org"}}`), []fe{{"rtc.media.externalAddress", "media.example.org", "IP addresses only"}}},
		{"media address loopback", with("rtc", `{"media":{"externalAddress":"127.0.0.1"}}`), []fe{{"rtc.media.externalAddress", "127.0.0.1", `"stun"`}}},
		{"media address link-local IPv4", with("rtc", `{"media":{"externalAddress":"169.254.10.1"}}`), []fe{{"rtc.media.externalAddress", "169.254.10.1", "a link-local address"}}},
		{"media address link-local IPv6", with("rtc", `{"media":{"externalAddress":"fe80::1"}}`), []fe{{"rtc.media.externalAddress", "fe80::1", "a link-local address"}}},
		{"media address link-local with a zone", with("rtc", `{"media":{"externalAddress":"fe80::1%eth0"}}`), []fe{{"rtc.media.externalAddress", "fe80::1%eth0", "a link-local address"}}},
		{"media address broadcast", with("rtc", `{"media":{"externalAddress":"255.255.255.255"}}`), []fe{{"rtc.media.externalAddress", "255.255.255.255", "the broadcast address is not one a client can connect to"}}},
		{"media address reserved", with("rtc", `{"media":{"externalAddress":"240.1.2.3"}}`), []fe{{"rtc.media.externalAddress", "240.1.2.3", "240.0.0.0/4 (reserved) is never routed"}}},
		{"media address in this network", with("rtc", `{"media":{"externalAddress":"0.1.2.3"}}`), []fe{{"rtc.media.externalAddress", "0.1.2.3", "0.0.0.0/8 (this network)"}}},
		{"media address IPv4-mapped IPv6", with("rtc", `{"media":{"externalAddress":"::ffff:198.51.100.7"}}`), []fe{{"rtc.media.externalAddress", "::ffff:198.51.100.7", "an IPv4-mapped IPv6 address: write the IPv4 form, 198.51.100.7"}}},
		{"media address IPv6", with("rtc", `{"media":{"externalAddress":"2001:db8::7"}}`), []fe{{"rtc.media.externalAddress", "2001:db8::7", "must be an IPv4 address: the media Service sets no ipFamilies"}}},
		{"media address IPv4-mapped loopback", with("rtc", `{"media":{"externalAddress":"::ffff:127.0.0.1"}}`), []fe{{"rtc.media.externalAddress", "::ffff:127.0.0.1", `must be "stun"`}}},
		{"media address IPv4-mapped link-local", with("rtc", `{"media":{"externalAddress":"::ffff:169.254.1.1"}}`), []fe{{"rtc.media.externalAddress", "::ffff:169.254.1.1", "a link-local address"}}},
		{"media UDP port privileged", with("rtc", `{"media":{"udpPort":443}}`), []fe{{"rtc.media.udpPort", "443", "from 1024 to 65535"}}},
		{"media port out of range", with("rtc", `{"media":{"tcpPort":70000}}`), []fe{{"rtc.media.tcpPort", "70000", "port number from 1 to 65535"}}},
		{"media port outside the NodePort range", with("rtc", `{"media":{"serviceType":"NodePort","tcpPort":7881}}`), []fe{{"rtc.media.tcpPort", "7881", "from 30000 to 32767"}}},
		{"media TCP port is LiveKit's HTTP port", with("rtc", `{"media":{"tcpPort":7880}}`), []fe{{"rtc.media.tcpPort", "7880", "must differ from LiveKit's HTTP port"}}},
		{"TURN UDP port is the media UDP port", with("rtc", `{"media":{"udpPort":3478},"turn":{"enabled":true}}`), []fe{{"rtc.media.udpPort", "3478", "must differ from rtc.turn.udpPort"}}},
		{"media annotation key bad", with("rtc", `{"media":{"annotations":{"not a key":"x"}}}`), []fe{{"rtc.media.annotations.not a key", "x", "qualified names"}}},
		{"TURN TLS without TURN", with("rtc", `{"turn":{"tlsSecretName":"turn-tls"}}`), []fe{{"rtc.turn.tlsSecretName", "turn-tls", "set rtc.turn.enabled=true"}}},
		{"TURN TLS on a NodePort", with("rtc", `{"media":{"serviceType":"NodePort"},"turn":{"enabled":true,"tlsSecretName":"turn-tls"}}`), []fe{{"rtc.turn.tlsSecretName", "turn-tls", "turns:<rtc.turn.domain>:443"}}},
		{"TURN domain an IP address", with("rtc", `{"turn":{"domain":"203.0.113.9"}}`), []fe{{"rtc.turn.domain", "203.0.113.9", "DNS name such as turn.example.org"}}},
		{"TURN UDP port a string", with("rtc", `{"turn":{"udpPort":"3478"}}`), []fe{{"rtc.turn.udpPort", "3478", "not a string"}}},

		{"bad monitoring namespace", with("monitoring", `{"namespace":"Prom NS"}`), []fe{{"monitoring.namespace", "Prom NS", "namespace name"}}},
		{"monitoring enabled null", with("monitoring", `{"enabled":null}`), []fe{{"monitoring.enabled", "null", "remove the key to take the default"}}},

		// Several problems: one error each.
		{"two problems in one pool", with("pools", `{"generic":{"replicas":2.5,"replicaz":1}}`), []fe{
			{"pools.generic.replicas", "2.5", "2.5 has a fraction"}, {"pools.generic.replicaz", "1", "unknown key"}}},
		{"main count and resources", with("pools", `{"main":{"replicas":2,"maxReplicas":3,"resources":{"limits":{"cpu":"0"}}}}`), []fe{
			{"pools.main.replicas", "2", "exactly one"}, {"pools.main.maxReplicas", "3", "exactly one"},
			{"pools.main.resources.limits.cpu", "0", "from 10m"}}},
	}
	seen := map[string]string{}
	for _, tc := range cases {
		input := fmt.Sprint(tc.raw)
		if other, dup := seen[input]; dup {
			t.Errorf("%q and %q test the same input", tc.name, other)
		}
		seen[input] = tc.name
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(tc.raw)
			if err == nil {
				t.Fatalf("Parse accepted bad config %v: %+v", tc.raw, c)
			}
			var verr ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("error is %T, want ValidationError", err)
			}
			var wantKeys []string
			for _, w := range tc.want {
				wantKeys = append(wantKeys, w.key)
			}
			gotKeys := verr.Keys()
			sort.Strings(gotKeys)
			sort.Strings(wantKeys)
			if strings.Join(gotKeys, "\n") != strings.Join(wantKeys, "\n") {
				t.Fatalf("keys reported %q, want exactly %q; got:\n%v", gotKeys, wantKeys, err)
			}
			for _, w := range tc.want {
				for _, e := range verr {
					if e.Key != w.key {
						continue
					}
					if e.Value != w.value {
						t.Errorf("%s: value %q, want the value as written, %q", w.key, e.Value, w.value)
					}
					if !strings.Contains(e.Error(), w.msg) {
						t.Errorf("%s: message lacks %q: %s", w.key, w.msg, e.Error())
					}
					if !strings.HasPrefix(e.Error(), "synapse:"+w.key+": ") {
						t.Errorf("message does not start with the key: %s", e.Error())
					}
					if w.value != "" && !strings.Contains(e.Error(), fmt.Sprintf("%q", w.value)) {
						t.Errorf("message does not name the value %q: %s", w.value, e.Error())
					}
					if m := goTypeNames.FindString(e.Allowed); m != "" {
						t.Errorf("message names a Go type (%q): %s", m, e.Error())
					}
				}
			}
		})
	}
	if len(cases) < 60 {
		t.Errorf("%d bad inputs; keep at least 60", len(cases))
	}
}

// Values next to the bad ones above that must stay accepted.
func TestParseAcceptsGoodNeighbours(t *testing.T) {
	cases := []struct {
		name string
		raw  map[string]string
	}{
		{"empty defaults as the CLI hands them", with("publicBaseUrl", "", "mediaImage", "", "pools", "{}", "postgres", "{}", "dataProtection", "false")},
		{"dataProtection true", with("dataProtection", "true")},
		{"base URL with a port", with("publicBaseUrl", "http://matrix.localhost:8008/", "ingress", `{"enabled":false}`)},
		{"base URL without a slash", with("publicBaseUrl", "https://matrix.example.org")},
		{"IP base URL with the Ingress off", with("publicBaseUrl", "http://10.0.0.1:8008/", "ingress", `{"enabled":false}`)},
		{"IP base URL with an Ingress host", with("publicBaseUrl", "http://10.0.0.1:8008/", "ingress", `{"host":"matrix.example.org"}`)},
		{"rtc configured but off without an Ingress", with("rtc", `{"enabled":false,"host":"rtc.example.org"}`, "ingress", `{"enabled":false}`)},
		{"rtc with the Ingress on", with("rtc", `{"enabled":true}`, "ingress", `{"enabled":true}`)},
		{"media address private (an internal load balancer)", with("rtc", `{"media":{"externalAddress":"10.20.0.5"}}`)},
		{"media address shared (carrier-grade NAT) range", with("rtc", `{"media":{"externalAddress":"100.64.0.9"}}`)},
		{"media address next to link-local", with("rtc", `{"media":{"externalAddress":"169.253.255.255"}}`)},
		{"media address public", with("rtc", `{"enabled":true,"media":{"externalAddress":"198.51.100.7"}}`)},
		{"bucket with dots", with("minio", `{"bucket":"media.example.org"}`)},
		{"bucket with xn in the middle", with("minio", `{"bucket":"media-xn--x"}`)},
		{"storage floor", with("postgres", `{"storage":{"size":"1Gi"}}`, "mediaStorage", `{"size":"1Gi"}`)},
		{"whole number written as a float", with("pools", `{"generic":{"replicas":2.0}}`)},
		{"autoscale a zero pool with a floor", with("pools", `{"initialSync":{"autoscale":true,"minReplicas":1}}`)},
		{"replicas lift the tier ceiling", s3("tier", "small", "pools", `{"synchrotron":{"minReplicas":20}}`)},
		{"oci chart", with("postgres", `{"operatorChart":"oci://ghcr.io/cloudnative-pg/charts/cloudnative-pg"}`)},
		{"local chart ignores the version", with("postgres", `{"operatorChart":"./charts/cloudnative-pg-0.26.1.tgz","operatorChartVersion":"whatever"}`)},
		{"absolute chart path", with("postgres", `{"operatorChart":"/opt/charts/cloudnative-pg"}`)},
		{"chart mirror", with("postgres", `{"operatorChart":"https://charts.example.org/cnpg/"}`)},
		{"media cache bounds with S3", s3("mediaStorage", `{"cacheDays":1,"cacheMaxPercent":95}`)},
		{"media lifetimes", with("mediaRetention", `{"localMediaLifetime":"1d","remoteMediaLifetime":"2y"}`)},
		{"media lifetime in hours", with("mediaRetention", `{"remoteMediaLifetime":"24h"}`)},
		{"state compression descriptor", with("maintenance", `{"stateCompression":{"enabled":true,"image":"r.io/c@sha256:`+strings.Repeat("a", 64)+`","schedule":"@daily"}}`)},
		{"state compression ranges and steps", with("maintenance", `{"stateCompression":{"schedule":"*/15 2-5 * JAN-MAR mon-fri"}}`)},
		{"state compression configured while off", with("maintenance", `{"stateCompression":{"enabled":false,"image":"r.io/c:1","chunkSize":100,"chunks":1}}`)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse(tc.raw); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestOperatorChartSource(t *testing.T) {
	for _, tc := range []struct {
		chart, wantChart, wantRepo string
		local                      bool
	}{
		{"", "cloudnative-pg", DefaultOperatorChart, false}, // the default
		{"https://charts.example.org/cnpg", "cloudnative-pg", "https://charts.example.org/cnpg", false},
		{"oci://ghcr.io/cloudnative-pg/charts/cloudnative-pg", "oci://ghcr.io/cloudnative-pg/charts/cloudnative-pg", "", false},
		{"./charts/cloudnative-pg-0.26.1.tgz", "./charts/cloudnative-pg-0.26.1.tgz", "", true},
		{"/opt/charts/cloudnative-pg", "/opt/charts/cloudnative-pg", "", true},
	} {
		raw := base()
		if tc.chart != "" {
			raw["postgres"] = fmt.Sprintf(`{"operatorChart":%q}`, tc.chart)
		}
		c, err := Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		chart, repo := c.Postgres.OperatorChartSource()
		if chart != tc.wantChart || repo != tc.wantRepo || c.Postgres.OperatorChartIsLocal() != tc.local {
			t.Errorf("%q: source (%q, %q) local %v, want (%q, %q) local %v", tc.chart, chart, repo,
				c.Postgres.OperatorChartIsLocal(), tc.wantChart, tc.wantRepo, tc.local)
		}
	}
}

func TestSecretConfigIsRefusedWithoutItsValue(t *testing.T) {
	raw := with("tier", "s3cr3t-tier", "teir", "s3cr3t-typo")
	_, err := parse(raw, map[string]bool{"tier": true, "teir": true})
	var verr ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("want ValidationError, got %v", err)
	}
	if got := strings.Join(verr.Keys(), ","); got != "teir,tier" {
		t.Errorf("keys %s, want teir,tier", got)
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("a secret value is echoed:\n%v", err)
	}
}

// ReadStackFile hands values over as the CLI does: null as "null", scalars
// as JSON, non-string map keys as strings; Parse then names the key.
func TestReadStackFileAsTheCLI(t *testing.T) {
	file := t.TempDir() + "/Pulumi.x.yaml"
	yaml := "config:\n  synapse:serverName: example.org\n  synapse:postgres: ~\n  synapse:dataProtection: true\n" +
		"  synapse:streamWriters:\n    1: 2\n  synapse:tier: 2001-12-14\n"
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	raw, err := ReadStackFile(file)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"serverName": "example.org", "postgres": "null", "dataProtection": "true",
		"streamWriters": `{"1":2}`, "tier": "2001-12-14"}
	for k, v := range want {
		if raw[k] != v {
			t.Errorf("%s = %q, want %q", k, raw[k], v)
		}
	}
	_, err = Parse(raw)
	var verr ValidationError
	if !errors.As(err, &verr) || strings.Join(verr.Keys(), ",") != "postgres,tier,streamWriters.1" {
		t.Fatalf("want errors on postgres, tier and streamWriters.1, got %v", err)
	}
}
