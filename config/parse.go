package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Defaults that no tier decides. Pulumi.yaml declares the same values for
// documentation, but under mocks the CLI does not merge them, so this
// package owns every default.
const (
	DefaultNamespace            = "matrix"
	DefaultTier                 = "laptop"
	DefaultImage                = "ghcr.io/element-hq/synapse:" + SynapseVersion
	DefaultPostgresImage        = "ghcr.io/cloudnative-pg/postgresql:17.6"
	DefaultOperatorChartVersion = "0.26.1"
	DefaultRedisImage           = "docker.io/library/redis:7.4.6-alpine"
	DefaultMinIOImage           = "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z"
	DefaultMinIOClientImage     = "quay.io/minio/mc:RELEASE.2025-08-13T08-35-41Z"
	DefaultHAProxyImage         = "docker.io/library/haproxy:3.2.7-alpine"
	DefaultBucket               = "synapse-media"
	DefaultMonitoringNamespace  = "monitoring"
)

// Keys are every top-level stack config key this program reads, without the
// "synapse:" namespace. Objects are JSON.
var Keys = []string{
	"serverName", "publicBaseUrl", "namespace", "image", "mediaImage", "tier", "pools",
	"federation", "streamWriters", "databasePool", "postgres", "redis", "minio",
	"mediaStorage", "haproxy", "ingress", "monitoring", "dataProtection",
}

// Parse validates raw stack config (key → value as Pulumi stores it: strings,
// objects as JSON) and returns the resolved Config, or a ValidationError that
// lists every problem at once.
func Parse(raw map[string]string) (*Config, error) {
	var el errorList
	for k := range raw {
		if !slices.Contains(Keys, k) {
			el.addf(k, raw[k], "unknown key; known keys: %s", strings.Join(Keys, ", "))
		}
	}

	c := &Config{}
	c.ServerName = raw["serverName"]
	c.PublicBaseURL = orDefault(raw["publicBaseUrl"], "https://"+c.ServerName+"/")
	c.Namespace = orDefault(raw["namespace"], DefaultNamespace)
	c.Image = orDefault(raw["image"], DefaultImage)
	c.MediaImage = orDefault(raw["mediaImage"], c.Image)
	c.Tier = orDefault(raw["tier"], DefaultTier)
	c.DataProtection = parseBool(&el, raw, "dataProtection", false)

	var (
		pools      map[string]rawPool
		fed        rawFederation
		writers    map[string]int
		dbPool     rawDatabasePool
		pg         rawPostgres
		redis      rawRedis
		minio      rawMinIO
		mediaStore rawStorage
		haproxy    rawHAProxy
		ingress    rawIngress
		monitoring rawMonitoring
	)
	decode(&el, raw, "pools", &pools)
	decode(&el, raw, "federation", &fed)
	decode(&el, raw, "streamWriters", &writers)
	decode(&el, raw, "databasePool", &dbPool)
	decode(&el, raw, "postgres", &pg)
	decode(&el, raw, "redis", &redis)
	decode(&el, raw, "minio", &minio)
	decode(&el, raw, "mediaStorage", &mediaStore)
	decode(&el, raw, "haproxy", &haproxy)
	decode(&el, raw, "ingress", &ingress)
	decode(&el, raw, "monitoring", &monitoring)

	c.Federation = Federation{Enabled: deref(fed.Enabled, false)}
	c.StreamWriters = map[string]int{}
	for _, s := range Streams {
		c.StreamWriters[s.Name] = s.DefaultWriters
	}
	for name, n := range writers {
		c.StreamWriters[name] = n
	}
	c.DatabasePool = DatabasePool{Min: deref(dbPool.Min, 5), Max: deref(dbPool.Max, 10)}
	c.Postgres = Postgres{
		Instances:            deref(pg.Instances, 1),
		Storage:              storage(pg.Storage, "10Gi"),
		InstallOperator:      deref(pg.InstallOperator, true),
		OperatorChartVersion: deref(pg.OperatorChartVersion, DefaultOperatorChartVersion),
		Image:                deref(pg.Image, DefaultPostgresImage),
	}
	c.Redis = Redis{Image: deref(redis.Image, DefaultRedisImage)}
	c.MinIO = MinIO{
		Enabled:     deref(minio.Enabled, false),
		Replicas:    deref(minio.Replicas, 1),
		Storage:     storage(minio.Storage, "20Gi"),
		Bucket:      deref(minio.Bucket, DefaultBucket),
		Image:       deref(minio.Image, DefaultMinIOImage),
		ClientImage: deref(minio.ClientImage, DefaultMinIOClientImage),
	}
	c.MediaStorage = storage(&mediaStore, "10Gi")
	c.HAProxy = HAProxy{Replicas: deref(haproxy.Replicas, 1), Image: deref(haproxy.Image, DefaultHAProxyImage)}
	c.Ingress = Ingress{
		Enabled:       deref(ingress.Enabled, true),
		ClassName:     deref(ingress.ClassName, ""),
		Host:          deref(ingress.Host, hostOf(c.PublicBaseURL)),
		TLSSecretName: deref(ingress.TLSSecretName, ""),
		Annotations:   ingress.Annotations,
	}
	c.Monitoring = Monitoring{Enabled: deref(monitoring.Enabled, false), Namespace: deref(monitoring.Namespace, DefaultMonitoringNamespace)}

	tier, ok := TierByName(c.Tier)
	if !ok {
		el.addf("tier", c.Tier, "allowed tiers: %s", tierNames())
		tier = Tiers[0] // keep validating the rest against some sizing
	}
	c.Pools = resolvePools(&el, tier, pools)

	// Federation senders: a count only makes sense with federation on.
	switch {
	case fed.Senders != nil && !c.Federation.Enabled:
		el.add("federation.senders", strconv.Itoa(*fed.Senders),
			"federation senders only run with federation.enabled=true; remove the key or enable federation")
	case fed.Senders != nil:
		c.Federation.Senders = *fed.Senders
	case c.Federation.Enabled:
		c.Federation.Senders = tier.Pools[PoolFederationSender].Replicas
	}
	fs := c.Pools[PoolFederationSender]
	fs.Replicas = c.Federation.Senders
	c.Pools[PoolFederationSender] = fs

	validate(&el, c, raw)
	if len(el.errs) > 0 {
		return nil, el.errs
	}
	return c, nil
}

