package config

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Defaults that no tier decides. Pulumi.yaml declares the same values for
// documentation, but under mocks the CLI does not merge them, so this
// package owns every default.
const (
	DefaultNamespace            = "matrix"
	DefaultTier                 = "laptop"
	DefaultImage                = "ghcr.io/element-hq/synapse:" + SynapseVersion
	DefaultPostgresImage        = "ghcr.io/cloudnative-pg/postgresql:17.6"
	DefaultOperatorChart        = "https://cloudnative-pg.github.io/charts"
	DefaultOperatorChartVersion = "0.26.1"
	DefaultRedisImage           = "docker.io/library/redis:7.4.6-alpine"
	DefaultMinIOImage           = "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z"
	DefaultMinIOClientImage     = "quay.io/minio/mc:RELEASE.2025-08-13T08-35-41Z"
	DefaultHAProxyImage         = "docker.io/library/haproxy:3.2.7-alpine"
	// DefaultElementWebImage: Element's own image (ess-helm pulls it from
	// ghcr.io/element-hq/element-web too); v1.12.29 is the latest release
	// (github.com/element-hq/element-web/releases/tag/v1.12.29).
	DefaultElementWebImage = "ghcr.io/element-hq/element-web:v1.12.29"
	// DefaultMASImage: the Matrix Authentication Service's release image,
	// distroless (no shell), uid 65532 (ess-helm PR #1535 moved to 1.24.0).
	DefaultMASImage = "ghcr.io/element-hq/matrix-authentication-service:1.24.0"
	// DefaultElementAdminImage: Element Admin, from Element's registry as
	// ess-helm pulls it (PR #1564 moved to 0.1.13).
	DefaultElementAdminImage   = "oci.element.io/element-admin:0.1.13"
	DefaultBucket              = "synapse-media"
	DefaultMonitoringNamespace = "monitoring"
)

// Keys are every top-level stack config key this program reads, without the
// "synapse:" namespace. Objects are JSON.
var Keys = []string{
	"serverName", "publicBaseUrl", "namespace", "image", "mediaImage", "tier", "pools",
	"federation", "streamWriters", "databasePool", "postgres", "redis", "minio",
	"mediaStorage", "haproxy", "ingress", "monitoring", "dataProtection",
	"mediaRetention", "maintenance", "elementWeb", "mas", "admin", "rtc",
}

// The keys each object of the stack config may hold.
var (
	poolKeys         = []string{"replicas", "minReplicas", "maxReplicas", "autoscale", "resources"}
	resourcesKeys    = []string{"requests", "limits"}
	resourceListKeys = []string{"cpu", "memory"}
	federationKeys   = []string{"enabled", "senders"}
	databasePoolKeys = []string{"min", "max"}
	storageKeys      = []string{"size", "storageClass"}
	postgresKeys     = []string{"instances", "storage", "installOperator", "operatorChart", "operatorChartVersion", "image", "resources", "backup", "restore"}
	backupKeys       = []string{"enabled", "schedule", "retention", "serverName", "bucket", "endpoint", "path", "region", "installPlugin", "pluginManifest"}
	restoreKeys      = []string{"fromServerName", "targetTime"}
	redisKeys        = []string{"image"}
	minioKeys        = []string{"enabled", "replicas", "storage", "bucket", "image", "clientImage"}
	haproxyKeys      = []string{"replicas", "image"}
	ingressKeys      = []string{"enabled", "className", "host", "tlsSecretName", "annotations"}
	monitoringKeys   = []string{"enabled", "namespace"}
	elementWebKeys   = []string{"enabled", "host", "image", "replicas", "tlsSecretName"}
)

// Parse validates raw stack config (key → value as Pulumi stores it: strings,
// objects as JSON) and returns the resolved Config, or a ValidationError that
// lists every problem at once. It is the one validation path: Load (under
// `pulumi up` and the mocks) and the offline renderer both call it, with
// every key the user wrote, known or not.
func Parse(raw map[string]string) (*Config, error) { return parse(raw, nil) }

