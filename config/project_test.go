package config

import (
	"os"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// Pulumi.yaml declares every key this package reads, with the same
// defaults: the CLI applies Pulumi.yaml's, mocks and tests apply ours.
func TestPulumiYAMLAgreesWithConfig(t *testing.T) {
	data, err := os.ReadFile("../Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var project struct {
		Name   string `yaml:"name"`
		Config map[string]struct {
			Type    string `yaml:"type"`
			Default any    `yaml:"default"`
		} `yaml:"config"`
	}
	if err := yaml.Unmarshal(data, &project); err != nil {
		t.Fatal(err)
	}
	if project.Name != Namespace {
		t.Fatalf("project name %q, config namespace %q", project.Name, Namespace)
	}
	var declared []string
	for k := range project.Config {
		declared = append(declared, k)
	}
	sort.Strings(declared)
	want := append(append([]string{}, Keys...), SecretKeys...)
	sort.Strings(want)
	if strings.Join(declared, ",") != strings.Join(want, ",") {
		t.Fatalf("Pulumi.yaml declares %v, the program reads %v", declared, want)
	}
	c, err := Parse(map[string]string{"serverName": "example.org"})
	if err != nil {
		t.Fatal(err)
	}
	defaults := map[string]any{"namespace": c.Namespace, "image": c.Image, "tier": c.Tier, "dataProtection": c.DataProtection}
	for k, v := range defaults {
		if got := project.Config[k].Default; got != v {
			t.Errorf("Pulumi.yaml default of %s = %v, Go default %v", k, got, v)
		}
	}
}
