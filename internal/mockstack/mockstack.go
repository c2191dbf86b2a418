// Package mockstack runs a Pulumi Go program under pulumi.RunErr with mocks
// and records every resource registration (inputs, parent, dependencies,
// options), the stack outputs and every value the mocks generated for random
// resources. It serves whole-stack tests and the offline manifest renderer.
//
// Mock behaviour:
//   - Every resource's outputs are its inputs, plus:
//   - random RandomPassword/RandomString: result = "MOCKSECRET-<name>-<length>"
//     (RandomPassword also bcryptHash = "$2a$10$MOCKBCRYPT-<name>");
//     RandomBytes: base64/hex of sha256(name) chained to <length> bytes;
//     its id is the base64 value, as pulumi-random's is.
//   - custom kubernetes resources: metadata.name autonamed "<name>-<8 hex>"
//     (deterministic, from the URN) when absent, metadata.namespace defaulted
//     for namespaced kinds; id is "<namespace>/<name>" or "<name>".
//   - outputs listed in the resource's AdditionalSecretOutputs are returned as
//     secrets, as the engine would (the Go SDK does not do this client-side).
//
// Options.Placeholders (values given, not generated) are redacted and listed
// like generated values.
package mockstack

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Type tokens with special mock outputs.
const (
	TypeRandomPassword = "random:index/randomPassword:RandomPassword"
	TypeRandomString   = "random:index/randomString:RandomString"
	TypeRandomBytes    = "random:index/randomBytes:RandomBytes"
)

// exportsType is a synthetic component registered after the program body so
// that the mocks see the stack exports (the mock monitor's
// RegisterResourceOutputs receives no arguments). It is not recorded.
const (
	exportsType = "mockstack:internal:StackExports"
	exportsName = "mockstack-stack-exports"
)

// Options configure Run.
type Options struct {
	// Project and Stack default to "project" and "test".
	Project, Stack string
	// Config is stack config: "project:key" → value; objects as JSON. A key
	// without a namespace is put in Project's namespace.
	Config map[string]string
	// SecretConfigKeys lists Config keys (same spelling) that are secret.
	SecretConfigKeys []string
	// Placeholders are values the program is given rather than generates
	// (e.g. stand-ins for stack secrets) that must not show: value →
	// placeholder. Redact replaces them as it replaces generated values,
	// and SecretValues lists them.
	Placeholders map[string]string
	// DryRun runs as a preview (outputs may be unknown).
	DryRun bool
	// DefaultNamespace is given to namespaced kubernetes objects without one
	// (in Outputs only). Defaults to "default".
	DefaultNamespace string
	// ExtraOutputs, if set, is called for every resource; entries it returns
	// are merged into the mock outputs (after the built-in ones).
	ExtraOutputs func(typ, name string, inputs resource.PropertyMap) resource.PropertyMap
	// Call, if set, answers invokes (e.g. data sources); default returns an
	// empty map.
	Call func(args pulumi.MockCallArgs) (resource.PropertyMap, error)
}

// Run runs program under mocks and returns what it registered. It waits for
// every registration (pulumi.RunErr does). If the program or a registration
// fails, the error is returned together with whatever was recorded; a panic in
// the program body (e.g. config.Require) becomes an error. Safe for
// concurrent use.
func Run(program pulumi.RunFunc, opts Options) (*Stack, error) {
	if opts.Project == "" {
		opts.Project = "project"
	}
	if opts.Stack == "" {
		opts.Stack = "test"
	}
	if opts.DefaultNamespace == "" {
		opts.DefaultNamespace = "default"
	}
	m := &mocks{
		opts:      opts,
		generated: map[string]string{},
	}
	for v, p := range opts.Placeholders {
		m.generated[v] = p
	}
	cfg := make(map[string]string, len(opts.Config))
	for k, v := range opts.Config {
		cfg[m.configKey(k)] = v
	}
	var secretKeys []string
	for _, k := range opts.SecretConfigKeys {
		secretKeys = append(secretKeys, m.configKey(k))
	}

	wrapped := func(ctx *pulumi.Context) (err error) {
		func() {
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("mockstack: program panicked: %v", p)
				}
			}()
			err = program(ctx)
		}()
		var exports pulumi.ResourceState
		if rerr := ctx.RegisterResource(exportsType, exportsName,
			pulumi.Map(ctx.GetCurrentExportMap()), &exports); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return err
	}
	err := pulumi.RunErr(wrapped,
		pulumi.WithMocks(opts.Project, opts.Stack, m),
		func(ri *pulumi.RunInfo) {
			ri.Config = cfg
			ri.ConfigSecretKeys = secretKeys
			ri.DryRun = opts.DryRun
		},
	)
	return m.stack(), err
}

func (m *mocks) configKey(k string) string {
	if strings.Contains(k, ":") {
		return k
	}
	return m.opts.Project + ":" + k
}

type mocks struct {
	opts Options

	mu            sync.Mutex
	resources     []Resource
	outputs       map[string]any
	outputSecrets map[string]bool
	generated     map[string]string // generated value → placeholder
}

