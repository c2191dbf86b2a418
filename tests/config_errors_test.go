package tests

import (
	"encoding/json"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/require"

	"synapse/config"
	"synapse/internal/mockstack"
	"synapse/stack"
)

// runWithCLIConfig runs the program under mocks as `pulumi up` would: the
// engine's config holds the keys, and PULUMI_CONFIG (the CLI's hand-over,
// the only place the Go SDK can list keys from) holds them all, misspelt
// ones included.
func runWithCLIConfig(t *testing.T, raw map[string]string) (*mockstack.Stack, error) {
	t.Helper()
	cfg := mockConfig(raw)
	env, err := json.Marshal(cfg)
	require.NoError(t, err)
	t.Setenv(pulumi.EnvConfig, string(env))
	return mockstack.Run(stack.Deploy, mockstack.Options{Project: config.Namespace, Stack: "dev", Config: cfg})
}

// A misspelt top-level key fails the run before any resource is registered.
func TestMisspeltTopLevelKeyRegistersNothing(t *testing.T) {
	raw := rawConfig(t, stackCase{file: "dev"})
	raw["teir"] = "large"
	s, err := runWithCLIConfig(t, raw)
	require.Error(t, err)
	require.Contains(t, err.Error(), `synapse:teir: "large" is not allowed; unknown key`)
	require.Contains(t, err.Error(), "(1 problem(s))", "only the misspelt key is wrong")
	require.Empty(t, s.Resources, "an invalid config must register nothing")
}

// Bad values inside objects fail the run under the key the user wrote, and
// nothing is registered.
func TestBadConfigRegistersNothing(t *testing.T) {
	for name, tc := range map[string]struct {
		overrides map[string]string
		want      []string
	}{
		"fractional replicas": {map[string]string{"pools": `{"generic":{"replicas":2.5}}`},
			[]string{`synapse:pools.generic.replicas: "2.5"`}},
		"null stream writer": {map[string]string{"streamWriters": `{"typing":null}`},
			[]string{`synapse:streamWriters.typing: "null"`}},
		"reserved namespace": {map[string]string{"namespace": "kube-system"},
			[]string{`synapse:namespace: "kube-system"`}},
		"bucket as an IP": {map[string]string{"minio": `{"bucket":"192.168.1.1"}`},
			[]string{`synapse:minio.bucket: "192.168.1.1"`}},
		"tiny postgres volume": {map[string]string{"postgres": `{"storage":{"size":"100Mi"}}`},
			[]string{`synapse:postgres.storage.size: "100Mi"`, "1Gi"}},
		"dataProtection 1": {map[string]string{"dataProtection": "1"},
			[]string{`synapse:dataProtection: "1"`}},
	} {
		t.Run(name, func(t *testing.T) {
			raw := rawConfig(t, stackCase{file: "dev", overrides: tc.overrides})
			s, err := runWithCLIConfig(t, raw)
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
			require.Contains(t, err.Error(), "(1 problem(s))", "one problem, one error: %v", err)
			require.Empty(t, s.Resources)
		})
	}
}

// The committed stacks pass through the same path (PULUMI_CONFIG set).
func TestStackFilesPassWithCLIConfig(t *testing.T) {
	for _, file := range []string{"dev", "prod"} {
		t.Run(file, func(t *testing.T) {
			s, err := runWithCLIConfig(t, rawConfig(t, stackCase{file: file}))
			require.NoError(t, err)
			require.NotEmpty(t, s.Resources)
		})
	}
}
