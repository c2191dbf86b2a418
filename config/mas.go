package config

import (
	"crypto/sha256"
	"fmt"
	"math/big"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// MAS configures the Matrix Authentication Service (MSC3861): it owns
// accounts, passwords, sessions and upstream OIDC providers; Synapse asks
// it about every access token. Element X needs it.
type MAS struct {
	Enabled bool
	// Host is MAS's own DNS name (its Ingress): "auth." + serverName by
	// default. PublicBaseURL is https://<Host>/ (or publicBaseUrl's scheme
	// and port, so that dev's http://…:8008 works behind one port-forward).
	Host          string
	PublicBaseURL string
	Image         string
	// DebugImage is MAS's debug build of Image (the same release on
	// distroless's debug base, with a busybox shell): the first-admin Job
	// needs a shell. Image's tag + "-debug" unless given; "" when Image is
	// pinned by digest and none is given (validation then refuses it).
	DebugImage    string
	Replicas      int
	TLSSecretName string // "" = plain HTTP; its own Secret, as Host is not ingress.host
	// PasswordLogin: local accounts sign in with a password (MAS
	// passwords.enabled). Off when only upstream providers sign people in.
	PasswordLogin bool
	// ExistingUsersMigrated acknowledges that this Synapse's existing
	// users were migrated with syn2mas: the guard Job that refuses to put
	// MAS in front of a Synapse with password users then stands aside.
	ExistingUsersMigrated bool
	// LeaveAcknowledged lets mas.enabled=false stand on a server whose
	// accounts MAS holds: the leave guard, which refuses to lock them out,
	// stands aside.
	LeaveAcknowledged bool
	// Upstream are OIDC providers people sign in with (Keycloak, …).
	Upstream []UpstreamProvider
}

// UpstreamProvider is one upstream OIDC provider of MAS. Its client
// secret is the stack secret MASUpstreamSecretsKey[Name].
type UpstreamProvider struct {
	Name      string // slug: the key of its client secret, and its ID's seed
	ID        string // MAS provider ID, a ULID (derived from Name when not set)
	Issuer    string // https URL; discovery at <issuer>/.well-known/openid-configuration
	ClientID  string
	HumanName string // shown on the login button
	Scope     string
}

// Admin configures the first administrator and the admin console.
type Admin struct {
	// Username is the first admin's localpart, created once by a Job with
	// a generated password ("" = none).
	Username string
	// Console: Element Admin on its own host (needs MAS).
	Console       bool
	Host          string // "admin." + serverName by default
	Image         string
	TLSSecretName string
}

// MASUpstreamSecretsKey is the stack secret holding upstream providers'
// client secrets, a JSON object: provider name → client secret.
const MASUpstreamSecretsKey = "masUpstreamClientSecrets"

var (
	masKeys      = []string{"enabled", "host", "image", "debugImage", "replicas", "tlsSecretName", "passwordLogin", "existingUsersMigrated", "leaveAcknowledged", "upstreamProviders"}
	upstreamKeys = []string{"name", "id", "issuer", "clientId", "humanName", "scope"}
	adminKeys    = []string{"username", "enabled", "host", "image", "tlsSecretName"}
)

// providerName is an upstream provider's slug.
var providerName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}[a-z0-9]$`)

// ulid is a ULID as MAS wants provider IDs: 26 Crockford base32 digits,
// the first 0-7 (the 48-bit timestamp's top bits).
var ulid = regexp.MustCompile(`^[0-7][0-9A-HJKMNP-TV-Z]{25}$`)

// localpart is what Synapse accepts as a new user's localpart.
var localpart = regexp.MustCompile(`^[a-z0-9._=/+-]{1,64}$`)

// parseMAS reads mas. MAS is on by default: new servers start on it, and
// the guard Job protects servers that already have Synapse accounts.
func parseMAS(el *errorList, raw map[string]string, c *Config) {
	o := el.topObject(raw, "mas", masKeys, "")
	replicas := 2
	if c.Tier == "laptop" {
		replicas = 1
	}
	m := MAS{
		Enabled:               deref(o.bool("enabled"), true),
		Host:                  deref(o.str("host", "a DNS name"), "auth."+c.ServerName),
		Image:                 deref(o.str("image", "an image reference"), DefaultMASImage),
		Replicas:              deref(o.int("replicas", 1, 16, "must be a whole number from 1 to 16").value(), replicas),
		TLSSecretName:         deref(o.str("tlsSecretName", "a Secret name"), ""),
		ExistingUsersMigrated: deref(o.bool("existingUsersMigrated"), false),
		LeaveAcknowledged:     deref(o.bool("leaveAcknowledged"), false),
	}
	debugImage := o.str("debugImage", "an image reference")
	m.DebugImage = deref(debugImage, masDebugImage(m.Image))
	if v, ok := o.field("upstreamProviders"); ok {
		m.Upstream = upstreamProviders(el, v)
	}
	// Password sign-in defaults on unless upstream providers do it.
	m.PasswordLogin = deref(o.bool("passwordLogin"), len(m.Upstream) == 0)
	m.PublicBaseURL = SiblingURL(c.PublicBaseURL, m.Host)
	c.MAS = m

	a := el.topObject(raw, "admin", adminKeys, "")
	// The first admin signs in with a generated password: none by default
	// when MAS has password sign-in off (an upstream account is made admin
	// with mas-cli manage promote-admin instead).
	username := a.str("username", "a user name (localpart)")
	defaultAdmin := "admin"
	if m.Enabled && !m.PasswordLogin {
		defaultAdmin = ""
	}
	c.Admin = Admin{
		Username:      deref(username, defaultAdmin),
		Console:       deref(a.bool("enabled"), false),
		Host:          deref(a.str("host", "a DNS name"), "admin."+c.ServerName),
		Image:         deref(a.str("image", "an image reference"), DefaultElementAdminImage),
		TLSSecretName: deref(a.str("tlsSecretName", "a Secret name"), ""),
	}
	if username != nil && *username != "" && m.Enabled && !m.PasswordLogin {
		el.add("admin.username", *username, "the first admin signs in with a generated password, and MAS has password sign-in off (mas.passwordLogin): remove admin.username, and make an upstream account admin once it exists (mas-cli manage promote-admin <username>, README \"Accounts\")")
	}
	if debugImage != nil {
		checkImage(el, "mas.debugImage", *debugImage)
		if t, dt := imageTag(m.Image), imageTag(*debugImage); t != "" && dt != "" && dt != masDebugTag(t) {
			el.addf("mas.debugImage", *debugImage, "must be the debug build of mas.image's release, tag %s (mas.image is %s): the first-admin Job's mas-cli writes to MAS's database, whose schema is the release's", masDebugTag(t), m.Image)
		}
	} else if m.Enabled && c.Admin.Username != "" && strings.Contains(m.Image, "@") {
		el.add("mas.debugImage", "", fmt.Sprintf("mas.image is pinned by digest (%s), and the first-admin Job runs MAS's debug build of the same release, which has a shell: give that image too (the release's <version>-debug tag, by digest if you like)", m.Image))
	}
}

// masDebugImage is MAS's debug build of a release image: each release tag
// X is also published as X-debug (same build on distroless's debug base).
// A digest names one build and has no such sibling: "".
func masDebugImage(image string) string {
	t := imageTag(image)
	if t == "" {
		return ""
	}
	return strings.TrimSuffix(image, t) + masDebugTag(t)
}

// masDebugTag is the debug build's tag of a release tag (itself if it is
// one already).
func masDebugTag(tag string) string { return strings.TrimSuffix(tag, "-debug") + "-debug" }

// imageTag is an image reference's tag, "" when it has none or is pinned
// by digest.
func imageTag(image string) string {
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") && !strings.Contains(image, "@") {
		return image[i+1:]
	}
	return ""
}

func upstreamProviders(el *errorList, v value) []UpstreamProvider {
	items, ok := el.listValue(v, "a list of providers, each an object with the keys "+strings.Join(upstreamKeys, ", "))
	if !ok {
		return nil
	}
	var out []UpstreamProvider
	var idWritten []bool
	for _, item := range items {
		o := el.asObject(item, upstreamKeys, "")
		if o == nil {
			continue
		}
		p := UpstreamProvider{
			Name:      deref(o.str("name", "a short name (lower-case letters, digits, hyphens)"), ""),
			ID:        deref(o.str("id", "a ULID"), ""),
			Issuer:    deref(o.str("issuer", "an https URL"), ""),
			ClientID:  deref(o.str("clientId", "the client ID at the provider"), ""),
			HumanName: deref(o.str("humanName", "a display name"), ""),
			Scope:     deref(o.str("scope", "OAuth scopes"), "openid profile email"),
		}
		key := item.key
		switch {
		case p.Name == "":
			el.add(key+".name", "", "every provider needs a name (lower-case letters, digits and hyphens, 2–32 characters): it keys its client secret in synapse:"+MASUpstreamSecretsKey)
		case !providerName.MatchString(p.Name):
			el.add(key+".name", p.Name, "must be 2–32 lower-case letters, digits and hyphens, starting with a letter")
		}
		written := p.ID != ""
		if p.ID == "" && p.Name != "" {
			p.ID = ProviderULID(p.Name)
		} else if p.ID != "" && !ulid.MatchString(p.ID) {
			el.add(key+".id", p.ID, "must be a ULID (26 characters of Crockford base32, e.g. 01JSHPZHAXC50QBKH67MH33TNF); leave it out to derive one from the name")
		}
		if why := issuerProblem(p.Issuer); why != "" {
			el.add(key+".issuer", p.Issuer, why)
		}
		if p.ClientID == "" {
			el.add(key+".clientId", "", "the provider's client ID for this MAS is required")
		}
		if !slices.Contains(strings.Fields(p.Scope), "openid") {
			el.add(key+".scope", p.Scope, "must include openid (MAS signs people in with OpenID Connect)")
		}
		if p.HumanName == "" {
			p.HumanName = p.Name
		}
		out = append(out, p)
		idWritten = append(idWritten, written)
	}
	seen := map[string]bool{}
	for i, p := range out {
		if p.Name != "" && seen[p.Name] {
			el.addf(fmt.Sprintf("%s[%d].name", v.key, i), p.Name, "must be unique among mas.upstreamProviders")
		}
		seen[p.Name] = true
	}
	// MAS keys providers, and the accounts linked to them, by ID: a second
	// provider with the same ID would silently take the first one's place
	// and its users' links.
	ids := map[string]int{}
	for i, p := range out {
		j, dup := ids[p.ID]
		if p.ID == "" || !dup {
			ids[p.ID] = i
			continue
		}
		if idWritten[i] {
			el.addf(fmt.Sprintf("%s[%d].id", v.key, i), p.ID, "must be unique among mas.upstreamProviders: it is also provider %q's ID, and MAS keys providers and their users' links by ID", out[j].Name)
		} else {
			el.addf(fmt.Sprintf("%s[%d].name", v.key, i), p.Name, "derives the ID %s, which provider %q has too: give one of them another id (MAS keys providers and their users' links by ID)", p.ID, out[j].Name)
		}
	}
	return out
}

func issuerProblem(s string) string {
	if s == "" {
		return "every provider needs its issuer URL (e.g. https://keycloak.example.org/realms/matrix)"
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "":
		return "must be an absolute https URL (e.g. https://keycloak.example.org/realms/matrix)"
	case u.Scheme != "https":
		return "must be an https URL: MAS fetches the provider's keys from it"
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return "must be an issuer URL without user info, query or fragment"
	}
	return ""
}

// ProviderULID derives a stable ULID from a provider name: MAS keys the
// links between accounts and the provider by this ID, so it must never
// change, and users should not have to invent one.
func ProviderULID(name string) string {
	const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	sum := sha256.Sum256([]byte("synapse-mas-upstream:" + name))
	// A ULID is a 128-bit number in 26 base32 digits (the first one 0–7).
	n := new(big.Int).SetBytes(sum[:16])
	out := make([]byte, 26)
	digit := new(big.Int)
	for i := len(out) - 1; i >= 0; i-- {
		n.DivMod(n, big.NewInt(32), digit)
		out[i] = crockford[digit.Int64()]
	}
	return string(out)
}

// SiblingURL is base's scheme and port with another host: MAS, Element
// Web and the admin console sit next to the homeserver's public URL.
func SiblingURL(base, host string) string {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return "https://" + host + "/"
	}
	out := url.URL{Scheme: u.Scheme, Host: host, Path: "/"}
	if p := u.Port(); p != "" {
		out.Host = host + ":" + p
	}
	return out.String()
}

// validateMAS checks mas and admin (after parse).
func validateMAS(el *errorList, c *Config, f facts) {
	m := c.MAS
	checkImage(el, "mas.image", m.Image)
	checkImage(el, "admin.image", c.Admin.Image)
	checkOwnHost(el, "mas.host", m.Host, f.masHost, "auth")
	checkOwnHost(el, "admin.host", c.Admin.Host, f.adminHost, "admin")
	checkSecretName(el, "mas.tlsSecretName", m.TLSSecretName)
	checkSecretName(el, "admin.tlsSecretName", c.Admin.TLSSecretName)
	if m.Enabled && !m.PasswordLogin && len(m.Upstream) == 0 {
		el.add("mas.passwordLogin", "false", "with no mas.upstreamProviders nobody could sign in: keep password sign-in, or add an upstream provider")
	}
	if !m.Enabled && (len(m.Upstream) > 0) {
		el.add("mas.upstreamProviders", fmt.Sprintf("%d provider(s)", len(m.Upstream)), "upstream providers sign people in through MAS: set mas.enabled=true, or remove them")
	}
	if u := c.Admin.Username; u != "" {
		switch {
		case !localpart.MatchString(u):
			el.add("admin.username", u, "must be a Matrix localpart: 1–64 lower-case letters, digits and ._=/+- (or \"\" for no first admin)")
		case strings.HasPrefix(u, "_"):
			el.add("admin.username", u, "must not begin with _: Synapse reserves those names (application services) and refuses to register them")
		case strings.Trim(u, "0123456789") == "":
			el.add("admin.username", u, "must not be all digits: Synapse reserves numeric names for guests and refuses to register them")
		case len("@"+u+":"+c.ServerName) > 255:
			el.addf("admin.username", u, "makes the user ID @%s:%s longer than the 255 characters Matrix allows", u, c.ServerName)
		}
	}
	if c.Admin.Console && !m.Enabled {
		el.add("admin.enabled", "true", "the admin console (Element Admin) signs administrators in through MAS: it needs mas.enabled=true")
	}
}

// AccountURL is MAS's account management page (advertised in the
// well-known, given in the sign-in instructions).
func (m MAS) AccountURL() string { return strings.TrimSuffix(m.PublicBaseURL, "/") + "/account/" }
