package masconfig

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"synapse/config"
	"synapse/plan"
)

func parse(t *testing.T, raw map[string]string) *config.Config {
	t.Helper()
	base := map[string]string{"serverName": "example.org", "tier": "small", "minio": `{"enabled":true}`, "mediaImage": "r.io/s3:1"}
	for k, v := range raw {
		base[k] = v
	}
	c, err := config.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRenderedConfig parses config.yaml back and checks what MAS and
// Synapse must agree on: the endpoint, the shared secret's file, the
// database, listeners on the plan's ports, every secret by file.
func TestRenderedConfig(t *testing.T) {
	c := parse(t, map[string]string{
		"mas": `{"upstreamProviders":[{"name":"keycloak","issuer":"https://kc.example.org/realms/matrix","clientId":"mas"}]}`,
	})
	p := plan.Build(c)
	text, err := Render(c, p)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		HTTP struct {
			PublicBase string `yaml:"public_base"`
			Listeners  []struct {
				Name      string
				Binds     []struct{ Address string }
				Resources []struct{ Name string }
			}
		}
		Database map[string]any
		Matrix   map[string]any
		Secrets  struct {
			EncryptionFile string `yaml:"encryption_file"`
			Keys           []map[string]string
		}
		Passwords map[string]any
		Policy    struct {
			Data map[string]any
		}
		Upstream struct {
			Providers []map[string]any
		} `yaml:"upstream_oauth2"`
	}
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.HTTP.PublicBase != "https://auth.example.org/" {
		t.Errorf("public_base %q", doc.HTTP.PublicBase)
	}
	mas, _ := p.MAS()
	ports := map[string]string{"web": "0.0.0.0:8080", "internal": "0.0.0.0:8081"}
	if mas.Port(plan.PortNameHTTP) != 8080 || len(doc.HTTP.Listeners) != 2 {
		t.Fatalf("listeners %+v", doc.HTTP.Listeners)
	}
	for _, l := range doc.HTTP.Listeners {
		if len(l.Binds) != 1 || l.Binds[0].Address != ports[l.Name] {
			t.Errorf("listener %s binds %+v", l.Name, l.Binds)
		}
		var names []string
		for _, r := range l.Resources {
			names = append(names, r.Name)
		}
		// HAProxy and the probes fetch /health on both.
		if !strings.Contains(strings.Join(names, ","), "health") {
			t.Errorf("listener %s has no health resource: %v", l.Name, names)
		}
		if l.Name == "web" && !strings.Contains(strings.Join(names, ","), "compat") {
			t.Errorf("web listener does not serve the compatibility layer HAProxy sends to it: %v", names)
		}
	}
	if doc.Matrix["endpoint"] != "http://synapse-main.matrix.svc.cluster.local:8008/" || doc.Matrix["homeserver"] != "example.org" ||
		doc.Matrix["secret_file"] != "/secrets/synapse-secret" {
		t.Errorf("matrix %v", doc.Matrix)
	}
	pg := p.Postgres()
	if doc.Database["host"] != pg.Host() || doc.Database["port"] != pg.Port || doc.Database["database"] != "mas" ||
		doc.Database["username"] != "mas" || doc.Database["password_file"] != "/secrets/database-password" {
		t.Errorf("database %v", doc.Database)
	}
	if doc.Secrets.EncryptionFile != "/secrets/encryption" || len(doc.Secrets.Keys) != 2 {
		t.Errorf("secrets %+v", doc.Secrets)
	}
	files := SecretFiles(c)
	for _, k := range doc.Secrets.Keys {
		if !strings.HasPrefix(k["key_file"], SecretsDir+"/") || !slices.Contains(files, strings.TrimPrefix(k["key_file"], SecretsDir+"/")) {
			t.Errorf("key %v is not a file of the Secret %v", k, files)
		}
	}
	if len(doc.Upstream.Providers) != 1 {
		t.Fatalf("providers %+v", doc.Upstream.Providers)
	}
	up := doc.Upstream.Providers[0]
	if up["client_secret_file"] != "/secrets/upstream-keycloak" || !slices.Contains(files, "upstream-keycloak") ||
		up["id"] != config.ProviderULID("keycloak") || up["issuer"] != "https://kc.example.org/realms/matrix" {
		t.Errorf("provider %v", up)
	}
	if doc.Passwords["enabled"] != false {
		t.Errorf("with an upstream provider and no passwordLogin, passwords %v", doc.Passwords)
	}
	// Password sign-in off: no first admin (an upstream account is
	// promoted with mas-cli instead).
	if admins := doc.Policy.Data["admin_users"]; len(admins.([]any)) != 0 {
		t.Errorf("admin_users %v", admins)
	}
	// No secret value in the file: only paths.
	for _, s := range []string{"BEGIN", "PRIVATE KEY"} {
		if strings.Contains(text, s) {
			t.Errorf("config.yaml holds %q", s)
		}
	}
}

// TestInsecureURIsOnlyOnPlainHTTP: dynamic client registration of http
// URIs is allowed only when MAS itself is served over http (dev).
func TestInsecureURIsOnlyOnPlainHTTP(t *testing.T) {
	for _, tc := range []struct {
		base string
		want bool
	}{{"https://matrix.example.org/", false}, {"http://matrix.localhost:8008/", true}} {
		c := parse(t, map[string]string{"publicBaseUrl": tc.base})
		got := policyData(c)["client_registration"].(map[string]any)["allow_insecure_uris"]
		if got != tc.want {
			t.Errorf("%s: allow_insecure_uris %v", tc.base, got)
		}
	}
	c := parse(t, map[string]string{"publicBaseUrl": "http://matrix.localhost:8008/"})
	if c.MAS.PublicBaseURL != "http://auth.example.org:8008/" {
		t.Errorf("MAS public URL %s", c.MAS.PublicBaseURL)
	}
}

