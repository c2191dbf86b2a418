package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/distribution/reference"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Bounds that keep a stack inside what this program is built and tested for.
const (
	maxPoolReplicas = 64 // hash-balanced pools get one HAProxy server line per ordinal
	maxDBPool       = 100
)

const minioReplicasRule = "must be 1 (single drive) or 4 to 16 (distributed MinIO needs at least 4 drives for erasure coding)"

// ReservedNamespaces may not hold the stack: Kubernetes' own namespaces,
// and the CNPG operator's (a NetworkPolicy default-deny or a namespace
// deletion there would take the cluster or the operator with it).
var ReservedNamespaces = []string{"default", "kube-system", "kube-public", "kube-node-lease", CNPGOperatorNamespace}

// validate checks the resolved config: the top-level strings and the rules
// between keys (the values inside objects are checked as they are read). It
// never stops at the first problem.
func validate(el *errorList, c *Config, f facts) {
	// Identity. publicBaseUrl derives from serverName when unset, and the
	// Ingress host from publicBaseUrl: a derived value is only judged
	// through the key the user wrote.
	serverNameOK := false
	switch {
	case c.ServerName == "" && el.has("serverName"): // null or secret, reported
	case c.ServerName == "":
		el.add("serverName", "", "set it to the Matrix server name, a DNS name such as example.org (it is part of every user ID and cannot change later)")
	case len(validation.IsDNS1123Subdomain(c.ServerName)) > 0 || !strings.Contains(c.ServerName, "."):
		el.add("serverName", c.ServerName, "must be a lower-case DNS name with at least one dot, such as example.org")
	case slices.ContainsFunc(strings.Split(c.ServerName, "."), func(l string) bool { return len(l) > 63 }):
		el.add("serverName", c.ServerName, "must be a DNS name whose labels (the parts between dots) are at most 63 characters: DNS cannot resolve a longer one")
	case len(c.ServerName) > MaxServerNameLength:
		el.addf("serverName", c.ServerName, "must be at most %d characters: the services' own hosts (element.<serverName>, auth.…) must fit DNS's 253, and user IDs (@user:<serverName>) Matrix's 255", MaxServerNameLength)
	default:
		serverNameOK = true
	}
	baseOK := serverNameOK
	if f.publicBaseURL {
		if why := baseURLProblem(c.PublicBaseURL); why != "" {
			el.add("publicBaseUrl", c.PublicBaseURL, why)
			baseOK = false
		} else {
			baseOK = true
		}
	}
	if baseOK && !strings.HasSuffix(c.PublicBaseURL, "/") {
		c.PublicBaseURL += "/"
	}
	if errs := validation.IsDNS1123Label(c.Namespace); len(errs) > 0 {
		el.add("namespace", c.Namespace, "must be a Kubernetes namespace name: "+strings.Join(errs, "; "))
	} else if slices.Contains(ReservedNamespaces, c.Namespace) {
		el.addf("namespace", c.Namespace, "must not be one of %s: Kubernetes' own namespaces and the CNPG operator's may not hold the stack (its default-deny NetworkPolicy and its deletion would hit them)",
			strings.Join(ReservedNamespaces, ", "))
	}

	// Images: pinned, so that two `pulumi up` runs deploy the same code.
	checkImage(el, "image", c.Image)
	if f.mediaImage {
		checkImage(el, "mediaImage", c.MediaImage)
	}
	checkImage(el, "postgres.image", c.Postgres.Image)
	checkImage(el, "redis.image", c.Redis.Image)
	checkImage(el, "minio.image", c.MinIO.Image)
	checkImage(el, "minio.clientImage", c.MinIO.ClientImage)
	checkImage(el, "haproxy.image", c.HAProxy.Image)
	checkImage(el, "elementWeb.image", c.ElementWeb.Image)

	// Media workers without shared storage.
	if media := c.Pools[PoolMedia]; media.MaxReplicas() > 1 && !c.MinIO.Enabled {
		key, v := "pools.media.replicas", strconv.Itoa(media.MaxReplicas())
		if w, ok := f.countKeys[PoolMedia]; ok {
			key, v = w.key, w.text()
		}
		el.addf(key, v, "pools.media may run up to %d media workers, and more than one needs shared media storage: set minio.enabled=true (with a mediaImage that ships synapse-s3-storage-provider), or pools.media.replicas=1 and pools.media.autoscale=false",
			media.MaxReplicas())
	}
	if c.MinIO.Enabled && !f.mediaImage {
		el.add("mediaImage", "", "minio.enabled=true stores media through synapse-s3-storage-provider, which the stock Synapse image does not ship: set mediaImage to an image that does (see images/synapse-s3 in the README)")
	}

	// The CNPG operator's chart, backups and restore.
	checkOperatorChart(el, c.Postgres)
	checkBackup(el, c)
	checkConnectionBudget(el, c)
	validateMAS(el, c, f)

	// S3 bucket.
	if why := bucketProblem(c.MinIO.Bucket); why != "" {
		el.add("minio.bucket", c.MinIO.Bucket, "must be an S3 bucket name (3 to 63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit): "+why)
	}

	// Ingress: a written host is checked even with the Ingress off (turning
	// it on later must not be the moment a typo shows).
	if f.ingressHost {
		if why := ingressHostProblem(c.Ingress.Host); why != "" {
			el.add("ingress.host", c.Ingress.Host, why)
		}
	} else if c.Ingress.Enabled && baseOK && ingressHostProblem(c.Ingress.Host) != "" {
		el.addf("ingress.host", "", "the Ingress needs a DNS host name and the host of publicBaseUrl (%s) is not one: set ingress.host, or ingress.enabled=false", c.Ingress.Host)
	}
	if c.Ingress.ClassName != "" {
		if errs := validation.IsDNS1123Subdomain(c.Ingress.ClassName); len(errs) > 0 {
			el.add("ingress.className", c.Ingress.ClassName, "must be an IngressClass name (a lower-case DNS name such as nginx)")
		}
	}
	checkSecretName(el, "ingress.tlsSecretName", c.Ingress.TLSSecretName)
	// Element Web: like ingress.host, a written host is checked even with
	// Element Web off; the default (element.<serverName>) is judged only
	// through serverName.
	checkOwnHost(el, "elementWeb.host", c.ElementWeb.Host, f.elementHost, "element")
	checkSecretName(el, "elementWeb.tlsSecretName", c.ElementWeb.TLSSecretName)
	if baseOK && c.Ingress.Enabled && c.Ingress.TLSSecretName != "" && strings.HasPrefix(c.PublicBaseURL, "http:") {
		el.add("publicBaseUrl", c.PublicBaseURL, "must be an https URL when ingress.tlsSecretName is set: clients (and MAS's sign-in pages, which would then also accept http redirect URIs) would start in clear text and send tokens and passwords before any redirect to https")
	}
	if errs := validation.IsDNS1123Label(c.Monitoring.Namespace); len(errs) > 0 {
		el.add("monitoring.namespace", c.Monitoring.Namespace, "must be a namespace name (lower-case letters, digits and hyphens)")
	} else if c.Monitoring.Enabled && c.Monitoring.Namespace == c.Namespace {
		el.add("monitoring.namespace", c.Monitoring.Namespace, "must be Prometheus's namespace, not the stack's: the metrics ports admit every pod of monitoring.namespace, which would then include LiveKit and every other pod of the stack")
	}
}

