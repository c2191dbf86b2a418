package config

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// SigningKeyKey is the one secret stack config key: an existing server's
// Synapse signing key, for servers that move to this program or stacks
// created before the key was derived from a RandomPassword (README,
// "Signing key"). It never enters Config: Config is plain data that tests,
// the renderer and error messages print.
const SigningKeyKey = "signingKey"

// SecretKeys are the top-level stack config keys read as secrets, outside
// Parse.
var SecretKeys = []string{SigningKeyKey, BackupS3AccessKeyIDKey, BackupS3SecretAccessKeyKey, MASUpstreamSecretsKey}

// signingKeyLine is Synapse's signing key file: "ed25519 <key id> <seed>",
// the seed 32 bytes in (unpadded) standard base64.
var signingKeyLine = regexp.MustCompile(`^ed25519 (a_[A-Za-z0-9_]+) ([A-Za-z0-9+/]{43}=?)\s*$`)

// CheckSigningKey validates a signing key file's content (one key).
func CheckSigningKey(v string) error {
	m := signingKeyLine.FindStringSubmatch(v)
	if m == nil {
		return fmt.Errorf("must be one Synapse signing key line, \"ed25519 a_<id> <base64 seed>\" (the content of the old server's signing.key)")
	}
	seed, err := base64.RawStdEncoding.DecodeString(trimPad(m[2]))
	if err != nil || len(seed) != 32 {
		return fmt.Errorf("the seed must be 32 bytes of base64")
	}
	return nil
}

func trimPad(s string) string {
	if len(s) > 0 && s[len(s)-1] == '=' {
		return s[:len(s)-1]
	}
	return s
}

// checkSigningKey judges synapse:signingKey. It must be a Pulumi secret
// (`pulumi config set --secret`): a plain value would sit in the stack file
// and the PR diff. ok is false when the key is unset or empty (Pulumi.yaml's
// default); the key is then generated. The value is never echoed.
func checkSigningKey(v string, set, secret bool) (key string, ok bool, errs ValidationError) {
	switch {
	case !set || v == "":
		return "", false, nil
	case !secret:
		return "", false, ValidationError{{Key: SigningKeyKey, Value: "(plain text)",
			Allowed: "the signing key is the server's identity: set it with `pulumi config set --secret synapse:signingKey`"}}
	}
	if err := CheckSigningKey(v); err != nil {
		return "", false, ValidationError{{Key: SigningKeyKey, Value: "(secret)", Allowed: err.Error()}}
	}
	return strings.TrimSpace(v) + "\n", true, nil
}

// BackupKeys are an external backup target's S3 keys (stack secrets).
type BackupKeys struct {
	AccessKeyID, SecretAccessKey pulumi.StringOutput
}

// readBackupKeys judges the stack secrets BackupS3AccessKeyIDKey and
// BackupS3SecretAccessKeyKey against a valid Config (checkBackupKeys).
func readBackupKeys(c *Config, get func(key string) (v string, set, secret bool)) (*BackupKeys, error) {
	values, errs := checkBackupKeys(premisesOf(c).externalBackup, get)
	if len(errs) > 0 {
		return nil, errs
	}
	return secretBackupKeys(values), nil
}

