// Package cliconfig runs the Pulumi CLI's own stack-config validation on
// Pulumi.yaml and the committed stack files. Mocks never apply the project's
// config schema, so without this a key the CLI treats as required (a type
// and no default) passes every other test and fails `pulumi preview` in a
// second (DESIGN.md, "What the real engine does").
package cliconfig

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	pkgworkspace "github.com/pulumi/pulumi/pkg/v3/workspace"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag/colors"
	"github.com/pulumi/pulumi/sdk/v3/go/common/encoding"
	"github.com/pulumi/pulumi/sdk/v3/go/common/esc"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"

	synconfig "synapse/config"
)

const projectDir = "../.."

func loadProject(t *testing.T) *workspace.Project {
	t.Helper()
	p, err := workspace.LoadProject(filepath.Join(projectDir, "Pulumi.yaml"))
	if err != nil {
		t.Fatalf("the SDK's project loader refuses Pulumi.yaml: %v", err)
	}
	return p
}

// loadStack parses stack file bytes with the SDK's own loader.
func loadStack(t *testing.T, p *workspace.Project, name string, data []byte) *workspace.ProjectStack {
	t.Helper()
	sink := diag.DefaultSink(os.Stderr, os.Stderr, diag.FormatOptions{Color: colors.Never})
	ps, err := workspace.LoadProjectStackBytes(sink, p, data, "Pulumi."+name+".yaml", encoding.YAML)
	if err != nil {
		t.Fatalf("the SDK's stack loader refuses Pulumi.%s.yaml: %v", name, err)
	}
	return ps
}

// validate runs what `pulumi preview` and `pulumi up` run before the
// program starts, and returns the config the CLI hands the program
// (PULUMI_CONFIG: key → string, objects as JSON).
func validate(p *workspace.Project, name string, ps *workspace.ProjectStack) (map[string]string, error) {
	cfg, err := ps.Config.Copy(config.NopDecrypter, config.NopEncrypter)
	if err != nil {
		return nil, err
	}
	if err := pkgworkspace.ValidateStackConfigAndApplyProjectConfig(context.Background(), name, p, esc.Value{},
		cfg, config.NopEncrypter, config.NopDecrypter); err != nil {
		return nil, err
	}
	plain, err := cfg.Decrypt(config.NopDecrypter)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for k, v := range plain {
		// The secret keys are judged by config.Load/Check, not Parse.
		if k.Namespace() == synconfig.Namespace && !slices.Contains(synconfig.SecretKeys, k.Name()) {
			out[k.Name()] = v
		}
	}
	return out, nil
}

func stackFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(projectDir, "Pulumi.*.yaml"))
	if err != nil || len(files) < 2 {
		t.Fatalf("want the dev and prod stack files, found %v (%v)", files, err)
	}
	return files
}

func stackName(file string) string {
	return strings.TrimSuffix(strings.TrimPrefix(filepath.Base(file), "Pulumi."), ".yaml")
}

// Every committed stack passes the CLI's validation, and the program parses
// what the CLI hands it (Pulumi.yaml's defaults merged in) into exactly the
// Config it parses from the stack file alone (what mocks and the offline
// renderer see): the defaults in Pulumi.yaml change nothing.
func TestCommittedStacksPassTheCLIsValidation(t *testing.T) {
	p := loadProject(t)
	for _, file := range stackFiles(t) {
		name := stackName(file)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			merged, err := validate(p, name, loadStack(t, p, name, data))
			if err != nil {
				t.Fatalf("the Pulumi CLI would refuse stack %s: %v", name, err)
			}
			for key := range p.Config {
				if _, ok := merged[key]; !ok && !slices.Contains(synconfig.SecretKeys, key) {
					t.Errorf("the CLI hands the program no value for %s (a default is missing)", key)
				}
			}
			fromCLI, err := synconfig.Parse(merged)
			if err != nil {
				t.Fatalf("the program refuses what the CLI hands it: %v", err)
			}
			fromFile, err := synconfig.ParseStackFile(file, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(fromCLI, fromFile) {
				t.Errorf("Pulumi.yaml's defaults change the parsed config:\n CLI:  %+v\n file: %+v", fromCLI, fromFile)
			}
		})
	}
}

// Only serverName is required; every other key is optional for the CLI.
func TestOnlyServerNameIsRequired(t *testing.T) {
	p := loadProject(t)
	_, err := validate(p, "bare", loadStack(t, p, "bare", []byte("config: {}\n")))
	if err == nil || !strings.Contains(err.Error(), "missing configuration value") {
		t.Fatalf("a stack without serverName: want the CLI's missing-value error, got %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "'serverName'") || strings.Count(msg, "'") != 4 {
		t.Errorf("the CLI must report serverName as the only missing key: %v", err)
	}
	merged, err := validate(p, "minimal", loadStack(t, p, "minimal", []byte("config:\n  synapse:serverName: example.org\n")))
	if err != nil {
		t.Fatalf("a stack with only serverName must pass the CLI: %v", err)
	}
	got, err := synconfig.Parse(merged)
	if err != nil {
		t.Fatal(err)
	}
	want, err := synconfig.Parse(map[string]string{"serverName": "example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("with Pulumi.yaml's defaults the config differs from the program's own defaults:\n got  %+v\n want %+v", got, want)
	}
}

// The CLI refuses a wrong type before the program runs; these cases prove
// the check above is the CLI's and can fail.
func TestTheCLIRefusesWrongTypes(t *testing.T) {
	p := loadProject(t)
	for _, tc := range []struct{ name, yaml, key string }{
		{"object as string", "  synapse:pools: lots\n", "pools"},
		{"boolean as object", "  synapse:dataProtection:\n    on: true\n", "dataProtection"},
		{"string as object", "  synapse:tier:\n    name: large\n", "tier"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := "config:\n  synapse:serverName: example.org\n" + tc.yaml
			_, err := validate(p, "bad", loadStack(t, p, "bad", []byte(doc)))
			if err == nil || !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("want the CLI to refuse %s, got %v", tc.key, err)
			}
		})
	}
}
