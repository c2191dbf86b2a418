package config

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Namespace is the stack config namespace: the project name in Pulumi.yaml.
const Namespace = "synapse"

// Loaded is everything the program reads from stack config: the validated
// Config and the values of the secret keys (SecretKeys), which never enter
// Config (Config is plain data that tests, the renderer and error messages
// print).
type Loaded struct {
	Config *Config
	// SigningKey is an existing server's signing key file (synapse:signingKey),
	// a secret output; HaveSigningKey is false when the key is to be generated.
	SigningKey     pulumi.StringOutput
	HaveSigningKey bool
	// BackupKeys are the external backup target's S3 keys; nil without one.
	BackupKeys *BackupKeys
	// UpstreamSecrets maps each MAS upstream provider's name to its client
	// secret (secret outputs); nil without providers.
	UpstreamSecrets map[string]pulumi.StringOutput
}

// Load collects every key of our namespace the program was given, plain
// and secret, and judges them all with Check, the one validation path (the
// offline renderer calls Check too): every problem of every key is
// reported at once, in one ValidationError, before anything is created.
// Secret values are never echoed.
func Load(ctx *pulumi.Context) (*Loaded, error) {
	get := func(key string) (string, bool, bool) {
		full := Namespace + ":" + key
		v, ok := ctx.GetConfig(full)
		return v, ok, ok && ctx.IsConfigSecret(full)
	}
	raw, secret := collect(os.Getenv(pulumi.EnvConfig), get)
	for _, k := range SecretKeys {
		if v, ok, sec := get(k); ok {
			raw[k], secret[k] = v, sec
		}
	}
	c, err := check(raw, secret)
	if err != nil {
		return nil, err
	}
	l := &Loaded{Config: c.config, BackupKeys: secretBackupKeys(c.backupKeys), HaveSigningKey: c.haveSigningKey}
	if c.haveSigningKey {
		l.SigningKey = pulumi.ToSecret(pulumi.String(c.signingKey)).(pulumi.StringOutput)
	}
	if c.upstream != nil {
		l.UpstreamSecrets = make(map[string]pulumi.StringOutput, len(c.upstream))
		for name, s := range c.upstream {
			l.UpstreamSecrets[name] = pulumi.ToSecret(pulumi.String(s)).(pulumi.StringOutput)
		}
	}
	return l, nil
}

// Check judges a stack's raw config as `pulumi up` does: raw holds every
// key of our namespace as Pulumi hands it to the program (plain keys and
// the secret keys of SecretKeys, with their values), secret the keys that
// Pulumi holds as secrets. It returns the Config, or every problem of
// every key at once.
func Check(raw map[string]string, secret map[string]bool) (*Config, error) {
	c, err := check(raw, secret)
	if err != nil {
		return nil, err
	}
	return c.config, nil
}

// checked is what check read: the Config and the secret values, plain.
type checked struct {
	config         *Config
	signingKey     string
	haveSigningKey bool
	backupKeys     map[string]string
	upstream       map[string]string
}

func check(raw map[string]string, secret map[string]bool) (*checked, error) {
	var errs ValidationError
	cfg, err := parse(raw, secret) // skips the secret keys
	var p premises
	if err != nil {
		var verr ValidationError
		if !errors.As(err, &verr) {
			return nil, err
		}
		errs = append(errs, verr...)
		p = premisesFromRaw(raw)
	} else {
		p = premisesOf(cfg)
	}
	out := &checked{config: cfg}
	_, set := raw[SigningKeyKey]
	var e ValidationError
	out.signingKey, out.haveSigningKey, e = checkSigningKey(raw[SigningKeyKey], set, secret[SigningKeyKey])
	errs = append(errs, e...)
	if p.backupKnown {
		out.backupKeys, e = checkBackupKeys(p.externalBackup, func(key string) (string, bool, bool) {
			v, ok := raw[key]
			return v, ok && v != "", ok && secret[key]
		})
		errs = append(errs, e...)
	}
	if p.upstreamKnown {
		out.upstream, e = checkUpstreamSecrets(p.upstream, raw[MASUpstreamSecretsKey], secret[MASUpstreamSecretsKey])
		errs = append(errs, e...)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

// collect returns the plain raw config Parse judges: the keys the program
// reads (get asks the engine) and every other key of our namespace in env,
// the CLI's PULUMI_CONFIG. The Go SDK cannot list config keys, but the CLI hands
// the program all of them there: a misspelt top-level key (synapse:teir)
// is then reported like any other bad value instead of silently ignored.
func collect(env string, get func(key string) (v string, ok, secret bool)) (raw map[string]string, secret map[string]bool) {
	keys := append([]string{}, Keys...)
	fromEnv := map[string]string{}
	var all map[string]any
	if env != "" && json.Unmarshal([]byte(env), &all) == nil { // not JSON: not ours to judge, the CLI wrote it
		for k, v := range all {
			key, ok := strings.CutPrefix(k, Namespace+":")
			if !ok {
				continue
			}
			s, isString := v.(string)
			if !isString {
				b, _ := json.Marshal(v)
				s = string(b)
			}
			fromEnv[key] = s
			if !slices.Contains(keys, key) {
				keys = append(keys, key)
			}
		}
	}
	raw, secret = map[string]string{}, map[string]bool{}
	for _, k := range keys {
		if slices.Contains(SecretKeys, k) {
			continue // Load asks the engine for these itself
		}
		v, ok, sec := get(k)
		if !ok {
			v, ok = fromEnv[k]
		}
		if ok {
			raw[k] = v
			secret[k] = sec
		}
	}
	return raw, secret
}