// checkBackupKeys judges the S3 keys of an external backup target
// (external: postgres.backup.enabled with postgres.backup.endpoint),
// which nothing else reads. With one, both must be set, as Pulumi
// secrets; without one they are refused, so that a leftover credential
// does not sit unused in the stack file. No value is ever echoed. values
// is nil without an external target.
func checkBackupKeys(external bool, get func(key string) (v string, set, secret bool)) (values map[string]string, errs ValidationError) {
	values = map[string]string{}
	for _, key := range []string{BackupS3AccessKeyIDKey, BackupS3SecretAccessKeyKey} {
		v, set, secret := get(key)
		switch {
		case !external && set:
			errs = append(errs, FieldError{Key: key, Value: "(set)",
				Allowed: "is only read with an external backup target (postgres.backup.enabled=true and postgres.backup.endpoint): remove it with `pulumi config rm synapse:" + key + "`"})
		case !external:
		case !set:
			errs = append(errs, FieldError{Key: key, Allowed: "postgres.backup.endpoint needs the target's S3 keys: set them with `pulumi config set --secret synapse:" + key + " ...`"})
		case !secret:
			errs = append(errs, FieldError{Key: key, Value: "(plain text)",
				Allowed: "an S3 key must not sit in the stack file in plain text: set it with `pulumi config set --secret synapse:" + key + "`"})
		default:
			values[key] = v
		}
	}
	if len(errs) > 0 || !external {
		return nil, errs
	}
	return values, nil
}

// secretBackupKeys wraps checked key values as secret outputs (nil for nil).
func secretBackupKeys(values map[string]string) *BackupKeys {
	if values == nil {
		return nil
	}
	return &BackupKeys{
		AccessKeyID:     pulumi.ToSecret(pulumi.String(values[BackupS3AccessKeyIDKey])).(pulumi.StringOutput),
		SecretAccessKey: pulumi.ToSecret(pulumi.String(values[BackupS3SecretAccessKeyKey])).(pulumi.StringOutput),
	}
}

// readUpstreamSecrets judges the stack secret MASUpstreamSecretsKey
// against a valid Config (checkUpstreamSecrets).
func readUpstreamSecrets(c *Config, v string, secret bool) (map[string]string, error) {
	m, errs := checkUpstreamSecrets(upstreamNames(c), v, secret)
	if len(errs) > 0 {
		return nil, errs
	}
	return m, nil
}

// upstreamNames are the providers that need a client secret: none when
// MAS is off.
func upstreamNames(c *Config) []string {
	want := []string{}
	if c.MAS.Enabled {
		for _, p := range c.MAS.Upstream {
			want = append(want, p.Name)
		}
	}
	return want
}

// checkUpstreamSecrets judges the stack secret MASUpstreamSecretsKey: one
// client secret per provider named in want (mas.upstreamProviders),
// nothing more, nothing less. It must be a Pulumi secret; no value is
// ever echoed. The result maps provider name → client secret; nil
// without providers.
func checkUpstreamSecrets(want []string, v string, secret bool) (map[string]string, ValidationError) {
	key := MASUpstreamSecretsKey
	set := strings.TrimSpace(v) != ""
	how := "set it with `pulumi config set --secret synapse:" + key + " '{\"<provider name>\": \"<client secret>\"}'`"
	switch {
	case len(want) == 0 && set:
		return nil, ValidationError{{Key: key, Value: "(set)",
			Allowed: "is only read with mas.upstreamProviders: remove it with `pulumi config rm synapse:" + key + "`"}}
	case len(want) == 0:
		return nil, nil
	case !set:
		return nil, ValidationError{{Key: key, Allowed: "mas.upstreamProviders need their client secrets: " + how}}
	case !secret:
		return nil, ValidationError{{Key: key, Value: "(plain text)",
			Allowed: "client secrets must not sit in the stack file in plain text: " + how}}
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(v), &m); err != nil {
		return nil, ValidationError{{Key: key, Value: "(secret)", Allowed: "must be a JSON object of strings, provider name → client secret: " + how}}
	}
	var errs ValidationError
	for _, name := range want {
		if m[name] == "" {
			errs = append(errs, FieldError{Key: key + "." + name, Allowed: "mas.upstreamProviders names " + name + ": give its client secret"})
		}
	}
	for _, name := range sortedNames(m) {
		if !slices.Contains(want, name) {
			errs = append(errs, FieldError{Key: key + "." + name, Value: "(secret)", Allowed: "no provider in mas.upstreamProviders has this name: " + strings.Join(want, ", ")})
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return m, nil
}
