// Package synapseconfig renders Synapse's configuration files from the plan:
// the shared homeserver.yaml (non-secret, in a ConfigMap, reviewable in
// diffs), the main process's listeners, one worker file per pool, and the
// layout of the secret files. Secrets never pass through here: the shared
// file points at them with Synapse's *_path options, and their values are
// written by the components straight into a Kubernetes Secret.
package synapseconfig

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"synapse/config"
	"synapse/plan"
)

// Where pods mount things.
const (
	ConfigDir  = "/config"  // the ConfigMap
	SecretsDir = "/secrets" // the Secret of generated secrets
	WorkerDir  = "/worker"  // emptyDir: the worker file with the pod's own name
	MediaDir   = "/media"   // the local media store (a cache in front of S3 when S3 is on)
	TmpDir     = "/tmp"     // emptyDir: read-only root filesystem

	SharedFile = "homeserver.yaml"
	LogFile    = "log.yaml"
	MainFile   = "main.yaml"
	WorkerFile = "worker.yaml"

	// WorkerNamePlaceholder is replaced by the pod name at start-up.
	WorkerNamePlaceholder = "@WORKER_NAME@"
)

// Secret file names inside SecretsDir (keys of the Kubernetes Secret).
const (
	SecretMacaroon     = "macaroon_secret_key"
	SecretForm         = "form_secret"
	SecretRegistration = "registration_shared_secret"
	SecretReplication  = "worker_replication_secret"
	SecretSigningKey   = "signing.key"
	SecretRedis        = "redis_password"
	// SecretMAS is the secret shared with MAS (mas.enabled only).
	SecretMAS = "mas_shared_secret"
)

// SecretFiles lists every key the Synapse Secret must hold.
var SecretFiles = []string{SecretMacaroon, SecretForm, SecretRegistration, SecretReplication, SecretSigningKey, SecretRedis}

// Environment variables the pods get from Secrets (valueFrom, never value).
const (
	EnvPostgresPassword = "PGPASSWORD"            // libpq reads it: no password in any file
	EnvS3AccessKey      = "AWS_ACCESS_KEY_ID"     // boto3, for synapse-s3-storage-provider
	EnvS3SecretKey      = "AWS_SECRET_ACCESS_KEY" // boto3
)

// External is where the data plane lives; the components fill it in.
type External struct {
	PostgresHost     string
	PostgresPort     int
	PostgresDatabase string
	PostgresUser     string
	RedisHost        string
	RedisPort        int
	S3               *S3 // nil: media only on the local store
}

// S3 is the media bucket.
type S3 struct {
	Endpoint string // http://minio.<ns>.svc.cluster.local:9000
	Bucket   string
	Region   string
}

// Files is the content of the Synapse ConfigMap.
type Files map[string]string

// WorkerFileName is the ConfigMap key of a pool's worker template.
func WorkerFileName(proc plan.Process) string { return "worker-" + string(proc.Role) + ".yaml" }

