package config

import (
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
	return Parse(raw)
}
