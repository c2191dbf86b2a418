package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeStack writes a stack file and reads it back with ReadStack.
func writeStack(t *testing.T, config string) *StackFile {
	t.Helper()
	file := filepath.Join(t.TempDir(), "Pulumi.x.yaml")
	if err := os.WriteFile(file, []byte("config:\n  synapse:serverName: example.org\n"+config), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := ReadStack(file)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestOfflineSecrets: a key written as a Pulumi secret is set, with a
// value the offline renderer cannot know. Its stand-in passes the key's
// checks where the plain config says what they need (one client secret per
// provider, a well-formed signing key, both backup keys), so the stack is
// judged as `pulumi up` judges it: a missing, plain-text or leftover
// secret key is still refused.
func TestOfflineSecrets(t *testing.T) {
	secure := func(key string) string { return "  synapse:" + key + ":\n    secure: v1:AAAABBBBCCCC\n" }
	providers := "  synapse:mas:\n    upstreamProviders:\n      - {name: keycloak, issuer: 'https://kc.example.org/realms/m', clientId: mas}\n" +
		"      - {name: google, issuer: 'https://accounts.google.com', clientId: mas}\n"
	endpoint := "  synapse:postgres:\n    backup: {enabled: true, endpoint: 'https://s3.example.org'}\n"
	for _, tc := range []struct {
		name, config string
		want         []string // keys refused; nil = accepted
	}{
		{"every secret key", providers + endpoint + secure(MASUpstreamSecretsKey) + secure(SigningKeyKey) +
			secure(BackupS3AccessKeyIDKey) + secure(BackupS3SecretAccessKeyKey), nil},
		{"upstream secret missing", providers, []string{MASUpstreamSecretsKey}},
		{"upstream secret in plain text", providers + "  synapse:" + MASUpstreamSecretsKey + ": '{\"keycloak\":\"a\",\"google\":\"b\"}'\n", []string{MASUpstreamSecretsKey}},
		{"upstream secret without providers", secure(MASUpstreamSecretsKey), []string{MASUpstreamSecretsKey}},
		{"one backup key missing", endpoint + secure(BackupS3AccessKeyIDKey), []string{BackupS3SecretAccessKeyKey}},
		{"backup keys without an endpoint", secure(BackupS3AccessKeyIDKey) + secure(BackupS3SecretAccessKeyKey), []string{BackupS3AccessKeyIDKey, BackupS3SecretAccessKeyKey}},
		{"signing key in plain text", "  synapse:" + SigningKeyKey + ": '" + testSigningKey + "'\n", []string{SigningKeyKey}},
		{"another key as a secret", secure("tier"), []string{"tier"}},
		{"a misspelt key as a secret", secure("teir"), []string{"teir"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := writeStack(t, tc.config)
			for _, k := range f.Secure {
				if _, inRaw := f.Raw[k]; inRaw {
					t.Errorf("secure key %s among the plain keys", k)
				}
			}
			raw, placeholders := OfflineSecrets(f)
			got := checkKeys(t, raw, f.SecretSet())
			if !slices.Equal(got, tc.want) {
				t.Errorf("keys %v, want %v", got, tc.want)
			}
			for v, p := range placeholders {
				if !strings.HasPrefix(p, "<stack-secret:synapse:") || strings.Contains(p, v) {
					t.Errorf("placeholder %q for %q", p, v)
				}
			}
		})
	}

	// Each provider's stand-in is its own placeholder.
	f := writeStack(t, providers+secure(MASUpstreamSecretsKey)+secure(SigningKeyKey))
	if !slices.Equal(f.Secure, []string{MASUpstreamSecretsKey, SigningKeyKey}) {
		t.Fatalf("Secure = %v", f.Secure)
	}
	raw, placeholders := OfflineSecrets(f)
	c, err := check(raw, f.SecretSet())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"keycloak", "google"} {
		if p := placeholders[c.upstream[name]]; p != "<stack-secret:synapse:"+MASUpstreamSecretsKey+"."+name+">" {
			t.Errorf("%s: stand-in %q has placeholder %q", name, c.upstream[name], p)
		}
	}
	if p := placeholders[strings.TrimSpace(c.signingKey)]; !c.haveSigningKey || p != "<stack-secret:synapse:signingKey>" {
		t.Errorf("signing key stand-in %q has placeholder %q", c.signingKey, p)
	}
}