// Render renders every file of the Synapse ConfigMap.
func Render(c *config.Config, p *plan.Plan, ext External) (Files, error) {
	files := Files{}
	var err error
	if files[SharedFile], err = marshal(Shared(c, p, ext)); err != nil {
		return nil, err
	}
	if files[LogFile], err = marshal(logConfig()); err != nil {
		return nil, err
	}
	for _, proc := range p.Processes {
		if proc.Role == plan.RoleMain {
			if files[MainFile], err = marshal(mainConfig(proc)); err != nil {
				return nil, err
			}
			continue
		}
		if files[WorkerFileName(proc)], err = marshal(workerConfig(proc)); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// Shared is homeserver.yaml: what every process reads.
func Shared(c *config.Config, p *plan.Plan, ext External) map[string]any {
	hs := map[string]any{
		"server_name":                     c.ServerName,
		"public_baseurl":                  c.PublicBaseURL,
		"report_stats":                    false,
		"log_config":                      ConfigDir + "/" + LogFile,
		"media_store_path":                MediaDir,
		"signing_key_path":                SecretsDir + "/" + SecretSigningKey,
		"macaroon_secret_key_path":        SecretsDir + "/" + SecretMacaroon,
		"form_secret_path":                SecretsDir + "/" + SecretForm,
		"registration_shared_secret_path": SecretsDir + "/" + SecretRegistration,
		"worker_replication_secret_path":  SecretsDir + "/" + SecretReplication,
		"enable_metrics":                  true,
		"enable_registration":             false,
		"serve_server_wellknown":          false, // the Ingress answers /.well-known/matrix/*
		"max_upload_size":                 "100M",
		"suppress_key_server_warning":     true,
		"database": map[string]any{
			"name": "psycopg2",
			"args": map[string]any{
				"user":     ext.PostgresUser,
				"database": ext.PostgresDatabase,
				"host":     ext.PostgresHost,
				"port":     ext.PostgresPort,
				"cp_min":   p.DatabasePool.Min,
				"cp_max":   p.DatabasePool.Max,
				// The password comes from PGPASSWORD (valueFrom a Secret).
				"keepalives_idle":     10,
				"keepalives_interval": 10,
				"keepalives_count":    3,
			},
		},
		"redis": map[string]any{
			"enabled":       true,
			"host":          ext.RedisHost,
			"port":          ext.RedisPort,
			"password_path": SecretsDir + "/" + SecretRedis,
		},
	}

	instanceMap := map[string]any{}
	for _, e := range p.InstanceMap {
		instanceMap[e.Name] = map[string]any{"host": e.Host, "port": e.Port}
	}
	hs["instance_map"] = instanceMap
	writers := map[string]any{}
	for stream, names := range p.StreamWriters {
		writers[stream] = names
	}
	hs["stream_writers"] = writers

	// Media: main does not serve media; the media pool does.
	hs["enable_media_repo"] = false
	if p.MediaBackgroundWorker != "" {
		hs["media_instance_running_background_jobs"] = p.MediaBackgroundWorker
	}
	if ext.S3 != nil {
		hs["media_storage_providers"] = []any{map[string]any{
			"module":            "s3_storage_provider.S3StorageProviderBackend",
			"store_local":       true, // keep local storage on (synapse#19413)
			"store_remote":      true,
			"store_synchronous": true, // several media workers share S3, not the local store
			"config": map[string]any{
				"bucket":       ext.S3.Bucket,
				"endpoint_url": ext.S3.Endpoint,
				"region_name":  ext.S3.Region,
				// Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from a Secret.
			},
		}}
	}

	// Purging old media is Synapse's own job (hourly, on media workers),
	// by last access; unset lifetimes purge nothing.
	if mr := mediaRetention(c.MediaRetention); mr != nil {
		hs["media_retention"] = mr
	}

	// Federation. An empty federation_sender_instances means nobody sends:
	// emit it only with senders, or when federation is off on purpose.
	//
	// trusted_key_servers is always set: left out, Synapse defaults to
	// matrix.org and logs a warning on every start of every process. With
	// federation on we choose matrix.org (the key server every other
	// homeserver trusts by default, and what Synapse would pick) and
	// suppress the warning that exists only to make that choice explicit.
	if c.Federation.Enabled {
		if len(p.FederationSenders) > 0 {
			hs["federation_sender_instances"] = p.FederationSenders
		}
		hs["trusted_key_servers"] = []any{map[string]any{"server_name": "matrix.org"}}
		hs["suppress_key_server_warning"] = true
	} else {
		hs["federation_sender_instances"] = []string{}
		hs["federation_domain_whitelist"] = []string{} // accept from nobody
		hs["allow_public_rooms_over_federation"] = false
		hs["trusted_key_servers"] = []any{} // key queries are federation traffic too
	}
	if len(p.Pushers) > 0 {
		hs["pusher_instances"] = p.Pushers
	}
	if mas, ok := p.MAS(); ok {
		// MSC3861: MAS owns accounts, passwords and sessions; Synapse
		// asks it about every access token. Synapse refuses password
		// login and its own registration alongside it.
		hs["matrix_authentication_service"] = map[string]any{
			"enabled":     true,
			"endpoint":    mas.ServiceURL(),
			"secret_path": SecretsDir + "/" + SecretMAS,
		}
		hs["password_config"] = map[string]any{"enabled": false, "localdb_enabled": false}
		// Sign in on a new device by scanning a QR code (MSC4108), as
		// Element X offers with MAS; ess-helm turns it on with MAS.
		hs["experimental_features"] = map[string]any{"msc4108_enabled": true}
	}
	if p.BackgroundWorker != "" {
		hs["run_background_tasks_on"] = p.BackgroundWorker
		hs["update_user_directory_from_worker"] = p.BackgroundWorker
		hs["notify_appservices_from_worker"] = p.BackgroundWorker
	}
	addRTC(hs, c)
	return hs
}

func listeners(proc plan.Process) []any {
	out := make([]any, 0, len(proc.Listeners))
	for _, l := range proc.Listeners {
		m := map[string]any{"port": l.Port, "type": l.Type, "bind_addresses": []string{"0.0.0.0"}}
		if l.Type == "http" {
			m["tls"] = false
			m["x_forwarded"] = l.XForwarded
			m["resources"] = []any{map[string]any{"names": l.Resources, "compress": false}}
		}
		out = append(out, m)
	}
	return out
}

func mainConfig(proc plan.Process) map[string]any {
	return map[string]any{"listeners": listeners(proc)}
}

func workerConfig(proc plan.Process) map[string]any {
	return map[string]any{
		"worker_app":        proc.App,
		"worker_name":       WorkerNamePlaceholder,
		"worker_listeners":  listeners(proc),
		"worker_log_config": ConfigDir + "/" + LogFile,
	}
}

// logConfig logs to stdout in Synapse's structured format.
func logConfig() map[string]any {
	return map[string]any{
		"version": 1,
		"formatters": map[string]any{"precise": map[string]any{
			"format": "%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s",
		}},
		"handlers": map[string]any{"console": map[string]any{
			"class": "logging.StreamHandler", "formatter": "precise",
		}},
		"loggers":                  map[string]any{"synapse.storage.SQL": map[string]any{"level": "INFO"}},
		"root":                     map[string]any{"level": "INFO", "handlers": []string{"console"}},
		"disable_existing_loggers": false,
	}
}

func marshal(v any) (string, error) {
	b, err := yaml.Marshal(v) // yaml.v3 sorts map keys: stable output, clean diffs
	if err != nil {
		return "", fmt.Errorf("synapseconfig: %w", err)
	}
	return string(b), nil
}

// Args are the Synapse container arguments of a process: the shared file,
// then its own file (Synapse merges several --config-path files, later keys
// winning at the top level).
func Args(proc plan.Process) []string {
	own := WorkerDir + "/" + WorkerFile
	if proc.Role == plan.RoleMain {
		own = ConfigDir + "/" + MainFile
	}
	return []string{"-m", proc.App, "--config-path", ConfigDir + "/" + SharedFile, "--config-path", own}
}

// CheckArgs are the arguments of Synapse's own config check for a process
// (`python -m synapse.config`: loads the files as the process would and
// exits 1 on a ConfigError). Workers are checked with their template file:
// the placeholder name is a valid worker_name.
func CheckArgs(proc plan.Process) []string {
	own := ConfigDir + "/" + WorkerFileName(proc)
	if proc.Role == plan.RoleMain {
		own = ConfigDir + "/" + MainFile
	}
	return []string{"-m", "synapse.config", "--config-path", ConfigDir + "/" + SharedFile, "--config-path", own}
}

// ChecksumAll hashes every file: what the config check reads.
func ChecksumAll(files Files) string {
	keys := make([]string, 0, len(files))
	for k := range files {
		keys = append(keys, k)
	}
	return hashFiles(files, keys)
}

// InitScript writes the pool's worker file with the pod's own name (from
// the POD_NAME env, the downward API) into WorkerDir.
func InitScript(proc plan.Process) []string {
	return []string{"sh", "-c", fmt.Sprintf(`set -eu; sed "s/%s/${POD_NAME}/" %s/%s > %s/%s`,
		WorkerNamePlaceholder, ConfigDir, WorkerFileName(proc), WorkerDir, WorkerFile)}
}

// Checksum is what a process reads from the ConfigMap: the shared files and
// its own. It goes on the pod template, so a change rolls exactly the
// processes that read it.
func Checksum(files Files, proc plan.Process) string {
	keys := []string{SharedFile, LogFile}
	if proc.Role == plan.RoleMain {
		keys = append(keys, MainFile)
	} else {
		keys = append(keys, WorkerFileName(proc))
	}
	return hashFiles(files, keys)
}

// ExternalFor derives the data plane addresses from the plan; s3 reports
// whether the media store is MinIO.
func ExternalFor(c *config.Config, p *plan.Plan) External {
	pg, redis := p.Postgres(), p.Redis()
	ext := External{
		PostgresHost: pg.Host(), PostgresPort: pg.Port,
		PostgresDatabase: plan.PostgresDatabase, PostgresUser: plan.PostgresOwner,
		RedisHost: redis.Host(), RedisPort: redis.Port,
	}
	if c.MinIO.Enabled {
		m := p.MinIO()
		ext.S3 = &S3{Endpoint: fmt.Sprintf("http://%s:%d", m.Host(), m.Port), Bucket: c.MinIO.Bucket, Region: "us-east-1"}
	}
	return ext
}

// SigningKey formats a 32-byte ed25519 seed as Synapse's signing key file.
func SigningKey(seed []byte) string {
	return "ed25519 a_pulumi " + base64.RawStdEncoding.EncodeToString(seed) + "\n"
}

// SigningKeyFromSecret derives the signing key from a generated secret
// (a RandomPassword of at least 256 bits): the seed is its SHA-256. The
// secret is kept in state, so the key is stable across updates (a new key
// would invalidate every signature peers cached).
func SigningKeyFromSecret(secret string) string {
	seed := sha256.Sum256([]byte(secret))
	return SigningKey(seed[:])
}

// Matrix discovery paths the router answers.
const (
	WellKnownClient = "/.well-known/matrix/client"
	WellKnownServer = "/.well-known/matrix/server"
)

// WellKnown is the JSON of Matrix server discovery: where clients find the
// homeserver and, with MAS, its issuer and account page (MSC2965, as
// Synapse itself would answer and ess-helm serves), with RTC its call
// backend; and (only with federation or RTC on) where other servers reach
// it (delegation from the server name to the public host, port 443 for
// https): the MatrixRTC authorization service finds the server's
// openid/userinfo endpoint that way.
func WellKnown(c *config.Config) map[string]string {
	base := strings.TrimSuffix(c.PublicBaseURL, "/")
	clientDoc := map[string]any{"m.homeserver": map[string]string{"base_url": base}}
	if c.MAS.Enabled {
		clientDoc["org.matrix.msc2965.authentication"] = map[string]string{
			"issuer":  c.MAS.PublicBaseURL,
			"account": c.MAS.AccountURL(),
		}
	}
	addRTCWellKnown(clientDoc, c)
	client, _ := json.Marshal(clientDoc)
	out := map[string]string{WellKnownClient: string(client)}
	if c.Federation.Enabled || c.RTC.Enabled {
		u, err := url.Parse(c.PublicBaseURL)
		if err == nil {
			port := u.Port()
			if port == "" {
				port = "443"
				if u.Scheme == "http" {
					port = "80"
				}
			}
			server, _ := json.Marshal(map[string]string{"m.server": u.Hostname() + ":" + port})
			out[WellKnownServer] = string(server)
		}
	}
	return out
}

// hashFiles hashes the named files, in sorted order, names included.
func hashFiles(files Files, keys []string) string {
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%s\x00%s\x00", k, files[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}
