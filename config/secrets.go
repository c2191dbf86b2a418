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
var SecretKeys = []string{SigningKeyKey}

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
