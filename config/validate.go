package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/distribution/reference"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Bounds that keep a stack inside what this program is built and tested for.
const (
	maxPoolReplicas = 64 // hash-balanced pools get one HAProxy server line per ordinal
	maxDBPool       = 100
)

// validate checks the resolved config. It never stops at the first problem.
func validate(el *errorList, c *Config, raw map[string]string) {
	// Identity.
	if c.ServerName == "" {
		el.add("serverName", "", "set it to the Matrix server name, a DNS name such as example.org (it is part of every user ID and cannot change later)")
	} else if errs := validation.IsDNS1123Subdomain(c.ServerName); len(errs) > 0 || !strings.Contains(c.ServerName, ".") {
		el.add("serverName", c.ServerName, "must be a lower-case DNS name with at least one dot, such as example.org")
	}
	if u, err := url.Parse(c.PublicBaseURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		el.add("publicBaseUrl", c.PublicBaseURL, "must be an absolute http(s) URL such as https://matrix.example.org/")
	} else if !strings.HasSuffix(c.PublicBaseURL, "/") {
		c.PublicBaseURL += "/"
	}
	if errs := validation.IsDNS1123Label(c.Namespace); len(errs) > 0 {
		el.add("namespace", c.Namespace, "must be a Kubernetes namespace name: "+strings.Join(errs, "; "))
	}

	// Images: pinned, so that two `pulumi up` runs deploy the same code.
	checkImage(el, "image", c.Image)
	if raw["mediaImage"] != "" {
		checkImage(el, "mediaImage", c.MediaImage)
	}
	checkImage(el, "postgres.image", c.Postgres.Image)
	checkImage(el, "redis.image", c.Redis.Image)
	checkImage(el, "minio.image", c.MinIO.Image)
	checkImage(el, "minio.clientImage", c.MinIO.ClientImage)
	checkImage(el, "haproxy.image", c.HAProxy.Image)

	// Pools.
	for _, p := range Pools {
		validatePool(el, p, c.Pools[p])
	}
	if media := c.Pools[PoolMedia]; media.MaxReplicas() > 1 && !c.MinIO.Enabled {
		el.addf("pools.media.replicas", strconv.Itoa(media.MaxReplicas()),
			"more than one media worker needs shared media storage: set minio.enabled=true (with a mediaImage that ships synapse-s3-storage-provider), or pools.media.replicas=1 and pools.media.autoscale=false")
	}
	if c.MinIO.Enabled && raw["mediaImage"] == "" {
		el.add("mediaImage", "", "minio.enabled=true stores media through synapse-s3-storage-provider, which the stock Synapse image does not ship: set mediaImage to an image that does (see images/synapse-s3 in the README)")
	}

	// Federation.
	if c.Federation.Senders < 0 || c.Federation.Senders > maxPoolReplicas {
		el.addf("federation.senders", strconv.Itoa(c.Federation.Senders), "must be between 0 (the main process sends) and %d", maxPoolReplicas)
	}

	// Stream writers.
	for name, n := range c.StreamWriters {
		s, ok := StreamByName(name)
		key := "streamWriters." + name
		switch {
		case !ok:
			el.addf(key, name, "unknown stream; configurable streams: %s (events are written by pools.eventPersister)", streamNames())
		case n < 0:
			el.add(key, strconv.Itoa(n), "must be 0 (the main process writes it) or more")
		case !s.MultiWriter && n > 1:
			el.addf(key, strconv.Itoa(n), "Synapse allows a single writer for the %s stream (docs/workers.md: \"unless otherwise documented, each stream can only have a single writer\"); use 0 (main) or 1", name)
		case n > MaxMultiWriters:
			el.addf(key, strconv.Itoa(n), "must be at most %d", MaxMultiWriters)
		}
	}

	// Database.
	if c.DatabasePool.Min < 1 {
		el.add("databasePool.min", strconv.Itoa(c.DatabasePool.Min), "must be at least 1")
	}
	if c.DatabasePool.Max < c.DatabasePool.Min || c.DatabasePool.Max > maxDBPool {
		el.addf("databasePool.max", strconv.Itoa(c.DatabasePool.Max), "must be between databasePool.min (%d) and %d", c.DatabasePool.Min, maxDBPool)
	}
	if c.Postgres.Instances < 1 || c.Postgres.Instances > 9 {
		el.add("postgres.instances", strconv.Itoa(c.Postgres.Instances), "must be between 1 and 9 (1 primary plus standbys)")
	}
	checkStorage(el, "postgres.storage", c.Postgres.Storage)
	if !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(c.Postgres.OperatorChartVersion) {
		el.add("postgres.operatorChartVersion", c.Postgres.OperatorChartVersion, "must be a cloudnative-pg Helm chart version such as "+DefaultOperatorChartVersion)
	}

	// Media storage.
	checkStorage(el, "mediaStorage", c.MediaStorage)
	if c.MinIO.Replicas != 1 && (c.MinIO.Replicas < 4 || c.MinIO.Replicas > 16) {
		el.add("minio.replicas", strconv.Itoa(c.MinIO.Replicas), "must be 1 (single drive) or 4 to 16 (distributed MinIO needs at least 4 drives for erasure coding)")
	}
	checkStorage(el, "minio.storage", c.MinIO.Storage)
	if !regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`).MatchString(c.MinIO.Bucket) || strings.Contains(c.MinIO.Bucket, "..") {
		el.add("minio.bucket", c.MinIO.Bucket, "must be an S3 bucket name: 3 to 63 lower-case letters, digits, dots and hyphens")
	}

	// Router and ingress.
	if c.HAProxy.Replicas < 1 || c.HAProxy.Replicas > 16 {
		el.add("haproxy.replicas", strconv.Itoa(c.HAProxy.Replicas), "must be between 1 and 16 (2 or more in production)")
	}
	if c.Ingress.Enabled {
		if errs := validation.IsDNS1123Subdomain(c.Ingress.Host); len(errs) > 0 {
			el.add("ingress.host", c.Ingress.Host, "must be a DNS name (it defaults to the host of publicBaseUrl)")
		}
	}
	if c.Ingress.ClassName != "" {
		if errs := validation.IsDNS1123Subdomain(c.Ingress.ClassName); len(errs) > 0 {
			el.add("ingress.className", c.Ingress.ClassName, "must be an IngressClass name")
		}
	}
	if c.Ingress.TLSSecretName != "" {
		if errs := validation.IsDNS1123Subdomain(c.Ingress.TLSSecretName); len(errs) > 0 {
			el.add("ingress.tlsSecretName", c.Ingress.TLSSecretName, "must be a Secret name (lower-case DNS name)")
		}
	}
	for k := range c.Ingress.Annotations {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			el.add("ingress.annotations", k, "annotation keys must be qualified names such as nginx.ingress.kubernetes.io/proxy-body-size")
		}
	}
	if errs := validation.IsDNS1123Label(c.Monitoring.Namespace); len(errs) > 0 {
		el.add("monitoring.namespace", c.Monitoring.Namespace, "must be a namespace name")
	}
}

func validatePool(el *errorList, p Pool, s PoolSize) {
	key := "pools." + string(p)
	min := 0
	if requiredPools[p] {
		min = 1
	}
	if s.Replicas < min || s.Replicas > maxPoolReplicas {
		el.addf(key+".replicas", strconv.Itoa(s.Replicas), "must be between %d and %d%s", min, maxPoolReplicas, poolWhy(p))
	}
	if limit, ok := poolMax[p]; ok && s.MaxReplicas() > limit.n {
		el.addf(key+".replicas", strconv.Itoa(s.MaxReplicas()), "%s", limit.why)
	}
	if a := s.Autoscale; a != nil {
		if a.Min < 1 {
			el.add(key+".minReplicas", strconv.Itoa(a.Min), "must be at least 1 when autoscaling")
		}
		if a.Max < a.Min {
			el.addf(key+".maxReplicas", strconv.Itoa(a.Max), "must be at least minReplicas (%d)", a.Min)
		} else if a.Max > maxPoolReplicas {
			el.addf(key+".maxReplicas", strconv.Itoa(a.Max), "must be at most %d", maxPoolReplicas)
		}
		if s.Replicas < a.Min || s.Replicas > a.Max {
			el.addf(key+".replicas", strconv.Itoa(s.Replicas), "must lie within minReplicas..maxReplicas (%d..%d)", a.Min, a.Max)
		}
		if _, ok := notAutoscaled[p]; ok {
			el.addf(key+".autoscale", "true", "%s", notAutoscaled[p])
		}
	}
	checkQuantity(el, key+".resources.requests.cpu", s.Resources.Requests.CPU, "CPU, such as 500m or 2")
	checkQuantity(el, key+".resources.requests.memory", s.Resources.Requests.Memory, "memory, such as 512Mi or 2Gi")
	checkQuantity(el, key+".resources.limits.cpu", s.Resources.Limits.CPU, "CPU, such as 500m or 2")
	checkQuantity(el, key+".resources.limits.memory", s.Resources.Limits.Memory, "memory, such as 512Mi or 2Gi")
	lessOrEqual(el, key+".resources.requests.cpu", s.Resources.Requests.CPU, s.Resources.Limits.CPU)
	lessOrEqual(el, key+".resources.requests.memory", s.Resources.Requests.Memory, s.Resources.Limits.Memory)
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

func checkStorage(el *errorList, key string, s Storage) {
	checkQuantity(el, key+".size", s.Size, "storage, such as 10Gi")
	if s.StorageClass != "" {
		if errs := validation.IsDNS1123Subdomain(s.StorageClass); len(errs) > 0 {
			el.add(key+".storageClass", s.StorageClass, "must be a StorageClass name")
		}
	}
}

func checkQuantity(el *errorList, key, v, what string) {
	q, err := resource.ParseQuantity(v)
	if err != nil {
		el.addf(key, v, "must be a Kubernetes quantity of %s", what)
		return
	}
	if q.Sign() <= 0 {
		el.addf(key, v, "must be a positive Kubernetes quantity of %s", what)
	}
}

func lessOrEqual(el *errorList, key, request, limit string) {
	r, err1 := resource.ParseQuantity(request)
	l, err2 := resource.ParseQuantity(limit)
	if err1 == nil && err2 == nil && r.Cmp(l) > 0 {
		el.add(key, request, fmt.Sprintf("a request must not exceed its limit (%s)", limit))
	}
}

func streamNames() string {
	names := make([]string, len(Streams))
	for i, s := range Streams {
		names[i] = s.Name
	}
	return strings.Join(names, ", ")
}