// parse is Parse with the set of keys that Pulumi holds as secrets: their
// values are never echoed, and they are refused (this program reads no
// secret config).
func parse(raw map[string]string, secret map[string]bool) (*Config, error) {
	var el errorList
	raw = topLevel(&el, raw, secret)

	c := &Config{}
	c.ServerName = raw["serverName"]
	c.PublicBaseURL = orDefault(raw["publicBaseUrl"], "https://"+c.ServerName+"/")
	c.Namespace = orDefault(raw["namespace"], DefaultNamespace)
	c.Image = orDefault(raw["image"], DefaultImage)
	c.MediaImage = orDefault(raw["mediaImage"], c.Image)
	c.Tier = orDefault(raw["tier"], DefaultTier)
	c.DataProtection = parseBool(&el, raw, "dataProtection", false)

	tier, ok := TierByName(c.Tier)
	if !ok {
		el.addf("tier", c.Tier, "allowed tiers: %s", tierNames())
		tier = Tiers[0] // keep validating the rest against some sizing
	}
	pools, countKeys := resolvePools(&el, tier, el.topObject(raw, "pools", nil,
		"an object of pool names ("+poolNames()+") to overrides"))
	c.Pools = pools

	// Federation senders: a count only makes sense with federation on.
	fed := el.topObject(raw, "federation", federationKeys, "")
	c.Federation = Federation{Enabled: deref(fed.bool("enabled"), false)}
	senders := fed.int("senders", 0, maxPoolReplicas,
		fmt.Sprintf("must be a whole number from 0 (the main process sends) to %d", maxPoolReplicas))
	switch {
	case senders != nil && !c.Federation.Enabled:
		el.add(senders.v.key, senders.v.text(),
			"federation senders only run with federation.enabled=true; remove the key or enable federation")
	case senders != nil:
		c.Federation.Senders = senders.n
	case c.Federation.Enabled:
		c.Federation.Senders = tier.Pools[PoolFederationSender].Replicas
	}
	fs := c.Pools[PoolFederationSender]
	fs.Replicas = c.Federation.Senders
	c.Pools[PoolFederationSender] = fs

	c.StreamWriters = streamWriters(&el, el.topObject(raw, "streamWriters", nil,
		"an object of stream names ("+streamNames()+") to writer counts"))

	db := el.topObject(raw, "databasePool", databasePoolKeys, "")
	dbMin := db.int("min", 1, maxDBPool, "")
	dbMax := db.int("max", 1, maxDBPool, "")
	c.DatabasePool = DatabasePool{Min: deref(dbMin.value(), 5), Max: deref(dbMax.value(), 10)}
	if c.DatabasePool.Max < c.DatabasePool.Min {
		if dbMax != nil {
			el.addf(dbMax.v.key, dbMax.v.text(), "must be between databasePool.min (%d) and %d", c.DatabasePool.Min, maxDBPool)
		} else {
			el.addf(dbMin.v.key, dbMin.v.text(), "must not exceed databasePool.max (%d, the default); raise databasePool.max too", c.DatabasePool.Max)
		}
	}

	pg := el.topObject(raw, "postgres", postgresKeys, "")
	c.Postgres = Postgres{
		Instances:            deref(pg.int("instances", 1, 9, "must be a whole number from 1 to 9 (1 primary plus standbys)").value(), 1),
		Storage:              storage(&el, pg.object("storage", storageKeys), "10Gi"),
		InstallOperator:      deref(pg.bool("installOperator"), true),
		OperatorChart:        deref(pg.str("operatorChart", "a Helm repository URL, an oci:// reference or a chart path"), DefaultOperatorChart),
		OperatorChartVersion: deref(pg.str("operatorChartVersion", "a chart version such as "+DefaultOperatorChartVersion), DefaultOperatorChartVersion),
		Image:                deref(pg.str("image", "an image reference"), DefaultPostgresImage),
		Resources:            resources(&el, pg.object("resources", resourcesKeys), tier.Postgres),
		Backup:               backup(&el, pg.object("backup", backupKeys)),
		Restore:              restore(&el, pg.object("restore", restoreKeys)),
	}

	redis := el.topObject(raw, "redis", redisKeys, "")
	c.Redis = Redis{Image: deref(redis.str("image", "an image reference"), DefaultRedisImage)}

	mo := el.topObject(raw, "minio", minioKeys, "")
	minioReplicas := mo.int("replicas", 1, 16, minioReplicasRule)
	if minioReplicas != nil && minioReplicas.n > 1 && minioReplicas.n < 4 {
		el.add(minioReplicas.v.key, minioReplicas.v.text(), minioReplicasRule)
		minioReplicas = nil
	}
	c.MinIO = MinIO{
		Enabled:     deref(mo.bool("enabled"), false),
		Replicas:    deref(minioReplicas.value(), 1),
		Storage:     storage(&el, mo.object("storage", storageKeys), "20Gi"),
		Bucket:      deref(mo.str("bucket", "an S3 bucket name"), DefaultBucket),
		Image:       deref(mo.str("image", "an image reference"), DefaultMinIOImage),
		ClientImage: deref(mo.str("clientImage", "an image reference"), DefaultMinIOClientImage),
	}
	ms := el.topObject(raw, "mediaStorage", mediaStorageKeys, "")
	c.MediaStorage = storage(&el, ms, "10Gi")
	c.MediaCache = mediaCache(&el, ms, c.MinIO.Enabled)
	c.MediaRetention = mediaRetention(el.topObject(raw, "mediaRetention", mediaRetentionKeys, ""))
	c.Maintenance = maintenance(&el, el.topObject(raw, "maintenance", maintenanceKeys, ""))

	hp := el.topObject(raw, "haproxy", haproxyKeys, "")
	c.HAProxy = HAProxy{
		Replicas: deref(hp.int("replicas", 1, 16, "must be a whole number from 1 to 16 (2 or more in production)").value(), 1),
		Image:    deref(hp.str("image", "an image reference"), DefaultHAProxyImage),
	}

	ing := el.topObject(raw, "ingress", ingressKeys, "")
	host := ing.str("host", "a DNS name")
	c.Ingress = Ingress{
		Enabled:       deref(ing.bool("enabled"), true),
		ClassName:     deref(ing.str("className", "an IngressClass name"), ""),
		Host:          deref(host, hostOf(c.PublicBaseURL)),
		TLSSecretName: deref(ing.str("tlsSecretName", "a Secret name"), ""),
		Annotations:   annotations(&el, ing),
	}

	ew := el.topObject(raw, "elementWeb", elementWebKeys, "")
	ewHost := ew.str("host", "a DNS name")
	c.ElementWeb = ElementWeb{
		Enabled:       deref(ew.bool("enabled"), false),
		Host:          deref(ewHost, "element."+c.ServerName),
		Image:         deref(ew.str("image", "an image reference"), DefaultElementWebImage),
		Replicas:      deref(ew.int("replicas", 1, 16, "must be a whole number from 1 to 16").value(), 1),
		TLSSecretName: deref(ew.str("tlsSecretName", "a Secret name"), ""),
	}

	parseMAS(&el, raw, c)
	rtc, rtcF := parseRTC(&el, el.topObject(raw, "rtc", rtcKeys, ""), c.ServerName)
	c.RTC = rtc

	mon := el.topObject(raw, "monitoring", monitoringKeys, "")
	c.Monitoring = Monitoring{
		Enabled:   deref(mon.bool("enabled"), false),
		Namespace: deref(mon.str("namespace", "a namespace name"), DefaultMonitoringNamespace),
	}

	f := facts{
		publicBaseURL: raw["publicBaseUrl"] != "",
		mediaImage:    raw["mediaImage"] != "",
		ingressHost:   host != nil,
		elementHost:   ewHost != nil,
		masHost:       hasField(raw, "mas", "host"),
		adminHost:     hasField(raw, "admin", "host"),
		countKeys:     countKeys,
	}
	validate(&el, c, f)
	checkRTC(&el, c, rtcF)
	checkHosts(&el, c, f, rtcF)
	checkSiblingTLS(&el, c, f, rtcF)
	if len(el.errs) > 0 {
		return nil, el.errs
	}
	return c, nil
}

