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

// StackFile is the `synapse:` config of a Pulumi.<stack>.yaml.
type StackFile struct {
	// Raw holds the plain keys as Pulumi hands them to the program:
	// scalars as strings, objects as JSON.
	Raw map[string]string
	// Secure lists, sorted, the keys written as Pulumi secrets
	// ({secure: v1:...}): set, with values only the stack's secrets
	// provider can decrypt (see OfflineSecrets).
	Secure []string
}

// ReadStack reads a stack file without the CLI, for the offline renderer
// and tests.
func ReadStack(path string) (*StackFile, error) {
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
	f := &StackFile{Raw: map[string]string{}}
	for k, v := range doc.Config {
		key, ok := strings.CutPrefix(k, Namespace+":")
		if !ok {
			continue // another provider's config, e.g. kubernetes:context
		}
		if m, isMap := v.(map[string]any); isMap {
			if _, secure := m["secure"]; secure && len(m) == 1 {
				f.Secure = append(f.Secure, key)
				continue
			}
		}
		switch v := plainYAML(v).(type) {
		case string:
			f.Raw[key] = v
		case map[string]any, []any, nil, bool, int, int64, uint64, float64:
			// As the CLI hands them over: JSON (null is "null", true "true").
			b, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", path, k, err)
			}
			f.Raw[key] = string(b)
		default:
			f.Raw[key] = fmt.Sprint(v)
		}
	}
	slices.Sort(f.Secure)
	return f, nil
}

// ReadStackFile reads a stack file's plain keys (StackFile.Raw): the
// secret keys of SecretKeys written as Pulumi secrets are left out, and
// any other key written as one is an error.
func ReadStackFile(path string) (map[string]string, error) {
	f, err := ReadStack(path)
	if err != nil {
		return nil, err
	}
	for _, key := range f.Secure {
		if !slices.Contains(SecretKeys, key) {
			return nil, fmt.Errorf("%s: %s:%s is a Pulumi secret; only %s may be", path, Namespace, key, strings.Join(SecretKeys, ", "))
		}
	}
	return f.Raw, nil
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