func TestKeysAreStableValidAndDistinct(t *testing.T) {
	a, b := strings.Repeat("a", 64), strings.Repeat("b", 64)
	rsa1, err := RSAKey(a)
	if err != nil {
		t.Fatal(err)
	}
	rsa2, _ := RSAKey(a)
	rsa3, _ := RSAKey(b)
	if rsa1 != rsa2 {
		t.Error("RSA key is not stable for one secret")
	}
	if rsa1 == rsa3 {
		t.Error("two secrets give one RSA key")
	}
	block, _ := pem.Decode([]byte(rsa1))
	k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if k.N.BitLen() != RSABits || k.Validate() != nil {
		t.Errorf("RSA key of %d bits", k.N.BitLen())
	}
	// It signs and verifies (RS256).
	digest := sha256.Sum256([]byte("hello"))
	sig, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, digest[:])
	if err != nil || rsa.VerifyPKCS1v15(&k.PublicKey, crypto.SHA256, digest[:], sig) != nil {
		t.Errorf("sign/verify: %v", err)
	}

	ec1, err := ECKey(a)
	if err != nil {
		t.Fatal(err)
	}
	ec2, _ := ECKey(a)
	ec3, _ := ECKey(b)
	if ec1 != ec2 || ec1 == ec3 {
		t.Error("EC key not stable per secret, or not distinct between secrets")
	}
	block, _ = pem.Decode([]byte(ec1))
	pk, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	ek, ok := pk.(*ecdsa.PrivateKey)
	if !ok || ek.Curve != elliptic.P256() {
		t.Fatalf("EC key %T", pk)
	}
	if EncryptionKey(a) == EncryptionKey(b) || len(EncryptionKey(a)) != 64 {
		t.Error("encryption key")
	}
	if _, err := RSAKey("short"); err == nil {
		t.Error("a short secret was accepted")
	}
}

func BenchmarkRSAKey(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := deriveRSAKey(strings.Repeat("x", 63) + string(rune('a'+i%26))); err != nil {
			b.Fatal(err)
		}
	}
}

// masKeyPaths are the config.yaml keys this program may write, as MAS's
// configuration reference (docs/reference/configuration.md) spells them;
// [] is a list's items. MAS ignores a key it does not know without a
// word, so a misspelt or retired key (claims_imports.email's
// set_email_verification, gone in MAS 1.x) would silently do nothing:
// this list is the check. policy.data is free-form (the policy's input).
var masKeyPaths = []string{
	"http.public_base",
	"http.listeners[].name", "http.listeners[].binds[].address", "http.listeners[].resources[].name",
	"database.host", "database.port", "database.database", "database.username", "database.password_file", "database.max_connections",
	"matrix.kind", "matrix.homeserver", "matrix.endpoint", "matrix.secret_file",
	"secrets.encryption_file", "secrets.keys[].kid", "secrets.keys[].key_file",
	"passwords.enabled",
	"account.password_registration_enabled",
	"policy.data",
	"telemetry.metrics.exporter",
	"upstream_oauth2.providers[].id", "upstream_oauth2.providers[].issuer", "upstream_oauth2.providers[].human_name",
	"upstream_oauth2.providers[].client_id", "upstream_oauth2.providers[].client_secret_file",
	"upstream_oauth2.providers[].token_endpoint_auth_method", "upstream_oauth2.providers[].scope",
	"upstream_oauth2.providers[].claims_imports.localpart.action", "upstream_oauth2.providers[].claims_imports.localpart.template",
	"upstream_oauth2.providers[].claims_imports.displayname.action", "upstream_oauth2.providers[].claims_imports.displayname.template",
	"upstream_oauth2.providers[].claims_imports.email.action", "upstream_oauth2.providers[].claims_imports.email.template",
}

// keyPaths lists the leaf key paths of a YAML document (policy.data as one).
func keyPaths(prefix string, v any, out *[]string) {
	switch v := v.(type) {
	case map[string]any:
		if prefix == "policy.data" {
			*out = append(*out, prefix)
			return
		}
		for k, x := range v {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			keyPaths(p, x, out)
		}
	case []any:
		for _, x := range v {
			keyPaths(prefix+"[]", x, out)
		}
	default:
		*out = append(*out, prefix)
	}
}

// TestRenderedKeysAreMASKeys: every key of config.yaml, with every
// optional section on (upstream providers, password sign-in, the first
// admin), is one MAS reads.
func TestRenderedKeysAreMASKeys(t *testing.T) {
	c := parse(t, map[string]string{
		"mas": `{"passwordLogin":true,"upstreamProviders":[{"name":"keycloak","issuer":"https://kc.example.org/realms/matrix","clientId":"mas"}]}`,
	})
	text, err := Render(c, plan.Build(c))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatal(err)
	}
	var paths []string
	keyPaths("", doc, &paths)
	slices.Sort(paths)
	paths = slices.Compact(paths)
	for _, p := range paths {
		if !slices.Contains(masKeyPaths, p) {
			t.Errorf("config.yaml key %s is not one MAS reads (masKeyPaths)", p)
		}
	}
	for _, want := range []string{"upstream_oauth2.providers[].client_secret_file", "policy.data", "passwords.enabled"} {
		if !slices.Contains(paths, want) {
			t.Errorf("config.yaml has no %s: the test no longer covers that section", want)
		}
	}
	var policy struct {
		Policy struct {
			Data struct {
				Admins []string `yaml:"admin_users"`
			}
		}
	}
	if err := yaml.Unmarshal([]byte(text), &policy); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(policy.Policy.Data.Admins, []string{"admin"}) {
		t.Errorf("admin_users %v, want the first admin", policy.Policy.Data.Admins)
	}
}
