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

// Load reads every key this program knows from the stack config and parses
// it. Secret config values are never read here: generated secrets come from
// pulumi-random inside the components.
func Load(ctx *pulumi.Context) (*Config, error) {
	raw := map[string]string{}
	for _, k := range Keys {
		if v, ok := ctx.GetConfig(Namespace + ":" + k); ok {
			raw[k] = v
		}
	}
	// The Go SDK cannot list config keys, but the CLI hands the program all
	// of them in PULUMI_CONFIG: a misspelt top-level key (synapse:teir) is
	// then reported like any other bad value instead of silently ignored.
	for _, k := range unknownKeys(os.Getenv("PULUMI_CONFIG")) {
		raw[k] = "(set)"
	}
	return Parse(raw)
}

// unknownKeys returns the keys of our namespace in a PULUMI_CONFIG JSON
// object that this program does not read.
func unknownKeys(env string) []string {
	if env == "" {
		return nil
	}
	var all map[string]any
	if err := json.Unmarshal([]byte(env), &all); err != nil {
		return nil // not ours to judge; the CLI wrote it
	}
	var out []string
	for k := range all {
		key, ok := strings.CutPrefix(k, Namespace+":")
		if ok && !slices.Contains(Keys, key) {
			out = append(out, key)
		}
	}
	return out
}
