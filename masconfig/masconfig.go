// Package masconfig renders the Matrix Authentication Service's config.yaml
// from the validated config and the plan, and derives MAS's keys from
// generated secrets. Like synapseconfig, no secret passes through the
// rendered file: it names files (secret_file, password_file,
// encryption_file, key_file, client_secret_file) that the MAS component
// mounts from a Kubernetes Secret.
package masconfig

import (
	"fmt"
	"net/url"

	"gopkg.in/yaml.v3"

	"synapse/config"
	"synapse/plan"
)

// Where the MAS pod mounts things, and the files of its Secret.
const (
	ConfigDir  = "/config"
	SecretsDir = "/secrets"
	ConfigFile = "config.yaml"

	SecretEncryption = "encryption"        // 32 bytes, hex
	SecretRSAKey     = "key-rsa.pem"       // RSA signing key (MAS needs one)
	SecretECKey      = "key-p256.pem"      // ES256 signing key
	SecretSynapse    = "synapse-secret"    // shared with Synapse (matrix.secret_file)
	SecretDatabase   = "database-password" // MAS's own Postgres role
	// UpstreamSecretPrefix + provider name: its client secret.
	UpstreamSecretPrefix = "upstream-"
)

// SecretFiles lists the keys of MAS's Secret for a config.
func SecretFiles(c *config.Config) []string {
	out := []string{SecretEncryption, SecretRSAKey, SecretECKey, SecretSynapse, SecretDatabase}
	for _, p := range c.MAS.Upstream {
		out = append(out, UpstreamSecretPrefix+p.Name)
	}
	return out
}

// Listener names and the resources each serves (MAS docs,
// reference/configuration.md "http.listeners"; ess-helm's split): the web
// listener is what the Ingress and HAProxy reach; health and metrics sit
// on the internal one. The web listener answers /health too, which is
// what HAProxy checks on every backend.
var (
	webResources      = []string{"discovery", "human", "oauth", "compat", "graphql", "assets", "adminapi", "health"}
	internalResources = []string{"health", "prometheus", "connection-info"}
)

// Render is MAS's config.yaml.
func Render(c *config.Config, p *plan.Plan) (string, error) {
	doc, err := Config(c, p)
	if err != nil {
		return "", err
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("masconfig: %w", err)
	}
	return string(b), nil
}

// Config is MAS's config.yaml as a document.
func Config(c *config.Config, p *plan.Plan) (map[string]any, error) {
	mas, ok := p.MAS()
	if !ok {
		return nil, fmt.Errorf("masconfig: mas.enabled is false")
	}
	pg := p.Postgres()
	listener := func(name string, port int, resources []string) map[string]any {
		rs := make([]any, len(resources))
		for i, r := range resources {
			rs[i] = map[string]any{"name": r}
		}
		return map[string]any{
			"name":      name,
			"binds":     []any{map[string]any{"address": fmt.Sprintf("0.0.0.0:%d", port)}},
			"resources": rs,
		}
	}
	file := func(name string) string { return SecretsDir + "/" + name }
	doc := map[string]any{
		"http": map[string]any{
			"public_base": c.MAS.PublicBaseURL,
			"listeners": []any{
				listener("web", mas.Port(plan.PortNameMASWeb), webResources),
				listener("internal", mas.Port(plan.PortNameMASInt), internalResources),
			},
		},
		"database": map[string]any{
			"host":            pg.Host(),
			"port":            pg.Port,
			"database":        plan.MASDatabase,
			"username":        plan.MASRole,
			"password_file":   file(SecretDatabase),
			"max_connections": config.MASDatabasePoolMax,
		},
		"matrix": map[string]any{
			"kind":        "synapse_modern", // Synapse >= 1.136: its /_synapse/mas API
			"homeserver":  c.ServerName,
			"endpoint":    p.Main().ServiceURL(),
			"secret_file": file(SecretSynapse),
		},
		"secrets": map[string]any{
			"encryption_file": file(SecretEncryption),
			"keys": []any{
				map[string]any{"kid": "rsa", "key_file": file(SecretRSAKey)},
				map[string]any{"kid": "p256", "key_file": file(SecretECKey)},
			},
		},
		"passwords": map[string]any{"enabled": c.MAS.PasswordLogin},
		// Accounts are made by the administrator (Element Admin or
		// mas-cli): self-registration would need an email transport.
		"account": map[string]any{"password_registration_enabled": false},
		"policy":  map[string]any{"data": policyData(c)},
		"telemetry": map[string]any{
			"metrics": map[string]any{"exporter": "prometheus"},
		},
	}
	if providers := upstream(c); len(providers) > 0 {
		doc["upstream_oauth2"] = map[string]any{"providers": providers}
	}
	return doc, nil
}

// policyData: the first admin may request admin scopes (Element Admin asks
// for urn:mas:admin and urn:synapse:admin:*); clients such as Element Web
// and Element Admin register themselves (dynamic client registration),
// which MAS's policy refuses for http URIs unless the deployment itself is
// plain HTTP (dev behind a port-forward: browsers treat *.localhost as
// secure).
func policyData(c *config.Config) map[string]any {
	admins := []string{}
	if c.Admin.Username != "" {
		admins = append(admins, c.Admin.Username)
	}
	insecure := false
	if u, err := url.Parse(c.MAS.PublicBaseURL); err == nil && u.Scheme == "http" {
		insecure = true
	}
	return map[string]any{
		"admin_users": admins,
		"client_registration": map[string]any{
			"allow_insecure_uris": insecure,
			"allow_host_mismatch": false,
		},
	}
}

// upstream renders mas.upstreamProviders: OIDC discovery from the issuer,
// the client secret from a file, and the account's localpart, display
// name and email from the standard claims.
func upstream(c *config.Config) []any {
	var out []any
	for _, p := range c.MAS.Upstream {
		out = append(out, map[string]any{
			"id":                         p.ID,
			"issuer":                     p.Issuer,
			"human_name":                 p.HumanName,
			"client_id":                  p.ClientID,
			"client_secret_file":         SecretsDir + "/" + UpstreamSecretPrefix + p.Name,
			"token_endpoint_auth_method": "client_secret_basic",
			"scope":                      p.Scope,
			"claims_imports": map[string]any{
				"localpart":   map[string]any{"action": "require", "template": "{{ user.preferred_username }}"},
				"displayname": map[string]any{"action": "suggest", "template": "{{ user.name }}"},
				"email":       map[string]any{"action": "suggest", "template": "{{ user.email }}"},
			},
		})
	}
	return out
}
