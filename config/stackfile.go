package config

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

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
				return nil, fmt.Errorf("%s: %s is a Pulumi secret; this program reads no secret config", path, k)
			}
		}
		switch v := v.(type) {
		case string:
			raw[key] = v
		case map[string]any, []any:
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