// facts are what validate needs to know about what the user wrote, so that
// a rule broken by a derived value names the key the user wrote.
type facts struct {
	publicBaseURL, mediaImage, ingressHost, elementHost bool
	masHost, adminHost                                  bool
	// countKeys: per pool, the key the user wrote that decides the pool's
	// most instances (absent: the tier decides).
	countKeys map[Pool]value
}

// topLevel reports unknown, secret and null top-level keys and returns the
// rest.
func topLevel(el *errorList, raw map[string]string, secret map[string]bool) map[string]string {
	out := make(map[string]string, len(raw))
	for _, k := range sortedNames(raw) {
		v := raw[k]
		if secret[k] {
			v = "[secret]"
		}
		switch {
		case slices.Contains(SecretKeys, k):
			// Secret keys: judged by Check, read by Load, outside Config.
		case !slices.Contains(Keys, k):
			el.addf(k, v, "unknown key; known keys: %s", strings.Join(Keys, ", "))
		case secret[k]:
			el.add(k, v, "is a Pulumi secret; this program reads no secret config (its own secrets are generated): set it with plain pulumi config set")
		case strings.TrimSpace(v) == "null":
			el.add(k, "null", nullNotAllowed)
		default:
			out[k] = v
		}
	}
	return out
}

// resolvePools starts from the tier and applies the user's overrides. It
// returns, per pool, the written key that decides the pool's ceiling.
func resolvePools(el *errorList, tier Tier, overrides *object) (map[Pool]PoolSize, map[Pool]value) {
	out := make(map[Pool]PoolSize, len(Pools))
	for _, p := range Pools {
		size := tier.Pools[p]
		if size.Autoscale != nil {
			a := *size.Autoscale
			size.Autoscale = &a
		}
		out[p] = size
	}
	countKeys := map[Pool]value{}
	for _, name := range overrides.names() {
		p := Pool(name)
		if !slices.Contains(Pools, p) {
			el.addf(overrides.key+"."+name, value{raw: overrides.fields[name]}.text(), "unknown pool; known pools: %s", poolNames())
			continue
		}
		v, ok := overrides.field(name)
		if !ok {
			continue
		}
		o := el.asObject(v, poolKeys, "")
		if o == nil {
			continue
		}
		size, countKey := overridePool(el, tier, p, out[p], o)
		out[p] = size
		if countKey != nil {
			countKeys[p] = *countKey
		}
	}
	return out, countKeys
}

