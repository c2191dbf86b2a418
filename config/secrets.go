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

// LoadSigningKey reads synapse:signingKey. It must be a Pulumi secret
// (`pulumi config set --secret`): a plain value would sit in the stack file
// and the PR diff. ok is false when the key is unset or empty (Pulumi.yaml's
// default); the key is then generated.
func LoadSigningKey(ctx *pulumi.Context) (key pulumi.StringOutput, ok bool, err error) {
	full := Namespace + ":" + SigningKeyKey
	v, set := ctx.GetConfig(full)
	if !set || v == "" {
		return pulumi.StringOutput{}, false, nil
	}
	if !ctx.IsConfigSecret(full) {
		return pulumi.StringOutput{}, false, ValidationError{{Key: SigningKeyKey, Value: "(plain text)",
			Allowed: "the signing key is the server's identity: set it with `pulumi config set --secret synapse:signingKey`"}}
	}
	if err := CheckSigningKey(v); err != nil {
		// The value is a secret: the message never echoes it.
		return pulumi.StringOutput{}, false, ValidationError{{Key: SigningKeyKey, Value: "(secret)", Allowed: err.Error()}}
	}
	return pulumi.ToSecret(pulumi.String(strings.TrimSpace(v) + "\n")).(pulumi.StringOutput), true, nil
}

// BackupKeys are an external backup target's S3 keys (stack secrets).
type BackupKeys struct {
	AccessKeyID, SecretAccessKey pulumi.StringOutput
}

// LoadBackupKeys reads the stack secrets BackupS3AccessKeyIDKey and
// BackupS3SecretAccessKeyKey, which an external backup target
// (postgres.backup.endpoint) needs and nothing else reads. Both must be
// set, as Pulumi secrets; neither value is ever echoed. nil when backups
// go to the stack's MinIO (or nowhere); the keys are then refused, so that
// a leftover credential does not sit unused in the stack file.
func LoadBackupKeys(ctx *pulumi.Context, c *Config) (*BackupKeys, error) {
	return readBackupKeys(c, func(key string) (string, bool, bool) {
		full := Namespace + ":" + key
		v, ok := ctx.GetConfig(full)
		return v, ok && v != "", ok && ctx.IsConfigSecret(full)
	})
}

func readBackupKeys(c *Config, get func(key string) (v string, set, secret bool)) (*BackupKeys, error) {
	external := c.Postgres.Backup.Enabled && c.Postgres.Backup.Endpoint != ""
	var errs ValidationError
	values := map[string]string{}
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
	if len(errs) > 0 {
		return nil, errs
	}
	if !external {
		return nil, nil
	}
	return &BackupKeys{
		AccessKeyID:     pulumi.ToSecret(pulumi.String(values[BackupS3AccessKeyIDKey])).(pulumi.StringOutput),
		SecretAccessKey: pulumi.ToSecret(pulumi.String(values[BackupS3SecretAccessKeyKey])).(pulumi.StringOutput),
	}, nil
}

// LoadUpstreamSecrets reads the stack secret MASUpstreamSecretsKey: one
// client secret per mas.upstreamProviders name, nothing more, nothing
// less. It must be a Pulumi secret; no value is ever echoed. The result
// maps provider name → client secret (secret outputs); nil without
// providers.
func LoadUpstreamSecrets(ctx *pulumi.Context, c *Config) (map[string]pulumi.StringOutput, error) {
	full := Namespace + ":" + MASUpstreamSecretsKey
	v, _ := ctx.GetConfig(full)
	values, err := readUpstreamSecrets(c, v, ctx.IsConfigSecret(full))
	if err != nil || values == nil {
		return nil, err
	}
	out := make(map[string]pulumi.StringOutput, len(values))
	for name, s := range values {
		out[name] = pulumi.ToSecret(pulumi.String(s)).(pulumi.StringOutput)
	}
	return out, nil
}

func readUpstreamSecrets(c *Config, v string, secret bool) (map[string]string, error) {
	key := MASUpstreamSecretsKey
	set := strings.TrimSpace(v) != ""
	want := []string{}
	if c.MAS.Enabled {
		for _, p := range c.MAS.Upstream {
			want = append(want, p.Name)
		}
	}
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
