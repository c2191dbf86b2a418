package config

import (
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Backup defaults. Backups are off unless asked for: the plugin they need
// requires cert-manager (see README), which the dev stack does not assume.
const (
	DefaultBackupSchedule  = "0 0 3 * * *" // 03:00 every day (CNPG's cron has seconds first)
	DefaultBackupRetention = "30d"
	// DefaultBackupServerName is the Cluster's folder in the object store:
	// the CNPG Cluster's name, as CNPG itself would pick.
	DefaultBackupServerName = "synapse-postgres"
	DefaultBackupBucket     = "synapse-postgres-backups"
	// BarmanCloudPluginVersion is the pinned Barman Cloud plugin release:
	// it supports CNPG 1.26 and later (we pin 1.27 through chart 0.26.1).
	BarmanCloudPluginVersion = "v0.15.0"
	DefaultPluginManifest    = "https://github.com/cloudnative-pg/plugin-barman-cloud/releases/download/" +
		BarmanCloudPluginVersion + "/manifest.yaml"
)

// The secret stack config keys of an external backup target (with
// postgres.backup.endpoint). Judged by Check and read by Load, never by Parse.
const (
	BackupS3AccessKeyIDKey     = "backupS3AccessKeyId"
	BackupS3SecretAccessKeyKey = "backupS3SecretAccessKey"
)

// CNPG's own rules: the ScheduledBackup schedule is a robfig/cron
// expression with a seconds field; the ObjectStore retentionPolicy is
// "<n>d", "<n>w" or "<n>m".
var (
	cnpgCron        = cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
	retentionPolicy = regexp.MustCompile(`^[1-9][0-9]*[dwm]$`)
	s3PathChars     = regexp.MustCompile(`^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$`)
	regionChars     = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
)

// backup reads postgres.backup. Settings other than enabled are refused
// while backups are off: a schedule that silently does nothing is a
// backup that does not exist.
func backup(el *errorList, o *object) Backup {
	b := Backup{
		Enabled:        deref(o.bool("enabled"), false),
		Schedule:       deref(o.str("schedule", "a cron schedule with seconds, such as \""+DefaultBackupSchedule+"\""), DefaultBackupSchedule),
		Retention:      deref(o.str("retention", "a retention such as 30d, 8w or 6m"), DefaultBackupRetention),
		ServerName:     deref(o.str("serverName", "a folder name such as "+DefaultBackupServerName), DefaultBackupServerName),
		Bucket:         deref(o.str("bucket", "an S3 bucket name"), DefaultBackupBucket),
		Endpoint:       deref(o.str("endpoint", "an https URL"), ""),
		Path:           deref(o.str("path", "a folder path inside the bucket"), ""),
		Region:         deref(o.str("region", "an S3 region such as eu-west-1"), ""),
		InstallPlugin:  deref(o.bool("installPlugin"), true),
		PluginManifest: deref(o.str("pluginManifest", "a manifest URL or path"), DefaultPluginManifest),
	}
	if !b.Enabled {
		for _, name := range o.names() {
			// Not o.field: the reads above reported nulls already.
			v := value{key: o.key + "." + name, raw: o.fields[name]}
			if name != "enabled" && v.kind() != kindNull {
				el.add(v.key, v.text(), "has no effect while postgres.backup.enabled is false: set postgres.backup.enabled=true, or remove the key")
			}
		}
	}
	return b
}

// restore reads postgres.restore (nil when absent).
func restore(el *errorList, o *object) *Restore {
	if o == nil {
		return nil
	}
	return &Restore{
		FromServerName: deref(o.str("fromServerName", "the serverName of the Cluster whose backups to restore"), ""),
		TargetTime:     deref(o.str("targetTime", "an RFC 3339 time such as 2026-11-30T08:00:00Z"), ""),
	}
}

// checkBackup validates postgres.backup and postgres.restore against each
// other and the rest of the config.
func checkBackup(el *errorList, c *Config) {
	b := c.Postgres.Backup
	if b.Enabled {
		if _, err := cnpgCron.Parse(b.Schedule); err != nil || len(strings.Fields(b.Schedule)) != 6 {
			el.add("postgres.backup.schedule", b.Schedule, "must be a cron schedule with six fields, seconds first (CNPG's ScheduledBackup format), such as \""+DefaultBackupSchedule+"\" for 03:00 every day")
		}
		if !retentionPolicy.MatchString(b.Retention) {
			el.add("postgres.backup.retention", b.Retention, "must be a number of days, weeks or months, such as 30d, 8w or 6m (CNPG's retentionPolicy)")
		}
		if errs := validation.IsDNS1123Label(b.ServerName); len(errs) > 0 {
			el.add("postgres.backup.serverName", b.ServerName, "must be a folder name of lower-case letters, digits and hyphens (at most 63), such as "+DefaultBackupServerName)
		}
		if why := bucketProblem(b.Bucket); why != "" {
			el.add("postgres.backup.bucket", b.Bucket, "must be an S3 bucket name: "+why)
		}
		if b.Path != "" && !s3PathChars.MatchString(b.Path) {
			el.add("postgres.backup.path", b.Path, "must be a folder path inside the bucket: segments of letters, digits, '.', '_' and '-' joined by '/', with no leading or trailing '/'")
		}
		if b.Region != "" && !regionChars.MatchString(b.Region) {
			el.add("postgres.backup.region", b.Region, "must be an S3 region name such as eu-west-1")
		}
		switch {
		case b.Endpoint != "":
			if why := endpointProblem(b.Endpoint); why != "" {
				el.add("postgres.backup.endpoint", b.Endpoint, why)
			}
		case !c.MinIO.Enabled:
			el.add("postgres.backup.enabled", "true", "backups go to the stack's MinIO unless postgres.backup.endpoint names an external S3 endpoint: set minio.enabled=true, or postgres.backup.endpoint (with the stack secrets "+BackupS3AccessKeyIDKey+" and "+BackupS3SecretAccessKeyKey+")")
		case b.Bucket == c.MinIO.Bucket:
			el.add("postgres.backup.bucket", b.Bucket, "must differ from minio.bucket: the media bucket's credentials must not reach the database backups, nor the other way round")
		}
		if b.Region != "" && b.Endpoint == "" {
			el.add("postgres.backup.region", b.Region, "only applies to an external endpoint (postgres.backup.endpoint); the stack's MinIO has no regions")
		}
		if b.InstallPlugin {
			checkManifest(el, "postgres.backup.pluginManifest", b.PluginManifest)
		}
	}

	r := c.Postgres.Restore
	if r == nil {
		return
	}
	if !b.Enabled {
		el.add("postgres.restore", "", "a restore reads the backups of postgres.backup's object store: set postgres.backup.enabled=true with the same bucket (and endpoint) the backups were written to")
	}
	switch {
	case r.FromServerName == "":
		el.add("postgres.restore.fromServerName", "", "set it to the postgres.backup.serverName of the Cluster whose backups to restore (its folder in the bucket)")
	case len(validation.IsDNS1123Label(r.FromServerName)) > 0:
		el.add("postgres.restore.fromServerName", r.FromServerName, "must be a folder name of lower-case letters, digits and hyphens, the old Cluster's postgres.backup.serverName")
	case r.FromServerName == b.ServerName:
		el.addf("postgres.restore.fromServerName", r.FromServerName,
			"must differ from postgres.backup.serverName (%s): the restored Cluster archives its own WAL under postgres.backup.serverName, and CNPG refuses to archive into a folder that already holds the old Cluster's WAL; set postgres.backup.serverName to a new name such as %s-2",
			b.ServerName, r.FromServerName)
	}
	if r.TargetTime != "" {
		if _, err := time.Parse(time.RFC3339, r.TargetTime); err != nil {
			el.add("postgres.restore.targetTime", r.TargetTime, "must be an RFC 3339 time with a zone, such as 2026-11-30T08:00:00Z")
		}
	}
}

// endpointProblem says what is wrong with an external S3 endpoint URL.
func endpointProblem(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return "must be an http(s) URL of an S3 endpoint, such as https://s3.eu-west-1.amazonaws.com"
	case u.User != nil:
		return "must not carry a user name or password (user:pass@): give the keys as the stack secrets " + BackupS3AccessKeyIDKey + " and " + BackupS3SecretAccessKeyKey
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || (u.Path != "" && u.Path != "/"):
		return "must be the endpoint alone (scheme, host, optional port), with no path, query or fragment: the bucket goes in postgres.backup.bucket and a prefix in postgres.backup.path"
	}
	return ""
}