// overridePool applies one pool's overrides. Every written value is checked
// against its own bounds first and dropped when wrong, so that one bad
// value is one error (and not a cascade on the values derived from it).
func overridePool(el *errorList, tier Tier, p Pool, size PoolSize, o *object) (PoolSize, *value) {
	if why, fixedCount := countOwner[p]; fixedCount {
		for _, k := range []string{"replicas", "minReplicas", "maxReplicas", "autoscale"} {
			if v, ok := o.field(k); ok {
				el.add(v.key, v.text(), why)
			}
		}
		size.Resources = resources(el, o.object("resources", resourcesKeys), size.Resources)
		return size, nil
	}

	lo, hi := 0, maxPoolReplicas
	if requiredPools[p] {
		lo = 1
	}
	rule := fmt.Sprintf("must be a whole number from %d to %d%s", lo, hi, poolWhy(p))
	if limit, ok := poolMax[p]; ok {
		hi, rule = limit.n, limit.why
	}
	replicas := o.int("replicas", lo, hi, rule)
	autoscale := o.bool("autoscale")
	var minR, maxR *integer
	if why, fixed := notAutoscaled[p]; fixed {
		if autoscale != nil && *autoscale {
			v, _ := o.field("autoscale")
			el.add(v.key, v.text(), why)
		}
		for _, k := range []string{"minReplicas", "maxReplicas"} {
			if v, ok := o.field(k); ok {
				el.addf(v.key, v.text(), "this pool is never autoscaled (%s): set pools.%s.replicas instead", why, p)
			}
		}
	} else {
		minR = o.int("minReplicas", 1, maxPoolReplicas, "")
		maxR = o.int("maxReplicas", 1, maxPoolReplicas, "")
		if autoscale != nil {
			switch {
			case *autoscale && size.Autoscale == nil:
				a := tier.Pools[p].Autoscale
				cpu, mem := 70, 80
				if a != nil {
					cpu, mem = a.CPUPercent, a.MemoryPercent
				}
				size.Autoscale = &Autoscale{Min: size.Replicas, Max: size.Replicas, CPUPercent: cpu, MemoryPercent: mem}
			case !*autoscale:
				size.Autoscale = nil
			}
		}
	}

	var countKey *value
	if size.Autoscale == nil {
		if minR != nil || maxR != nil {
			v := minR
			if v == nil {
				v = maxR
			}
			el.addf(v.v.key, v.v.text(), "minReplicas/maxReplicas need autoscaling; set pools.%s.autoscale=true or use replicas", p)
		}
		if replicas != nil {
			size.Replicas = replicas.n
			countKey = &replicas.v
		}
	} else {
		a := size.Autoscale
		floorFrom := "minReplicas"
		switch {
		case minR != nil:
			a.Min = minR.n
		case replicas != nil:
			a.Min, floorFrom = replicas.n, "replicas"
		}
		switch {
		case replicas != nil:
			size.Replicas = replicas.n
		case minR != nil:
			size.Replicas = minR.n
		}
		if maxR != nil {
			a.Max = maxR.n
		} else if a.Max < max(a.Min, size.Replicas) {
			a.Max = max(a.Min, size.Replicas) // raising the floor above the tier's ceiling lifts the ceiling
		}
		switch {
		case maxR != nil:
			countKey = &maxR.v
		case replicas != nil:
			countKey = &replicas.v
		case minR != nil:
			countKey = &minR.v
		}
		switch {
		case a.Min < 1 && replicas != nil:
			el.addf(replicas.v.key, replicas.v.text(), "must be at least 1 with autoscaling (an HPA never scales to 0); set pools.%s.autoscale=false to turn the pool off", p)
		case a.Min < 1:
			v, _ := o.field("autoscale")
			el.addf(v.key, v.text(), "pools.%s runs 0 instances in the %s tier and an HPA never scales to 0: set pools.%s.minReplicas too", p, tier.Name, p)
		case a.Max < a.Min:
			el.addf(maxR.v.key, maxR.v.text(), "must be at least %s (%d)", floorFrom, a.Min)
		case size.Replicas < a.Min:
			el.addf(replicas.v.key, replicas.v.text(), "must be at least minReplicas (%d)", a.Min)
		case size.Replicas > a.Max:
			el.addf(replicas.v.key, replicas.v.text(), "must be at most maxReplicas (%d)", a.Max)
		}
	}
	size.Resources = resources(el, o.object("resources", resourcesKeys), size.Resources)
	return size, countKey
}

