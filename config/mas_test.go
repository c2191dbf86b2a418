package config

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

// TestMASConfigRefused: bad mas/admin config is refused naming the key the
// user wrote.
func TestMASConfigRefused(t *testing.T) {
	kc := `{"name":"keycloak","issuer":"https://kc.example.org/realms/m","clientId":"mas"}`
	for _, tc := range []struct {
		name string
		raw  map[string]string
		key  string
	}{
		{"provider without issuer", map[string]string{"mas": `{"upstreamProviders":[{"name":"kc","clientId":"x"}]}`}, "mas.upstreamProviders[0].issuer"},
		{"http issuer", map[string]string{"mas": `{"upstreamProviders":[{"name":"kc","issuer":"http://kc.example.org","clientId":"x"}]}`}, "mas.upstreamProviders[0].issuer"},
		{"issuer with user info", map[string]string{"mas": `{"upstreamProviders":[{"name":"kc","issuer":"https://u:p@kc.example.org","clientId":"x"}]}`}, "mas.upstreamProviders[0].issuer"},
		{"provider without client id", map[string]string{"mas": `{"upstreamProviders":[{"name":"kc","issuer":"https://kc.example.org"}]}`}, "mas.upstreamProviders[0].clientId"},
		{"provider without name", map[string]string{"mas": `{"upstreamProviders":[{"issuer":"https://kc.example.org","clientId":"x"}]}`}, "mas.upstreamProviders[0].name"},
		{"bad provider name", map[string]string{"mas": `{"upstreamProviders":[{"name":"Key Cloak","issuer":"https://kc.example.org","clientId":"x"}]}`}, "mas.upstreamProviders[0].name"},
		{"bad ULID", map[string]string{"mas": `{"upstreamProviders":[{"name":"kc","id":"not-a-ulid","issuer":"https://kc.example.org","clientId":"x"}]}`}, "mas.upstreamProviders[0].id"},
		{"scope without openid", map[string]string{"mas": `{"upstreamProviders":[{"name":"kc","issuer":"https://kc.example.org","clientId":"x","scope":"profile"}]}`}, "mas.upstreamProviders[0].scope"},
		{"duplicate provider", map[string]string{"mas": `{"upstreamProviders":[` + kc + `,` + kc + `]}`}, "mas.upstreamProviders[1].name"},
		{"providers not a list", map[string]string{"mas": `{"upstreamProviders":{"name":"kc"}}`}, "mas.upstreamProviders"},
		{"unknown mas key", map[string]string{"mas": `{"registration":true}`}, "mas.registration"},
		{"nobody could sign in", map[string]string{"mas": `{"passwordLogin":false}`}, "mas.passwordLogin"},
		{"providers with MAS off", map[string]string{"mas": `{"enabled":false,"upstreamProviders":[` + kc + `]}`}, "mas.upstreamProviders"},
		{"mas host is the Matrix host", map[string]string{"mas": `{"host":"matrix.example.org"}`}, "mas.host"},
		{"mas host an IP", map[string]string{"mas": `{"host":"10.0.0.1"}`}, "mas.host"},
		{"mas replicas 0", map[string]string{"mas": `{"replicas":0}`}, "mas.replicas"},
		{"mas enabled not a bool", map[string]string{"mas": `{"enabled":"yes"}`}, "mas.enabled"},
		{"leave acknowledged not a bool", map[string]string{"mas": `{"enabled":false,"leaveAcknowledged":1}`}, "mas.leaveAcknowledged"},
		{"mas image latest", map[string]string{"mas": `{"image":"ghcr.io/element-hq/matrix-authentication-service:latest"}`}, "mas.image"},
		{"bad mas TLS secret", map[string]string{"mas": `{"tlsSecretName":"Not_A_Name"}`}, "mas.tlsSecretName"},
		{"admin console without MAS", map[string]string{"mas": `{"enabled":false}`, "admin": `{"enabled":true}`}, "admin.enabled"},
		{"admin user name", map[string]string{"admin": `{"username":"Admin User"}`}, "admin.username"},
		{"admin host same as MAS", map[string]string{"admin": `{"enabled":true,"host":"auth.example.org"}`}, "admin.host"},
		{"admin null", map[string]string{"admin": `{"username":null}`}, "admin.username"},
		{"two providers with one written ID", map[string]string{"mas": `{"upstreamProviders":[{"name":"kc","id":"01JSHPZHAXC50QBKH67MH33TNF","issuer":"https://kc.example.org","clientId":"x"},{"name":"kc2","id":"01JSHPZHAXC50QBKH67MH33TNF","issuer":"https://kc2.example.org","clientId":"x"}]}`}, "mas.upstreamProviders[1].id"},
		{"written ID equal to another's derived one", map[string]string{"mas": `{"upstreamProviders":[{"name":"kc2","id":"` + ProviderULID("kc") + `","issuer":"https://kc2.example.org","clientId":"x"},{"name":"kc","issuer":"https://kc.example.org","clientId":"x"}]}`}, "mas.upstreamProviders[1].name"},
		{"admin user name reserved for application services", map[string]string{"admin": `{"username":"_admin"}`}, "admin.username"},
		{"admin user name all digits", map[string]string{"admin": `{"username":"1234"}`}, "admin.username"},
		{"mas debug image of another release", map[string]string{"mas": `{"debugImage":"ghcr.io/element-hq/matrix-authentication-service:0.12.0-debug"}`}, "mas.debugImage"},
		{"mas debug image not MAS", map[string]string{"mas": `{"debugImage":"docker.io/library/busybox:1.36"}`}, "mas.debugImage"},
		{"first admin without password sign-in", map[string]string{"mas": `{"upstreamProviders":[` + kc + `]}`, "admin": `{"username":"root"}`}, "admin.username"},
		{"mas image by digest without its debug image", map[string]string{"mas": `{"image":"ghcr.io/element-hq/matrix-authentication-service@sha256:` + strings.Repeat("a", 64) + `"}`}, "mas.debugImage"},
		{"mas debug image latest", map[string]string{"mas": `{"debugImage":"ghcr.io/element-hq/matrix-authentication-service:latest"}`}, "mas.debugImage"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := map[string]string{"serverName": "example.org", "publicBaseUrl": "https://matrix.example.org/"}
			for k, v := range tc.raw {
				raw[k] = v
			}
			_, err := Parse(raw)
			var ve ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("accepted (err %v)", err)
			}
			if !strings.Contains(strings.Join(ve.Keys(), " "), tc.key) {
				t.Errorf("errors name %v, want %s\n%v", ve.Keys(), tc.key, err)
			}
		})
	}
}

