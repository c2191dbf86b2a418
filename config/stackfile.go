package config

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// ReadStackFile reads a Pulumi.<stack>.yaml and returns its `synapse:` keys
// as Pulumi hands them to the program: scalars as strings, objects as JSON.
// It lets tests and the offline renderer run a stack file without the CLI.
func ReadStackFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	raw := map[string]string{}
	for k, v := range doc.Config {
		key, ok := strings.CutPrefix(k, Namespace+":")
		if !ok {
			continue // another provider's config, e.g. kubernetes:context
		}
		if m, isMap := v.(map[string]any); isMap {
			if _, secure := m["secure"]; secure && len(m) == 1 {
				if slices.Contains(SecretKeys, key) {
					continue // read by LoadSigningKey under Pulumi; offline, the key is generated
				}
				return nil, fmt.Errorf("%s: %s is a Pulumi secret; only %s may be", path, k, strings.Join(SecretKeys, ", "))
			}
		}
		switch v := plainYAML(v).(type) {
		case string:
			raw[key] = v
		case map[string]any, []any, nil, bool, int, int64, uint64, float64:
			// As the CLI hands them over: JSON (null is "null", true "true").
			b, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", path, k, err)
			}
			raw[key] = string(b)
		default:
			raw[key] = fmt.Sprint(v)
		}
	}
	return raw, nil
}

// ParseStackFile reads a stack file, applies override (key → raw value, as
// in the file: objects as JSON) and parses the result. Tests and tools use
// it to derive variants of the real stacks (e.g. prod with federation off).
func ParseStackFile(path string, override map[string]string) (*Config, error) {
	raw, err := ReadStackFile(path)
	if err != nil {
		return nil, err
	}
	for k, v := range override {
		raw[k] = v
	}
	return Parse(raw)
}

// plainYAML turns what yaml.v3 decodes into what JSON can hold, as the CLI
// hands it over: map keys as strings (yaml.v3 gives map[any]any when a key
// is not a string, e.g. `1: 2`) and timestamps as the date they spell.
func plainYAML(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = plainYAML(x)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[fmt.Sprint(k)] = plainYAML(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = plainYAML(x)
		}
		return out
	case time.Time:
		if v.Equal(v.Truncate(24 * time.Hour)) {
			return v.Format(time.DateOnly)
		}
		return v.Format(time.RFC3339Nano)
	default:
		return v
	}
}
