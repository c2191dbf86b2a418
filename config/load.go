package config

import (
	"encoding/json"
	"os"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Namespace is the stack config namespace: the project name in Pulumi.yaml.
const Namespace = "synapse"

// Load collects every key of our namespace the program was given and parses
// them with Parse, the one validation path (the offline renderer calls it
// too). Secret config is refused by Parse, never echoed; the keys of
// SecretKeys are read elsewhere (LoadSigningKey).
func Load(ctx *pulumi.Context) (*Config, error) {
	raw, secret := collect(os.Getenv(pulumi.EnvConfig), func(key string) (string, bool, bool) {
		full := Namespace + ":" + key
		v, ok := ctx.GetConfig(full)
		return v, ok, ok && ctx.IsConfigSecret(full)
	})
	return parse(raw, secret)
}

// collect returns the raw config Parse judges: the keys the program reads
// (get asks the engine) and every other key of our namespace in env, the
// CLI's PULUMI_CONFIG. The Go SDK cannot list config keys, but the CLI hands
// the program all of them there: a misspelt top-level key (synapse:teir)
// is then reported like any other bad value instead of silently ignored.
func collect(env string, get func(key string) (v string, ok, secret bool)) (raw map[string]string, secret map[string]bool) {
	keys := append([]string{}, Keys...)
	fromEnv := map[string]string{}
	var all map[string]any
	if env != "" && json.Unmarshal([]byte(env), &all) == nil { // not JSON: not ours to judge, the CLI wrote it
		for k, v := range all {
			key, ok := strings.CutPrefix(k, Namespace+":")
			if !ok {
				continue
			}
			s, isString := v.(string)
			if !isString {
				b, _ := json.Marshal(v)
				s = string(b)
			}
			fromEnv[key] = s
			if !slices.Contains(keys, key) {
				keys = append(keys, key)
			}
		}
	}
	raw, secret = map[string]string{}, map[string]bool{}
	for _, k := range keys {
		if slices.Contains(SecretKeys, k) {
			continue // read by LoadSigningKey, never by Parse
		}
		v, ok, sec := get(k)
		if !ok {
			v, ok = fromEnv[k]
		}
		if ok {
			raw[k] = v
			secret[k] = sec
		}
	}
	return raw, secret
}