// TestMASDebugImage: the first-admin Job's image is the release tag's
// -debug sibling, or the one given; a digest needs one given, unless no
// Job runs.
func TestMASDebugImage(t *testing.T) {
	digest := "ghcr.io/element-hq/matrix-authentication-service@sha256:" + strings.Repeat("a", 64)
	for _, tc := range []struct {
		name string
		raw  map[string]string
		want string
	}{
		{"tag", map[string]string{"mas": `{"image":"registry.example.org/mas:1.24.0"}`}, "registry.example.org/mas:1.24.0-debug"},
		{"registry with a port", map[string]string{"mas": `{"image":"registry.example.org:5000/mas:1.24.0"}`}, "registry.example.org:5000/mas:1.24.0-debug"},
		{"already the debug build", map[string]string{"mas": `{"image":"registry.example.org/mas:1.24.0-debug"}`}, "registry.example.org/mas:1.24.0-debug"},
		{"a mirror's debug image of the same release", map[string]string{"mas": `{"image":"ghcr.io/element-hq/matrix-authentication-service:1.24.0","debugImage":"mirror.example.org/mas:1.24.0-debug"}`}, "mirror.example.org/mas:1.24.0-debug"},
		{"digest and its debug image", map[string]string{"mas": `{"image":"` + digest + `","debugImage":"registry.example.org/mas@sha256:` + strings.Repeat("b", 64) + `"}`}, "registry.example.org/mas@sha256:" + strings.Repeat("b", 64)},
		{"digest and no first admin", map[string]string{"mas": `{"image":"` + digest + `"}`, "admin": `{"username":""}`}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := map[string]string{"serverName": "example.org"}
			for k, v := range tc.raw {
				raw[k] = v
			}
			c, err := Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			if c.MAS.DebugImage != tc.want {
				t.Errorf("mas debug image %q, want %q", c.MAS.DebugImage, tc.want)
			}
		})
	}
}

