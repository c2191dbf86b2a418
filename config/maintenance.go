package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/robfig/cron/v3"
)

// Media cache, media retention and scheduled maintenance (issue 14).

// MediaCache bounds the local store of each media worker when media is
// also in S3 (minio.enabled): a file there is a cached copy, because
// synapse-s3-storage-provider stores every upload synchronously
// (store_synchronous) and Synapse fetches from the storage provider on a
// local miss. Without S3 the local store is the only copy and nothing is
// ever evicted (Enabled is false).
type MediaCache struct {
	// Enabled is true exactly when MinIO is on.
	Enabled bool
	// MaxIdleDays: a file not read or written for this many days is evicted.
	MaxIdleDays int
	// MaxUsagePercent: while the volume is fuller than this, the least
	// recently used files are evicted too (whatever their age).
	MaxUsagePercent int
}

// MediaRetention is Synapse's media_retention: "" leaves a lifetime unset,
// and Synapse then never purges that kind of media.
type MediaRetention struct {
	LocalMediaLifetime  string // a Synapse duration, e.g. "365d"
	RemoteMediaLifetime string
}

// Maintenance are the scheduled jobs a Synapse operator runs.
type Maintenance struct {
	StateCompression StateCompression
}

// StateCompression runs matrix-org/rust-synapse-compress-state's
// synapse_auto_compressor on a schedule (a CronJob).
type StateCompression struct {
	Enabled bool
	// Schedule is a standard five-field cron expression (the CronJob's
	// spec.schedule), in the kube-controller-manager's time zone.
	Schedule string
	// Image ships synapse_auto_compressor on its PATH and a POSIX sh (see
	// images/synapse-compress-state). No default: required when enabled.
	Image string
	// ChunkSize (-c) state groups are loaded at once; Chunks (-n) chunks
	// are compressed per run.
	ChunkSize, Chunks int
	Resources         Resources
}

// Defaults of the keys above.
const (
	DefaultMediaCacheDays           = 7
	DefaultMediaCacheMaxPercent     = 80
	DefaultStateCompressionSchedule = "0 3 * * *" // daily, at a quiet hour
	DefaultStateCompressionChunk    = 500         // the compressor's README example and the common playbooks' default
	DefaultStateCompressionChunks   = 100
)

// DefaultStateCompressionResources: the compressor holds one chunk's rows of
// state_groups_state in memory.
var DefaultStateCompressionResources = Resources{
	Requests: ResourceList{CPU: "100m", Memory: "256Mi"},
	Limits:   ResourceList{CPU: "1", Memory: "1Gi"},
}

// The keys of the objects above.
var (
	mediaStorageKeys     = []string{"size", "storageClass", "cacheDays", "cacheMaxPercent"}
	mediaRetentionKeys   = []string{"localMediaLifetime", "remoteMediaLifetime"}
	maintenanceKeys      = []string{"stateCompression"}
	stateCompressionKeys = []string{"enabled", "schedule", "image", "chunkSize", "chunks", "resources"}
)

// mediaCache reads the cache keys of mediaStorage. They only mean something
// with S3: without it the local store is the only copy of the media, and
// writing them would suggest an eviction that never runs.
func mediaCache(el *errorList, o *object, s3 bool) MediaCache {
	m := MediaCache{Enabled: s3, MaxIdleDays: DefaultMediaCacheDays, MaxUsagePercent: DefaultMediaCacheMaxPercent}
	days := o.int("cacheDays", 1, 3650, "must be a whole number of days from 1 to 3650")
	percent := o.int("cacheMaxPercent", 10, 95, "must be a whole number from 10 to 95 (percent of the volume)")
	for _, n := range []*integer{days, percent} {
		if n != nil && !s3 {
			el.add(n.v.key, n.v.text(), "the local media store is only a cache with minio.enabled=true; without S3 it is the only copy of the media and is never evicted: remove the key or enable MinIO")
		}
	}
	m.MaxIdleDays = deref(days.value(), m.MaxIdleDays)
	m.MaxUsagePercent = deref(percent.value(), m.MaxUsagePercent)
	return m
}

// synapseDuration is what Synapse's Config.parse_duration reads, with the
// unit required: a bare number would be milliseconds.
var synapseDuration = regexp.MustCompile(`^([1-9][0-9]{0,5})([smhdwy])$`)

