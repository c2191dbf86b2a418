package synapseconfig

import (
	_ "embed"
	"strconv"

	"synapse/config"
)

// MediaCacheScript bounds a media worker's local store when media is also
// in S3 (see the script's own documentation for why evicting is safe, and
// README "Media storage"). It runs in a container of the media worker's
// pod, on the pod's own volume, with the media image (Python, PyYAML and
// boto3, which synapse-s3-storage-provider brings).
//
//go:embed media_cache.py
var MediaCacheScript string

// MediaCacheArgs are the `python` arguments of that container.
func MediaCacheArgs(m config.MediaCache) []string {
	return []string{"-c", MediaCacheScript,
		"--media", MediaDir,
		"--config", ConfigDir + "/" + SharedFile,
		"--max-idle-days", strconv.Itoa(m.MaxIdleDays),
		"--max-usage-percent", strconv.Itoa(m.MaxUsagePercent),
	}
}

// mediaRetention is Synapse's media_retention (config documentation,
// "media_retention"): a lifetime left out means that kind of media is never
// purged, so the key is written only with a lifetime.
func mediaRetention(r config.MediaRetention) map[string]any {
	out := map[string]any{}
	if r.LocalMediaLifetime != "" {
		out["local_media_lifetime"] = r.LocalMediaLifetime
	}
	if r.RemoteMediaLifetime != "" {
		out["remote_media_lifetime"] = r.RemoteMediaLifetime
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