var _ pulumi.MockResourceMonitor = (*mocks)(nil)

func (m *mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	if m.opts.Call != nil {
		return m.opts.Call(args)
	}
	return resource.PropertyMap{}, nil
}

func (m *mocks) urn(parent, typ, name string) string {
	parentType := tokens.Type("")
	if p := resource.URN(parent); p != "" && p.QualifiedType() != resource.RootStackType {
		parentType = p.QualifiedType()
	}
	return string(resource.NewURN(tokens.QName(m.opts.Stack), tokens.PackageName(m.opts.Project),
		parentType, tokens.Type(typ), name))
}

func (m *mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	if args.TypeToken == exportsType && args.Name == exportsName {
		m.recordExports(args.Inputs)
		return "", resource.PropertyMap{}, nil
	}

	r := Resource{Type: args.TypeToken, Name: args.Name, Custom: args.Custom, Provider: args.Provider}
	var additionalSecrets []string
	switch {
	case args.RegisterRPC != nil:
		rpc := args.RegisterRPC
		r.Parent = rpc.GetParent()
		r.Dependencies = append([]string(nil), rpc.GetDependencies()...)
		if pd := rpc.GetPropertyDependencies(); len(pd) > 0 {
			r.PropertyDependencies = make(map[string][]string, len(pd))
			for k, v := range pd {
				r.PropertyDependencies[k] = append([]string(nil), v.GetUrns()...)
			}
		}
		r.Protect = rpc.GetProtect()
		r.RetainOnDelete = rpc.GetRetainOnDelete()
		r.DeleteBeforeReplace = rpc.GetDeleteBeforeReplace()
		r.Remote = rpc.GetRemote()
		r.IgnoreChanges = append([]string(nil), rpc.GetIgnoreChanges()...)
		r.DeletedWith = rpc.GetDeletedWith()
		r.ImportID = rpc.GetImportId()
		additionalSecrets = rpc.GetAdditionalSecretOutputs()
		r.AdditionalSecretOutputs = append([]string(nil), additionalSecrets...)
	case args.ReadRPC != nil:
		r.Read = true
		r.Parent = args.ReadRPC.GetParent()
		r.Dependencies = append([]string(nil), args.ReadRPC.GetDependencies()...)
		r.ID = args.ID
		additionalSecrets = args.ReadRPC.GetAdditionalSecretOutputs()
	}
	r.URN = m.urn(r.Parent, r.Type, r.Name)

	outs := args.Inputs.Copy()
	id := r.ID
	var gen map[string]string // value → placeholder
	switch args.TypeToken {
	case TypeRandomPassword, TypeRandomString:
		kind := "random-password"
		if args.TypeToken == TypeRandomString {
			kind = "random-string"
		}
		result := fmt.Sprintf("MOCKSECRET-%s-%d", args.Name, intInput(args.Inputs, "length"))
		outs["result"] = resource.NewProperty(result)
		gen = map[string]string{result: fmt.Sprintf("<generated:%s/%s>", kind, args.Name)}
		if args.TypeToken == TypeRandomPassword {
			hash := "$2a$10$MOCKBCRYPT-" + args.Name
			outs["bcryptHash"] = resource.NewProperty(hash)
			gen[hash] = fmt.Sprintf("<generated:%s/%s/bcryptHash>", kind, args.Name)
		}
		id = args.Name + "-id"
	case TypeRandomBytes:
		b := derivedBytes(args.Name, intInput(args.Inputs, "length"))
		b64, hx := base64.StdEncoding.EncodeToString(b), hex.EncodeToString(b)
		outs["base64"] = resource.NewProperty(b64)
		outs["hex"] = resource.NewProperty(hx)
		gen = map[string]string{}
		if b64 != "" {
			gen[b64] = fmt.Sprintf("<generated:random-bytes/%s/base64>", args.Name)
			gen[hx] = fmt.Sprintf("<generated:random-bytes/%s/hex>", args.Name)
			// Unpadded base64 too: key formats (e.g. Synapse's signing key)
			// re-encode the bytes without padding; a leak search must see it.
			if raw := base64.RawStdEncoding.EncodeToString(b); raw != b64 {
				gen[raw] = fmt.Sprintf("<generated:random-bytes/%s/base64-unpadded>", args.Name)
			}
		}
		// As pulumi-random does: a RandomBytes's ID is its base64 value, in
		// plain text in the state. Tests that search IDs for generated
		// values must see that.
		id = b64
	}
	if args.Custom && strings.HasPrefix(args.TypeToken, "kubernetes:") && !args.RegisterRPC.GetRemote() {
		id = m.kubeDefaults(args.TypeToken, r.URN, args.Name, outs, id)
	}
	if m.opts.ExtraOutputs != nil {
		for k, v := range m.opts.ExtraOutputs(args.TypeToken, args.Name, args.Inputs) {
			outs[k] = v
		}
	}
	for _, k := range additionalSecrets {
		if v, ok := outs[resource.PropertyKey(k)]; ok && !v.IsSecret() {
			outs[resource.PropertyKey(k)] = resource.MakeSecret(v)
		}
	}
	if id == "" && args.Custom {
		id = args.Name + "-id"
	}
	r.ID = id

	c := newConverter()
	r.Inputs = c.plainMap(args.Inputs)
	r.SecretPaths = sortedKeys(c.secrets)
	r.UnknownPaths = sortedKeys(c.unknowns)
	r.Outputs = newConverter().plainMap(outs)

	m.mu.Lock()
	defer m.mu.Unlock()
	m.resources = append(m.resources, r)
	for v, p := range gen {
		m.generated[v] = p
	}
	return id, outs, nil
}