func TestMASDefaults(t *testing.T) {
	c, err := Parse(map[string]string{"serverName": "example.org", "tier": "small", "minio": `{"enabled":true}`, "mediaImage": "r.io/s3:1",
		"mas": `{"upstreamProviders":[{"name":"keycloak","issuer":"https://kc.example.org/realms/m","clientId":"mas"}]}`})
	if err != nil {
		t.Fatal(err)
	}
	m := c.MAS
	if !m.Enabled || m.Host != "auth.example.org" || m.Replicas != 2 || m.PasswordLogin || m.PublicBaseURL != "https://auth.example.org/" {
		t.Errorf("MAS defaults %+v", m)
	}
	// Password sign-in is off (an upstream provider signs people in): no
	// first admin with a generated password.
	if c.Admin.Username != "" || c.Admin.Console || c.Admin.Host != "admin.example.org" {
		t.Errorf("admin defaults %+v", c.Admin)
	}
	if m.DebugImage != DefaultMASImage+"-debug" {
		t.Errorf("debug image %q, want the release tag's -debug sibling", m.DebugImage)
	}
	id := m.Upstream[0].ID
	if !regexp.MustCompile(`^[0-7][0-9A-HJKMNP-TV-Z]{25}$`).MatchString(id) || id != ProviderULID("keycloak") || id == ProviderULID("google") {
		t.Errorf("derived provider ID %q", id)
	}
}

// TestUpstreamSecrets: one client secret per provider, as a Pulumi secret,
// never echoed.
func TestUpstreamSecrets(t *testing.T) {
	with, _ := Parse(map[string]string{"serverName": "example.org",
		"mas": `{"upstreamProviders":[{"name":"keycloak","issuer":"https://kc.example.org/realms/m","clientId":"mas"}]}`})
	without, _ := Parse(map[string]string{"serverName": "example.org"})
	for _, tc := range []struct {
		name   string
		c      *Config
		v      string
		secret bool
		key    string // "" = accepted
	}{
		{"ok", with, `{"keycloak":"s3cr3t"}`, true, ""},
		{"none needed", without, "", false, ""},
		{"missing", with, "", false, MASUpstreamSecretsKey},
		{"plain text", with, `{"keycloak":"s3cr3t"}`, false, MASUpstreamSecretsKey},
		{"not JSON", with, `s3cr3t`, true, MASUpstreamSecretsKey},
		{"provider without secret", with, `{"other":"s3cr3t"}`, true, MASUpstreamSecretsKey + ".keycloak"},
		{"leftover", without, `{"keycloak":"s3cr3t"}`, true, MASUpstreamSecretsKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := readUpstreamSecrets(tc.c, tc.v, tc.secret)
			if tc.key == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tc.c.MAS.Upstream != nil && m["keycloak"] != "s3cr3t" {
					t.Errorf("secrets %v", m)
				}
				return
			}
			var ve ValidationError
			if !errors.As(err, &ve) || !strings.Contains(strings.Join(ve.Keys(), " "), tc.key) {
				t.Fatalf("err %v, want one on %s", err, tc.key)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("the secret is echoed: %v", err)
			}
		})
	}
}
