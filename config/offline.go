package config

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"maps"
)

// OfflineSecrets stands in for the keys a stack file holds as Pulumi
// secrets ({secure: v1:...}), whose values only the stack's secrets
// provider can decrypt: offline, the renderer knows that they are set, not
// what they are. It returns the stack's raw config with a stand-in value
// for each secure key (to be handed over as a secret, as Pulumi does), and
// placeholders: each stand-in value → the text a rendered manifest shows
// in its place ("<stack-secret:synapse:KEY>").
//
// A stand-in passes its key's shape checks where the shape is known:
// synapse:signingKey is a well-formed signing key line, and
// synapse:masUpstreamClientSecrets is a JSON object with one client secret
// per provider named in mas.upstreamProviders. So offline a secret key is
// judged as `pulumi up` judges it (needed or a leftover, set or missing,
// secret or plain text) except for what only its value can tell. A secure
// key that is not one of SecretKeys is handed over too, and Check refuses
// it, as `pulumi up` does.
func OfflineSecrets(f *StackFile) (raw map[string]string, placeholders map[string]string) {
	raw = maps.Clone(f.Raw)
	if raw == nil {
		raw = map[string]string{}
	}
	placeholders = map[string]string{}
	standIn := func(key string) string {
		v := "offline-stand-in-for-" + Namespace + ":" + key
		placeholders[v] = "<stack-secret:" + Namespace + ":" + key + ">"
		return v
	}
	for _, key := range f.Secure {
		switch key {
		case SigningKeyKey:
			seed := sha256.Sum256([]byte("offline stand-in for " + Namespace + ":" + SigningKeyKey))
			v := "ed25519 a_offline " + base64.RawStdEncoding.EncodeToString(seed[:])
			placeholders[v] = "<stack-secret:" + Namespace + ":" + SigningKeyKey + ">"
			raw[key] = v
		case MASUpstreamSecretsKey:
			// With no provider to name (MAS off, none listed), "{}" is still
			// set: refused as a leftover, as the real value would be.
			m := map[string]string{}
			for _, name := range premisesFromRaw(f.Raw).upstream {
				if name != "" {
					m[name] = standIn(key + "." + name)
				}
			}
			b, _ := json.Marshal(m)
			raw[key] = string(b)
		case BackupS3AccessKeyIDKey, BackupS3SecretAccessKeyKey:
			raw[key] = standIn(key)
		default:
			raw[key] = "[secret]" // refused by Check: no other key may be a secret
		}
	}
	return raw, placeholders
}

// SecretSet is the set of keys Pulumi holds as secrets, for Check.
func (f *StackFile) SecretSet() map[string]bool {
	out := make(map[string]bool, len(f.Secure))
	for _, k := range f.Secure {
		out[k] = true
	}
	return out
}