// countOwner names the pools whose instance count another key owns.
var countOwner = map[Pool]string{
	PoolMain:             "the main process always runs exactly one instance; only pools.main.resources may be set",
	PoolFederationSender: "the number of federation senders is federation.senders; only pools.federationSender.resources may be set here",
	PoolStreamWriter:     "stream writer counts are set per stream under streamWriters; only pools.streamWriter.resources may be set here",
}

// Quantity bounds: a pod with 1 byte of memory or a 1m volume is a typo,
// and so is a petabyte of RAM.
var (
	cpuQuantity     = quantityRule{what: "CPU", example: "500m or 2", min: "10m", max: "256"}
	memoryQuantity  = quantityRule{what: "memory", example: "512Mi or 2Gi", min: "64Mi", max: "1Ti"}
	storageQuantity = quantityRule{what: "storage", example: "10Gi", min: "1Gi", max: "1Pi"}
)

type quantityRule struct{ what, example, min, max string }

func (r quantityRule) allowed() string {
	return fmt.Sprintf("must be a Kubernetes quantity of %s from %s to %s, such as %s", r.what, r.min, r.max, r.example)
}

// quantity reads a string key holding a Kubernetes quantity within r's
// bounds; nil when absent or rejected.
func quantity(el *errorList, o *object, name string, r quantityRule) *string {
	v, ok := o.field(name)
	if !ok {
		return nil
	}
	s := el.stringValue(v, "a quantity of "+r.what+" such as "+r.example)
	if s == nil {
		return nil
	}
	q, err := resource.ParseQuantity(*s)
	if err != nil || q.Cmp(resource.MustParse(r.min)) < 0 || q.Cmp(resource.MustParse(r.max)) > 0 || strings.TrimSpace(*s) != *s {
		el.add(v.key, *s, r.allowed())
		return nil
	}
	return s
}

