package components

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"

	batchv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/batch/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"synapse/config"
	"synapse/plan"
	"synapse/synapseconfig"
)

// SynapseMainType is the token of the main process component.
const SynapseMainType = "synapse:index:SynapseMain"

// MainServiceName is main's ClusterIP Service (admin access, port-forward).
// Its headless Service is plan.MainName: instance_map names
// <pod>.<plan.MainName>, so that name is taken.
const MainServiceName = plan.MainName + "-http"

// Generated secrets: long enough to be unguessable, alphanumeric so that no
// YAML or shell quoting ever matters.
const (
	generatedSecretLength = 64
)

// mainAwait bounds pulumi-kubernetes's wait for main: its first start
// migrates the schema, which takes longer than the default 10 minutes on
// a large database.
var mainAwait = &pulumi.CustomTimeouts{Create: "30m", Update: "30m"}

// SynapseMainArgs configure the main process and the shared Synapse config.
type SynapseMainArgs struct {
	Namespace pulumi.StringInput
	Config    *config.Config
	Plan      *plan.Plan
	// RedisPassword is the Redis component's Password (a secret output);
	// it is written into the Synapse Secret as a file.
	RedisPassword pulumi.StringInput
	// SigningKey is an existing server's signing key file (a secret), from
	// config.Load (synapse:signingKey); nil generates one.
	SigningKey pulumi.StringInput
	// MASSecret is the secret Synapse and MAS share (the MAS component's
	// SynapseSecret); required with mas.enabled, written as the file
	// matrix_authentication_service.secret_path names.
	MASSecret pulumi.StringInput
}

// SynapseMain is the shared ConfigMap and Secret every Synapse process
// mounts, and the main process: a one-pod StatefulSet, its headless
// Service (instance_map's "main" host) and a ClusterIP Service.
type SynapseMain struct {
	pulumi.ResourceState

	// Files are the rendered ConfigMap: worker pools hash their share of it.
	Files     synapseconfig.Files
	ConfigMap *corev1.ConfigMap
	Secret    *corev1.Secret
	// ConfigMapName and SecretName carry a hash of their content
	// (contentName): every pod template names them, so a change rolls
	// the pods onto a new object and the old one is deleted after.
	ConfigMapName string
	SecretName    pulumi.StringOutput
	// ConfigCheck is the awaited Job running Synapse's config check.
	ConfigCheck *batchv1.Job
	// SecretChecksum is a sha256 of the Secret's data, not a secret:
	// every pod template carries it so that a rotated secret restarts them.
	SecretChecksum  pulumi.StringOutput
	StatefulSet     pulumi.Resource
	HeadlessService *corev1.Service
	ClusterService  *corev1.Service
	// Service is the ClusterIP Service's HTTP port.
	Service plan.Service
	// Ready is the StatefulSet: pulumi-kubernetes awaits its pod, and main
	// is ready only once the schema is migrated.
	Ready []pulumi.Resource
}