// checkManifest validates a Kubernetes manifest source: an https URL or a
// local path (air-gapped clusters).
func checkManifest(el *errorList, key, s string) {
	const want = "must be the URL of a release manifest (such as " + DefaultPluginManifest + ") or a path to a downloaded copy"
	switch {
	case strings.TrimSpace(s) == "" || strings.TrimSpace(s) != s:
		el.add(key, s, want+"; it must not be blank or start or end with white space")
	case isHTTPURL(s):
		u, err := url.Parse(s)
		switch {
		case err != nil || u.Host == "":
			el.add(key, s, want)
		case u.User != nil:
			el.add(key, s, want+"; the URL must not carry a user name or password: it would be stored in the stack's state in plain text")
		}
	case strings.Contains(s, "://"):
		el.add(key, s, want+"; only http:// and https:// URLs are manifest sources")
	}
}

// LongestGap is the longest time between two consecutive base backups of
// Schedule, over the two years after a fixed start (zero if the schedule
// does not parse, or fires once or never). The backup alerts allow this
// much, and some slack, before a backup counts as too old.
func (b Backup) LongestGap() time.Duration {
	s, err := cnpgCron.Parse(b.Schedule)
	if err != nil {
		return 0
	}
	start := time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)
	end := start.AddDate(2, 0, 0)
	var longest time.Duration
	prev := s.Next(start)
	// Bounded: a schedule firing every second would otherwise take 63M
	// steps; 100,000 runs cover every pattern a cron field can repeat on.
	for i := 0; i < 100_000 && !prev.IsZero() && prev.Before(end); i++ {
		next := s.Next(prev)
		if next.IsZero() {
			break
		}
		longest = max(longest, next.Sub(prev))
		prev = next
	}
	return longest
}
