package config

import "strings"

// premises are what the checks of the secret keys need to know of the
// plain config: whether backups go to an external target (its S3 keys are
// then required, else refused) and which upstream providers need a client
// secret. A premise that cannot be known is not judged upon: its own keys
// are then wrong, and reported by Parse.
type premises struct {
	externalBackup, backupKnown bool
	upstream                    []string // provider names; empty with MAS off
	upstreamKnown               bool
}

// premisesOf reads the premises of a valid Config.
func premisesOf(c *Config) premises {
	return premises{
		externalBackup: c.Postgres.Backup.Enabled && c.Postgres.Backup.Endpoint != "", backupKnown: true,
		upstream: upstreamNames(c), upstreamKnown: true,
	}
}

// premisesFromRaw reads the premises from raw config that Parse refused
// (for a problem elsewhere, say tier), so that the secret keys are judged
// in the same run and every problem is reported at once. It reads the
// keys as Parse does (the same readers, their reports discarded); a
// premise is unknown when Parse has something to say about a key it rests
// on.
func premisesFromRaw(raw map[string]string) premises {
	var el errorList
	var p premises

	pg := el.topObject(raw, "postgres", postgresKeys, "")
	b := backup(&el, pg.object("backup", backupKeys))
	p.externalBackup = b.Enabled && b.Endpoint != ""
	p.backupKnown = !el.hasAny("postgres", "postgres.backup", "postgres.backup.enabled", "postgres.backup.endpoint")

	el = errorList{}
	mas := el.topObject(raw, "mas", masKeys, "")
	enabled := deref(mas.bool("enabled"), true)
	var providers []UpstreamProvider
	if v, ok := mas.field("upstreamProviders"); ok {
		providers = upstreamProviders(&el, v)
	}
	p.upstream = []string{}
	if enabled {
		for _, u := range providers {
			p.upstream = append(p.upstream, u.Name)
		}
	}
	p.upstreamKnown = !el.hasAny("mas", "mas.enabled", "mas.upstreamProviders")
	for _, e := range el.errs {
		if strings.HasPrefix(e.Key, "mas.upstreamProviders[") && (strings.HasSuffix(e.Key, "]") || strings.HasSuffix(e.Key, ".name")) {
			p.upstreamKnown = false // a provider whose name is not known
		}
	}
	return p
}

// hasAny reports whether a problem with one of keys was recorded.
func (l *errorList) hasAny(keys ...string) bool {
	for _, k := range keys {
		if l.has(k) {
			return true
		}
	}
	return false
}