// NewSynapseMain renders the Synapse config and creates the main process.
func NewSynapseMain(ctx *pulumi.Context, name string, args *SynapseMainArgs, opts ...pulumi.ResourceOption) (*SynapseMain, error) {
	if args == nil || args.Plan == nil || args.Config == nil || args.RedisPassword == nil {
		return nil, fmt.Errorf("components: SynapseMain %s: Config, Plan and RedisPassword are required", name)
	}
	cfg, p := args.Config, args.Plan
	proc, ok := p.Process(plan.RoleMain)
	if !ok {
		return nil, fmt.Errorf("components: SynapseMain %s: the plan has no main process", name)
	}
	// Render before registering anything: a config that cannot be rendered
	// leaves no half-built component behind.
	files, err := synapseconfig.Render(cfg, p, synapseconfig.ExternalFor(cfg, p))
	if err != nil {
		return nil, err
	}
	c := &SynapseMain{Files: files}
	if err := ctx.RegisterComponentResource(SynapseMainType, name, c, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(c)

	data := pulumi.StringMap{}
	for k, v := range files {
		data[k] = pulumi.String(v)
	}
	c.ConfigMapName = synapseConfigMapName(files)
	c.ConfigMap, err = corev1.NewConfigMap(ctx, name+"-config", &corev1.ConfigMapArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name: pulumi.String(c.ConfigMapName), Namespace: args.Namespace,
			Labels: MetaLabels(plan.SynapseConfigMapName, ComponentSynapse),
		},
		Data: data,
	}, parent)
	if err != nil {
		return nil, err
	}

	secrets, err := generateSecrets(ctx, name, cfg, args.RedisPassword, args.SigningKey, parent)
	if err == nil && cfg.MAS.Enabled {
		if args.MASSecret == nil {
			return nil, fmt.Errorf("components: SynapseMain %s: mas.enabled needs MASSecret", name)
		}
		secrets[synapseconfig.SecretMAS] = args.MASSecret
	}
	if err != nil {
		return nil, err
	}
	c.SecretChecksum = secretChecksum(secrets)
	c.SecretName = synapseSecretName(c.SecretChecksum)
	c.Secret, err = corev1.NewSecret(ctx, name+"-secrets", &corev1.SecretArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name: c.SecretName, Namespace: args.Namespace,
			Labels: MetaLabels(plan.SynapseSecretName, ComponentSynapse),
		},
		Type:       pulumi.String("Opaque"),
		StringData: secrets,
	}, parent)
	if err != nil {
		return nil, err
	}

	c.ConfigCheck, err = newConfigCheckJob(ctx, name, configCheckArgs{
		Namespace: args.Namespace, Config: cfg, Plan: p, Files: files,
		SecretChecksum: c.SecretChecksum,
		DependsOn:      []pulumi.Resource{c.ConfigMap, c.Secret},
	}, c)
	if err != nil {
		return nil, err
	}

	w, err := newSynapseWorkload(ctx, name, synapseWorkloadArgs{
		Namespace: args.Namespace, Config: cfg, Plan: p, Proc: proc, Files: files,
		SecretChecksum: c.SecretChecksum,
		// Main (and so everything after it) starts only on a config that
		// Synapse itself has accepted.
		DependsOn: []pulumi.Resource{c.ConfigMap, c.Secret, c.ConfigCheck},
		Timeouts:  mainAwait,
	}, c)
	if err != nil {
		return nil, err
	}
	c.StatefulSet, c.HeadlessService, c.Ready = w.Workload, w.Headless, []pulumi.Resource{w.Workload}

	c.Service = plan.Service{Name: MainServiceName, PortName: plan.PortNameHTTP, Port: proc.Port(plan.PortNameHTTP), Namespace: p.Namespace}
	c.ClusterService, err = corev1.NewService(ctx, name+"-http-service", &corev1.ServiceArgs{
		Metadata: &metav1.ObjectMetaArgs{
			// Not the headless Service's labels: its ServiceMonitor must
			// not select this Service too and scrape main twice.
			Name: pulumi.String(MainServiceName), Namespace: args.Namespace,
			Labels: MetaLabels(MainServiceName, ComponentSynapse),
		},
		Spec: &corev1.ServiceSpecArgs{
			Type:     pulumi.String("ClusterIP"),
			Selector: SynapseSelector(proc),
			Ports: corev1.ServicePortArray{corev1.ServicePortArgs{
				Name: pulumi.String(plan.PortNameHTTP), Port: pulumi.Int(c.Service.Port),
				TargetPort: pulumi.String(plan.PortNameHTTP), Protocol: pulumi.String("TCP"),
			}},
		},
	}, parent, pulumi.DependsOn(c.Ready)) // pulumi-kubernetes awaits a ClusterIP Service's endpoints for 10 minutes; main's first start may take longer
	if err != nil {
		return nil, err
	}

	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"configMap": pulumi.String(c.ConfigMapName),
		"secret":    c.SecretName,
		"service":   pulumi.String(MainServiceName),
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// generateSecrets returns every key of synapseconfig.SecretFiles. Values
// come from pulumi-random, so they are generated once and kept in state:
// an update does not change them.
func generateSecrets(ctx *pulumi.Context, name string, cfg *config.Config, redisPassword, signingKey pulumi.StringInput, parent pulumi.ResourceOption) (pulumi.StringMap, error) {
	out := pulumi.StringMap{synapseconfig.SecretRedis: redisPassword}
	for _, s := range []struct{ key, suffix string }{
		{synapseconfig.SecretMacaroon, "macaroon"},
		{synapseconfig.SecretForm, "form"},
		{synapseconfig.SecretRegistration, "registration"},
		{synapseconfig.SecretReplication, "replication"},
	} {
		pw, err := random.NewRandomPassword(ctx, name+"-"+s.suffix, &random.RandomPasswordArgs{
			Length: pulumi.Int(generatedSecretLength), Special: pulumi.Bool(false),
		}, parent)
		if err != nil {
			return nil, err
		}
		out[s.key] = pw.Result
	}
	// The signing key is the server's identity to every peer. An existing
	// server's key (synapse:signingKey, a stack secret) is kept as it is;
	// otherwise the seed is derived from a RandomPassword, whose result is
	// a secret output and whose ID is not the value (a RandomBytes keeps
	// its value as the ID, in plain text in the state). With data
	// protection on, deleting it needs an explicit unprotect.
	if signingKey != nil {
		out[synapseconfig.SecretSigningKey] = signingKey
	} else {
		seed, err := random.NewRandomPassword(ctx, name+"-signing-seed", &random.RandomPasswordArgs{
			Length: pulumi.Int(generatedSecretLength), Special: pulumi.Bool(false),
		}, parent, pulumi.Protect(cfg.DataProtection))
		if err != nil {
			return nil, err
		}
		out[synapseconfig.SecretSigningKey] = pulumi.ToSecret(seed.Result.ApplyT(func(pw string) string {
			return synapseconfig.SigningKeyFromSecret(pw)
		})).(pulumi.StringOutput)
	}
	for _, k := range synapseconfig.SecretFiles {
		if _, ok := out[k]; !ok {
			return nil, fmt.Errorf("components: no value for Synapse secret file %s", k)
		}
	}
	return out, nil
}