// MaxServerNameLength leaves room for the longest service host prefix
// ("element.", 8 characters, under DNS's 253) and for a user ID of a
// 16-character localpart (@…:, under Matrix's 255).
const MaxServerNameLength = 230

// checkOwnHost judges a host of its own (Element Web's, MAS's, the admin
// console's) as the user wrote it: a DNS name (def is its default's first
// label). checkHosts judges it against the other hosts.
func checkOwnHost(el *errorList, key, host string, written bool, def string) {
	if !written {
		return
	}
	if ingressHostProblem(host) != "" {
		el.addf(key, host, "must be a lower-case DNS name such as %s.example.org, not an IP address (it defaults to %s.<serverName>)", def, def)
	}
}

// checkSecretName refuses a set Secret name that is not a DNS subdomain.
func checkSecretName(el *errorList, key, name string) {
	if name != "" && len(validation.IsDNS1123Subdomain(name)) > 0 {
		el.add(key, name, "must be a Secret name (lower-case DNS name)")
	}
}

// checkConnectionBudget refuses a config whose Synapse processes could open
// more Postgres connections than its memory limit pays for (see
// ConnectionBudget in connections.go). The error names databasePool.max,
// the one knob that scales every process's share.
func checkConnectionBudget(el *errorList, c *Config) {
	need, limit := c.MaxConnections(), c.Postgres.ConnectionLimit()
	if limit == 0 || need <= limit {
		return
	}
	el.addf("databasePool.max", strconv.Itoa(c.DatabasePool.Max),
		"Synapse could open %d Postgres connections (%d processes at their most replicas × databasePool.max %d, plus %d for CNPG and admin), more than the %d that postgres.resources.limits.memory (%s) pays for at 4Mi each: lower databasePool.max or the pools' maxReplicas, or raise postgres.resources.limits.memory",
		need, c.MaxSynapseProcesses(), c.DatabasePool.Max, ConnectionHeadroom, limit, c.Postgres.Resources.Limits.Memory)
}