// resources merges the user's requests and limits into the tier's; a
// request above its limit is reported on the key the user wrote.
func resources(el *errorList, o *object, base Resources) Resources {
	req := o.object("requests", resourceListKeys)
	lim := o.object("limits", resourceListKeys)
	reqCPU, reqMem := quantity(el, req, "cpu", cpuQuantity), quantity(el, req, "memory", memoryQuantity)
	limCPU, limMem := quantity(el, lim, "cpu", cpuQuantity), quantity(el, lim, "memory", memoryQuantity)
	out := Resources{
		Requests: ResourceList{CPU: deref(reqCPU, base.Requests.CPU), Memory: deref(reqMem, base.Requests.Memory)},
		Limits:   ResourceList{CPU: deref(limCPU, base.Limits.CPU), Memory: deref(limMem, base.Limits.Memory)},
	}
	for _, pair := range []struct {
		name       string
		req, lim   *string
		reqV, limV string
	}{
		{"cpu", reqCPU, limCPU, out.Requests.CPU, out.Limits.CPU},
		{"memory", reqMem, limMem, out.Requests.Memory, out.Limits.Memory},
	} {
		r, l := resource.MustParse(pair.reqV), resource.MustParse(pair.limV)
		if r.Cmp(l) <= 0 {
			continue
		}
		switch {
		case pair.req != nil:
			el.addf(req.key+"."+pair.name, pair.reqV, "a request must not exceed its limit (%s)", pair.limV)
		case pair.lim != nil:
			el.addf(lim.key+"."+pair.name, pair.limV, "a limit must not be below its request (%s)", pair.reqV)
		}
	}
	return out
}

// storage reads a {size, storageClass} object.
func storage(el *errorList, o *object, defSize string) Storage {
	s := Storage{Size: deref(quantity(el, o, "size", storageQuantity), defSize)}
	if v, ok := o.field("storageClass"); ok {
		if class := el.stringValue(v, "a StorageClass name"); class != nil {
			if errs := validation.IsDNS1123Subdomain(*class); len(errs) > 0 {
				el.add(v.key, *class, "must be a StorageClass name (a lower-case DNS name such as fast-ssd)")
			} else {
				s.StorageClass = *class
			}
		}
	}
	return s
}

// streamWriters reads stream name → writer count over the defaults.
func streamWriters(el *errorList, o *object) map[string]int {
	out := map[string]int{}
	for _, s := range Streams {
		out[s.Name] = s.DefaultWriters
	}
	for _, name := range o.names() {
		s, ok := StreamByName(name)
		if !ok {
			el.addf(o.key+"."+name, value{raw: o.fields[name]}.text(),
				"unknown stream; configurable streams: %s (events are written by pools.eventPersister)", streamNames())
			continue
		}
		v, ok := o.field(name)
		if !ok {
			continue
		}
		var n *integer
		if s.MultiWriter {
			n = el.intValue(v, 0, MaxMultiWriters, fmt.Sprintf("must be a whole number from 0 (the main process writes it) to %d", MaxMultiWriters))
		} else {
			n = el.intValue(v, 0, 1, fmt.Sprintf("Synapse allows a single writer for the %s stream (docs/workers.md: \"unless otherwise documented, each stream can only have a single writer\"); use 0 (main) or 1", name))
		}
		if n != nil {
			out[name] = n.n
		}
	}
	return out
}

// annotations reads ingress.annotations: qualified-name keys, string values.
func annotations(el *errorList, ing *object) map[string]string {
	v, ok := ing.field("annotations")
	if !ok {
		return nil
	}
	o := el.asObject(v, nil, "an object of annotation names to string values")
	if o == nil {
		return nil
	}
	out := map[string]string{}
	for _, k := range o.names() {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			el.add(o.key+"."+k, value{raw: o.fields[k]}.text(),
				"annotation keys must be qualified names such as nginx.ingress.kubernetes.io/proxy-body-size")
			continue
		}
		fv, ok := o.field(k)
		if !ok {
			continue
		}
		if s := el.stringValue(fv, "an annotation value"); s != nil {
			out[k] = *s
		}
	}
	return out
}

// parseBool reads a top-level boolean. The Pulumi CLI hands booleans over
// as "true" and "false"; nothing else is one (not 1, not yes, not True).
func parseBool(el *errorList, raw map[string]string, key string, def bool) bool {
	switch v, ok := raw[key]; {
	case !ok || v == "":
		return def
	case v == "true":
		return true
	case v == "false":
		return false
	default:
		el.add(key, v, "must be true or false")
		return def
	}
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

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// hasField reports whether the top-level object key holds name (written by
// the user, whatever its value).
func hasField(raw map[string]string, key, name string) bool {
	var fields map[string]json.RawMessage
	if json.Unmarshal([]byte(raw[key]), &fields) != nil {
		return false
	}
	_, ok := fields[name]
	return ok
}
