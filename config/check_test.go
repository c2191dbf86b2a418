package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

const (
	testProvider   = `{"name":"keycloak","issuer":"https://kc.example.org/realms/m","clientId":"mas"}`
	testProvider2  = `{"name":"google","issuer":"https://accounts.google.com","clientId":"mas"}`
	testEndpoint   = `{"backup":{"enabled":true,"endpoint":"https://s3.example.org"}}`
	testSigningKey = "ed25519 a_old1 mFZX2SVd6yGcI/qtgWXXMY4eXITrbRuTXQkuHsXWO6s"
)

// checkKeys runs Check and returns the keys its errors name (nil when it
// accepts the config). The error must be one ValidationError and must not
// echo a secret value.
func checkKeys(t *testing.T, raw map[string]string, secret map[string]bool) []string {
	t.Helper()
	_, err := Check(raw, secret)
	if err == nil {
		return nil
	}
	var verr ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("want one ValidationError, got %T: %v", err, err)
	}
	for k, v := range raw {
		// "[secret]": OfflineSecrets' stand-in for a key that is no secret key.
		if secret[k] && v != "" && v != "[secret]" && strings.Contains(err.Error(), v) {
			t.Errorf("the error echoes the secret %s: %v", k, err)
		}
	}
	return verr.Keys()
}

// TestCheckReportsPlainAndSecretProblemsAtOnce: a bad plain key does not
// hide a problem with a secret key (it used to: the secret keys were read
// only once the plain config was valid), and the premises of the secret
// checks (mas.upstreamProviders, postgres.backup.endpoint) are read from
// the refused config.
func TestCheckReportsPlainAndSecretProblemsAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		raw    map[string]string
		secret map[string]bool
		want   []string
	}{
		{"bad tier, upstream secret missing",
			map[string]string{"tier": "huge", "mas": `{"upstreamProviders":[` + testProvider + `]}`},
			nil, []string{"tier", MASUpstreamSecretsKey}},
		{"bad tier, upstream secret in plain text",
			map[string]string{"tier": "huge", "mas": `{"upstreamProviders":[` + testProvider + `]}`, MASUpstreamSecretsKey: `{"keycloak":"s3cr3t"}`},
			nil, []string{"tier", MASUpstreamSecretsKey}},
		{"bad issuer, one of two provider secrets missing",
			map[string]string{"mas": `{"upstreamProviders":[` + testProvider + `,{"name":"google","issuer":"http://g.example.org","clientId":"x"}]}`, MASUpstreamSecretsKey: `{"keycloak":"s3cr3t"}`},
			map[string]bool{MASUpstreamSecretsKey: true}, []string{"mas.upstreamProviders[1].issuer", MASUpstreamSecretsKey + ".google"}},
		{"bad tier, backup keys missing",
			map[string]string{"tier": "huge", "postgres": testEndpoint},
			nil, []string{"tier", BackupS3AccessKeyIDKey, BackupS3SecretAccessKeyKey}},
		{"bad tier, leftover backup key",
			map[string]string{"tier": "huge", BackupS3AccessKeyIDKey: "AKIDEXAMPLE"},
			map[string]bool{BackupS3AccessKeyIDKey: true}, []string{"tier", BackupS3AccessKeyIDKey}},
		{"bad tier, plain signing key",
			map[string]string{"tier": "huge", SigningKeyKey: testSigningKey},
			nil, []string{"tier", SigningKeyKey}},
		{"every secret key wrong at once",
			map[string]string{"streamWriters": `{"typing":2}`, "postgres": testEndpoint, "mas": `{"upstreamProviders":[` + testProvider + `]}`,
				SigningKeyKey: "not a key", BackupS3AccessKeyIDKey: "AKIDEXAMPLE"},
			map[string]bool{SigningKeyKey: true},
			[]string{"streamWriters.typing", SigningKeyKey, BackupS3AccessKeyIDKey, BackupS3SecretAccessKeyKey, MASUpstreamSecretsKey}},
		// A premise that Parse refuses is not judged upon: no second,
		// speculative error about the secret it would need.
		{"providers not a list",
			map[string]string{"mas": `{"upstreamProviders":{"name":"keycloak"}}`},
			nil, []string{"mas.upstreamProviders"}},
		{"provider without a name",
			map[string]string{"mas": `{"upstreamProviders":[{"issuer":"https://kc.example.org","clientId":"x"}]}`},
			nil, []string{"mas.upstreamProviders[0].name"}},
		{"backup enabled not a bool",
			map[string]string{"postgres": `{"backup":{"enabled":"yes","endpoint":"https://s3.example.org"}}`},
			nil, []string{"postgres.backup.enabled", "postgres.backup.endpoint"}},
		{"all well", map[string]string{"mas": `{"upstreamProviders":[` + testProvider + `]}`, "postgres": testEndpoint,
			MASUpstreamSecretsKey: `{"keycloak":"s3cr3t"}`, BackupS3AccessKeyIDKey: "AKIDEXAMPLE", BackupS3SecretAccessKeyKey: "s3cr3t-value", SigningKeyKey: testSigningKey},
			map[string]bool{MASUpstreamSecretsKey: true, BackupS3AccessKeyIDKey: true, BackupS3SecretAccessKeyKey: true, SigningKeyKey: true}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := map[string]string{"serverName": "example.org"}
			for k, v := range tc.raw {
				raw[k] = v
			}
			got := checkKeys(t, raw, tc.secret)
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("keys %v, want %v", got, want)
			}
		})
	}
}