// baseURLProblem says what is wrong with publicBaseUrl, "" if nothing.
func baseURLProblem(s string) string {
	const want = "must be an absolute http(s) URL such as https://matrix.example.org/"
	u, err := url.Parse(s)
	switch {
	case err != nil && strings.Contains(err.Error(), "invalid port"):
		return want + ": the port must be a number from 1 to 65535"
	case err != nil:
		return want
	case u.Scheme != "https" && u.Scheme != "http":
		return want + ": the scheme must be https (or http for a dev stack)"
	case u.Opaque != "" || u.Host == "":
		return want + ": it has no host"
	case u.User != nil:
		return want + ": it must not carry a user name or password (user:pass@), which every client would see"
	case strings.HasSuffix(u.Host, ":"):
		return want + ": the port must be a number from 1 to 65535"
	case u.RawQuery != "" || u.ForceQuery:
		return want + ": it must not have a query (?…)"
	case u.Fragment != "" || strings.Contains(s, "#"):
		return want + ": it must not have a fragment (#…)"
	case u.Path != "" && u.Path != "/":
		return want + ": it must not have a path, because Synapse's endpoints (/_matrix, /_synapse) are routed at the root of the host"
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return want + ": the port must be a number from 1 to 65535"
		}
	}
	if h := u.Hostname(); net.ParseIP(h) == nil && len(validation.IsDNS1123Subdomain(h)) > 0 {
		return want + ": the host must be a lower-case DNS name or an IP address"
	}
	return ""
}

func ingressHostProblem(h string) string {
	if len(validation.IsDNS1123Subdomain(h)) > 0 || net.ParseIP(h) != nil {
		return "must be a lower-case DNS name such as matrix.example.org, not an IP address (it defaults to the host of publicBaseUrl)"
	}
	return ""
}

var chartVersion = regexp.MustCompile(`^\d+\.\d+\.\d+$`)