func (m *mocks) recordExports(inputs resource.PropertyMap) {
	outputs := make(map[string]any, len(inputs))
	secrets := make(map[string]bool, len(inputs))
	for k, v := range inputs {
		c := newConverter()
		outputs[string(k)] = c.plain(v, resource.PropertyPath{string(k)})
		secrets[string(k)] = len(c.secrets) > 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.outputs, m.outputSecrets = outputs, secrets
}

// stack snapshots the recording, resources sorted by URN.
func (m *mocks) stack() *Stack {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := &Stack{
		StackURN: string(resource.NewURN(tokens.QName(m.opts.Stack), tokens.PackageName(m.opts.Project),
			"", resource.RootStackType, m.opts.Project+"-"+m.opts.Stack)),
		Resources:     append([]Resource(nil), m.resources...),
		Outputs:       m.outputs,
		OutputSecrets: m.outputSecrets,
		generated:     make(map[string]string, len(m.generated)),
	}
	if s.Outputs == nil {
		s.Outputs = map[string]any{}
	}
	if s.OutputSecrets == nil {
		s.OutputSecrets = map[string]bool{}
	}
	for k, v := range m.generated {
		s.generated[k] = v
	}
	sort.Slice(s.Resources, func(i, j int) bool { return s.Resources[i].URN < s.Resources[j].URN })
	return s
}

func intInput(in resource.PropertyMap, key string) int {
	v, ok := in[resource.PropertyKey(key)]
	if !ok {
		return 0
	}
	if v.IsSecret() {
		v = v.SecretValue().Element
	}
	if v.IsNumber() {
		return int(v.NumberValue())
	}
	return 0
}

// derivedBytes is sha256(name), then sha256 of the previous block, and so on,
// truncated to n bytes.
func derivedBytes(name string, n int) []byte {
	if n <= 0 {
		return nil
	}
	out := make([]byte, 0, n+sha256.Size)
	block := sha256.Sum256([]byte(name))
	for len(out) < n {
		out = append(out, block[:]...)
		block = sha256.Sum256(block[:])
	}
	return out[:n]
}

// clusterScoped kinds get no default namespace.
var clusterScoped = map[string]bool{
	"Namespace": true, "Node": true, "PersistentVolume": true, "ClusterRole": true,
	"ClusterRoleBinding": true, "CustomResourceDefinition": true, "StorageClass": true,
	"CSIDriver": true, "CSINode": true, "VolumeAttachment": true, "PriorityClass": true,
	"RuntimeClass": true, "IngressClass": true, "MutatingWebhookConfiguration": true,
	"ValidatingWebhookConfiguration": true, "ValidatingAdmissionPolicy": true,
	"ValidatingAdmissionPolicyBinding": true, "APIService": true,
	"CertificateSigningRequest": true, "FlowSchema": true, "PriorityLevelConfiguration": true,
	"ComponentStatus": true, "ClusterTrustBundle": true,
}

// kubeDefaults fills metadata.name and metadata.namespace in outs and returns
// the kubernetes-style id.
func (m *mocks) kubeDefaults(typ, urn, name string, outs resource.PropertyMap, id string) string {
	if strings.HasPrefix(typ, "pulumi:providers:") {
		return id
	}
	kind := typ[strings.LastIndex(typ, ":")+1:]
	if strings.HasSuffix(kind, "List") {
		return id
	}
	md, ok := outs["metadata"]
	switch {
	case !ok || md.IsNull():
		md = resource.NewProperty(resource.PropertyMap{})
	case !md.IsObject(): // secret or unknown metadata: leave alone
		return id
	}
	meta := md.ObjectValue().Copy()
	if n, ok := meta["name"]; !ok || n.IsNull() {
		sum := sha256.Sum256([]byte(urn))
		meta["name"] = resource.NewProperty(name + "-" + hex.EncodeToString(sum[:])[:8])
	}
	if !clusterScoped[kind] {
		if ns, ok := meta["namespace"]; !ok || ns.IsNull() || (ns.IsString() && ns.StringValue() == "") {
			meta["namespace"] = resource.NewProperty(m.opts.DefaultNamespace)
		}
	}
	outs["metadata"] = resource.NewProperty(meta)
	if id != "" {
		return id
	}
	n, ns := meta["name"], meta["namespace"]
	if !n.IsString() {
		return ""
	}
	if ns.IsString() && ns.StringValue() != "" {
		return ns.StringValue() + "/" + n.StringValue()
	}
	return n.StringValue()
}
