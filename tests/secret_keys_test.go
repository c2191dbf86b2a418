package tests

import (
	"errors"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"synapse/config"
	"synapse/internal/mockstack"
	"synapse/stack"
)

// TestPlainAndSecretConfigErrorsTogether: `pulumi up` reports a bad plain
// key and a bad secret key in one run, before any resource exists. (It
// used to stop at the first loader that failed: with tier: huge, a missing
// upstream client secret only showed on the next run.)
func TestPlainAndSecretConfigErrorsTogether(t *testing.T) {
	t.Parallel()
	keycloak := `{"upstreamProviders":[{"name":"keycloak","issuer":"https://kc.example.org/realms/matrix","clientId":"mas"}]}`
	for _, tc := range []struct {
		name      string
		overrides map[string]string
		secret    []string
		want      []string
	}{
		{"bad tier, upstream client secret missing",
			map[string]string{"tier": "huge", "mas": keycloak},
			nil, []string{"tier", config.MASUpstreamSecretsKey}},
		{"two typing writers, backup keys in plain text and missing",
			map[string]string{"streamWriters": `{"typing":2}`,
				"postgres":                    `{"backup":{"enabled":true,"endpoint":"https://s3.example.org"}}`,
				config.BackupS3AccessKeyIDKey: "AKIDEXAMPLE"},
			nil, []string{"streamWriters.typing", config.BackupS3AccessKeyIDKey, config.BackupS3SecretAccessKeyKey}},
		{"bad namespace, malformed signing key",
			map[string]string{"namespace": "kube-system", config.SigningKeyKey: "hunter2hunter2"},
			[]string{config.SigningKeyKey}, []string{"namespace", config.SigningKeyKey}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			raw := rawConfig(t, stackCase{file: "dev", overrides: tc.overrides})
			var secret []string
			for _, k := range tc.secret {
				secret = append(secret, config.Namespace+":"+k)
			}
			s, err := mockstack.Run(stack.Deploy, mockstack.Options{Project: config.Namespace, Stack: "dev",
				Config: mockConfig(raw), SecretConfigKeys: secret})
			require.Error(t, err)
			var verr config.ValidationError
			require.True(t, errors.As(err, &verr), "want one config.ValidationError, got %v", err)
			got := verr.Keys()
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			assert.Equal(t, want, got, "every problem at once: %v", err)
			assert.NotContains(t, err.Error(), "AKIDEXAMPLE")
			assert.NotContains(t, err.Error(), "hunter2")
			assert.Empty(t, s.Resources, "an invalid config must register nothing")
		})
	}
}