// resolvePools starts from the tier and applies the user's overrides.
func resolvePools(el *errorList, tier Tier, overrides map[string]rawPool) map[Pool]PoolSize {
	out := make(map[Pool]PoolSize, len(Pools))
	for _, p := range Pools {
		size := tier.Pools[p]
		if size.Autoscale != nil {
			a := *size.Autoscale
			size.Autoscale = &a
		}
		out[p] = size
	}
	names := make([]string, 0, len(overrides))
	for name := range overrides {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		o := overrides[name]
		p := Pool(name)
		if !slices.Contains(Pools, p) {
			el.addf("pools."+name, name, "unknown pool; known pools: %s", poolNames())
			continue
		}
		key := "pools." + name
		size := out[p]
		if o.Replicas != nil || o.MinReplicas != nil || o.MaxReplicas != nil || o.Autoscale != nil {
			if why, fixedCount := countOwner[p]; fixedCount {
				el.addf(key+".replicas", fmt.Sprint(deref(o.Replicas, 0)), "%s", why)
				continue
			}
		}
		if o.Autoscale != nil {
			if *o.Autoscale && size.Autoscale == nil {
				size.Autoscale = &Autoscale{Min: size.Replicas, Max: size.Replicas, CPUPercent: 70, MemoryPercent: 80}
			}
			if !*o.Autoscale {
				size.Autoscale = nil
			}
		}
		if o.Replicas != nil {
			size.Replicas = *o.Replicas
			if size.Autoscale != nil && o.MinReplicas == nil {
				size.Autoscale.Min = *o.Replicas
			}
		}
		if o.MinReplicas != nil || o.MaxReplicas != nil {
			if size.Autoscale == nil {
				el.add(key+".autoscale", "false", "minReplicas/maxReplicas need autoscaling; set pools."+name+".autoscale=true or use replicas")
			} else {
				if o.MinReplicas != nil {
					size.Autoscale.Min = *o.MinReplicas
					if o.Replicas == nil {
						size.Replicas = *o.MinReplicas
					}
				}
				if o.MaxReplicas != nil {
					size.Autoscale.Max = *o.MaxReplicas
				}
			}
		}
		if size.Autoscale != nil && o.MaxReplicas == nil && size.Autoscale.Max < size.Replicas {
			size.Autoscale.Max = size.Replicas // raising the floor above the tier's ceiling lifts the ceiling
		}
		if o.Resources != nil {
			size.Resources = mergeResources(size.Resources, *o.Resources)
		}
		out[p] = size
	}
	return out
}

// countOwner names the pools whose instance count another key owns.
var countOwner = map[Pool]string{
	PoolMain:             "the main process always runs exactly one instance; only pools.main.resources may be set",
	PoolFederationSender: "the number of federation senders is federation.senders; only pools.federationSender.resources may be set here",
	PoolStreamWriter:     "stream writer counts are set per stream under streamWriters; only pools.streamWriter.resources may be set here",
}

func mergeResources(base Resources, o rawResources) Resources {
	if o.Requests != nil {
		base.Requests.CPU = deref(o.Requests.CPU, base.Requests.CPU)
		base.Requests.Memory = deref(o.Requests.Memory, base.Requests.Memory)
	}
	if o.Limits != nil {
		base.Limits.CPU = deref(o.Limits.CPU, base.Limits.CPU)
		base.Limits.Memory = deref(o.Limits.Memory, base.Limits.Memory)
	}
	return base
}

// decode reads one JSON object key strictly: an unknown field or a wrong
// type is an error that names the key.
func decode(el *errorList, raw map[string]string, key string, into any) {
	v, ok := raw[key]
	if !ok || strings.TrimSpace(v) == "" {
		return
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(v)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		var typeErr *json.UnmarshalTypeError
		msg := err.Error()
		k := key
		switch {
		case errors.As(err, &typeErr):
			if typeErr.Field != "" {
				k = key + "." + typeErr.Field
			}
			msg = fmt.Sprintf("must be of type %s (got a JSON %s)", typeErr.Type, typeErr.Value)
		case strings.HasPrefix(msg, "json: unknown field "):
			field := strings.Trim(strings.TrimPrefix(msg, "json: unknown field "), `"`)
			k = key + "." + field
			msg = "unknown key under " + key + "; see the README's stack config reference for the allowed keys"
			v = field
		}
		el.add(k, v, msg)
	}
}

func parseBool(el *errorList, raw map[string]string, key string, def bool) bool {
	v, ok := raw[key]
	if !ok || v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		el.add(key, v, "must be true or false")
		return def
	}
	return b
}

func storage(s *rawStorage, defSize string) Storage {
	if s == nil {
		return Storage{Size: defSize}
	}
	return Storage{Size: deref(s.Size, defSize), StorageClass: deref(s.StorageClass, "")}
}

func hostOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return p.Hostname()
}

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func poolNames() string {
	names := make([]string, len(Pools))
	for i, p := range Pools {
		names[i] = string(p)
	}
	return strings.Join(names, ", ")
}
