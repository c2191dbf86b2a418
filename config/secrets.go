package config

import (
	"encoding/base64"
	"fmt"
	"regexp"
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
var SecretKeys = []string{SigningKeyKey, BackupS3AccessKeyIDKey, BackupS3SecretAccessKeyKey}

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