// durationUnitMs are parse_duration's suffixes (synapse/config/_base.py).
var durationUnitMs = map[string]int64{"s": 1e3, "m": 60e3, "h": 3600e3, "d": 86400e3, "w": 7 * 86400e3, "y": 365 * 86400e3}

// minMediaLifetimeMs: a shorter lifetime would purge media that clients are
// still loading (and "3m" is three minutes to Synapse, not three months).
const minMediaLifetimeMs = 86400e3

func mediaLifetime(o *object, name string) string {
	const rule = "must be a Synapse duration of at least 1d: a whole number and one unit of s, m (minutes), h, d, w or y, such as 90d or 1y"
	s := o.str(name, "a duration such as 90d")
	if s == nil {
		return ""
	}
	m := synapseDuration.FindStringSubmatch(*s)
	if m == nil {
		o.el.add(o.key+"."+name, *s, rule)
		return ""
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	if n*durationUnitMs[m[2]] < minMediaLifetimeMs {
		o.el.add(o.key+"."+name, *s, rule+" (m is minutes to Synapse: write months as days, e.g. 90d)")
		return ""
	}
	return *s
}

// mediaRetention reads Synapse's media_retention; nothing is purged unless
// a lifetime is written.
func mediaRetention(o *object) MediaRetention {
	return MediaRetention{
		LocalMediaLifetime:  mediaLifetime(o, "localMediaLifetime"),
		RemoteMediaLifetime: mediaLifetime(o, "remoteMediaLifetime"),
	}
}

// kubeCron is the parser Kubernetes validates a CronJob's schedule with
// (cron.ParseStandard: five fields or a descriptor such as @daily).
var kubeCron = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// maintenance reads the maintenance object. Values are checked even while
// a job is off, so that turning it on is not the moment a typo shows.
func maintenance(el *errorList, o *object) Maintenance {
	sc := o.object("stateCompression", stateCompressionKeys)
	key := "maintenance.stateCompression"
	s := StateCompression{
		Enabled:   deref(sc.bool("enabled"), false),
		Schedule:  DefaultStateCompressionSchedule,
		ChunkSize: deref(sc.int("chunkSize", 100, 100000, "must be a whole number from 100 (at least the compressor's first level size, 100, or it skips chunks) to 100000").value(), DefaultStateCompressionChunk),
		Chunks:    deref(sc.int("chunks", 1, 100000, "").value(), DefaultStateCompressionChunks),
		Resources: resources(el, sc.object("resources", resourcesKeys), DefaultStateCompressionResources),
	}
	if v := sc.str("schedule", "a cron schedule such as \""+DefaultStateCompressionSchedule+"\""); v != nil {
		if why := cronProblem(*v); why != "" {
			el.add(key+".schedule", *v, why)
		} else {
			s.Schedule = *v
		}
	}
	image := sc.str("image", "an image reference that ships synapse_auto_compressor")
	switch {
	case image != nil:
		s.Image = *image
		checkImage(el, key+".image", s.Image)
	case s.Enabled:
		el.add(key+".image", "", "state compression runs synapse_auto_compressor (matrix-org/rust-synapse-compress-state), which no image this program pins ships: build images/synapse-compress-state (see README) or pin upstream's ghcr.io/matrix-org/rust-synapse-compress-state by digest, and set it here")
	}
	return Maintenance{StateCompression: s}
}

// cronProblem says why Kubernetes would refuse a CronJob schedule, "" if
// it would not: ParseStandard must accept it, and a time zone belongs in
// spec.timeZone, not in the schedule.
func cronProblem(s string) string {
	const want = "must be a cron schedule of five fields (minute hour day-of-month month day-of-week, such as \"" + DefaultStateCompressionSchedule + "\") or a descriptor such as @daily"
	if strings.Contains(s, "TZ") {
		return want + "; Kubernetes refuses TZ= or CRON_TZ= in a schedule"
	}
	if strings.TrimSpace(s) != s || s == "" {
		return want
	}
	if _, err := kubeCron.Parse(s); err != nil {
		return fmt.Sprintf("%s (%s)", want, err)
	}
	return ""
}