// checkOperatorChart checks postgres.operatorChart and, for the sources
// that have versions, postgres.operatorChartVersion. A local chart is the
// version it is: operatorChartVersion is ignored for it.
func checkOperatorChart(el *errorList, p Postgres) {
	const key = "postgres.operatorChart"
	const want = "must be a Helm repository URL (such as " + DefaultOperatorChart + "), an oci:// chart reference (such as oci://ghcr.io/cloudnative-pg/charts/cloudnative-pg) or a path to a chart directory or .tgz"
	s := p.OperatorChart
	switch {
	case s == "":
		el.add(key, s, want)
		return
	case strings.TrimSpace(s) == "":
		el.add(key, s, want+"; it must not be blank")
		return
	case strings.TrimSpace(s) != s:
		el.add(key, s, want+"; it must not start or end with white space")
		return
	case isHTTPURL(s):
		u, err := url.Parse(s)
		switch {
		case err != nil || u.Host == "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
			el.add(key, s, want+"; this http(s) URL is not a repository URL (a host, a path, no query or fragment)")
		case u.User != nil:
			el.add(key, s, want+"; a repository URL must not carry a user name or password (user:pass@): they would be stored in the stack's state in plain text")
		case strings.HasSuffix(u.Path, ".tgz"):
			el.add(key, s, want+"; an http(s) URL names a Helm repository (the chart cloudnative-pg in it), not a chart archive: give the repository URL, or download the .tgz and give its path")
		}
	case strings.HasPrefix(s, ociScheme):
		ref, err := reference.ParseNamed(strings.TrimPrefix(s, ociScheme))
		if err != nil {
			el.add(key, s, want+"; after oci:// comes a registry host and repository, such as ghcr.io/cloudnative-pg/charts/cloudnative-pg")
			return
		}
		_, tagged := ref.(reference.Tagged)
		_, digested := ref.(reference.Digested)
		if tagged || digested {
			el.add(key, s, want+"; give the version in postgres.operatorChartVersion, not as a tag or digest of the reference")
		}
	case strings.Contains(s, "://"):
		el.add(key, s, want+"; only http://, https:// and oci:// URLs are chart sources")
	}
	if !p.OperatorChartIsLocal() && !chartVersion.MatchString(p.OperatorChartVersion) {
		el.add("postgres.operatorChartVersion", p.OperatorChartVersion, "must be a cloudnative-pg Helm chart version such as "+DefaultOperatorChartVersion)
	}
}

var bucketChars = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*[a-z0-9]$`)

// bucketProblem applies AWS's general purpose bucket naming rules (which
// MinIO enforces too), "" if the name follows them.
func bucketProblem(b string) string {
	switch {
	case len(b) < 3 || len(b) > 63:
		return fmt.Sprintf("it has %d characters", len(b))
	case !bucketChars.MatchString(b):
		return "it has a character other than those, or starts or ends with a dot or hyphen"
	case strings.Contains(b, ".."):
		return "it has two adjacent dots"
	case strings.Contains(b, ".-") || strings.Contains(b, "-."):
		return "a dot may not be next to a hyphen"
	case net.ParseIP(b) != nil:
		return "it must not be formatted as an IP address"
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(b, p) {
			return "the prefix " + p + " is reserved"
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(b, s) {
			return "the suffix " + s + " is reserved"
		}
	}
	return ""
}

// Pools that must run at least one instance: they serve traffic that the
// main process does not take back (media: main has enable_media_repo off).
var requiredPools = map[Pool]bool{PoolMain: true, PoolGeneric: true, PoolSynchrotron: true, PoolMedia: true, PoolEventPersister: true}

var poolMax = map[Pool]struct {
	n   int
	why string
}{
	PoolBackground: {1, "must be 0 (the main process runs background tasks) or 1: run_background_tasks_on names a single instance"},
}

// Pools whose members are named in shared config: an HPA would add
// instances nobody knows about, so they scale by config only.
var notAutoscaled = map[Pool]string{
	PoolEventPersister: "event persisters are named in instance_map and stream_writers; scale them with replicas (every process restarts)",
	PoolPusher:         "pushers are named in pusher_instances; scale them with replicas",
	PoolBackground:     "the background worker is a single named instance",
	PoolMain:           "the main process is a single instance",
}

func poolWhy(p Pool) string {
	if requiredPools[p] {
		return " (this pool serves traffic that cannot fall back to another process)"
	}
	return " (0 turns the pool off)"
}

func checkImage(el *errorList, key, image string) {
	ref, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		el.add(key, image, "must be an image reference such as ghcr.io/element-hq/synapse:v1.157.0 ("+err.Error()+")")
		return
	}
	_, tagged := ref.(reference.Tagged)
	_, digested := ref.(reference.Digested)
	if !tagged && !digested {
		el.add(key, image, "must pin a tag or a digest (for example :v1.157.0 or @sha256:…), so every `pulumi up` deploys the same code")
	} else if t, ok := ref.(reference.Tagged); ok && t.Tag() == "latest" && !digested {
		el.add(key, image, "must not use the moving tag :latest; pin a version or a digest")
	}
}

func streamNames() string {
	names := make([]string, len(Streams))
	for i, s := range Streams {
		names[i] = s.Name
	}
	return strings.Join(names, ", ")
}