// secretChecksum hashes the Secret's data in SecretFiles order. The hash is
// unsecreted on purpose: a sha256 over 256-bit random values reveals
// nothing, and a secret annotation would hide every pod template diff.
func secretChecksum(secrets pulumi.StringMap) pulumi.StringOutput {
	keys := slices.Sorted(maps.Keys(secrets))
	values := make([]any, 0, len(keys))
	for _, k := range keys {
		values = append(values, secrets[k])
	}
	sum := pulumi.All(values...).ApplyT(func(vs []any) string {
		data := make(map[string]string, len(vs))
		for i, v := range vs {
			data[keys[i]] = v.(string)
		}
		return SecretChecksumOf(data)
	}).(pulumi.StringOutput)
	return pulumi.Unsecret(sum).(pulumi.StringOutput)
}

// SecretChecksumOf is the checksum of the Synapse Secret's data (keys in
// sorted order), which also names the Secret.
func SecretChecksumOf(data map[string]string) string {
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(data)) {
		fmt.Fprintf(h, "%s\x00%s\x00", k, data[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// synapseConfigMapName is the Synapse ConfigMap's content-addressed name.
func synapseConfigMapName(files synapseconfig.Files) string {
	return contentName(plan.SynapseConfigMapName, synapseconfig.ChecksumAll(files))
}

// synapseSecretName is the Synapse Secret's content-addressed name, from
// the (unsecreted) checksum of its data.
func synapseSecretName(checksum pulumi.StringInput) pulumi.StringOutput {
	return checksum.ToStringOutput().ApplyT(func(sum string) string {
		return contentName(plan.SynapseSecretName, sum)
	}).(pulumi.StringOutput)
}
