// Package render turns a stack's config into every Kubernetes object the
// program would send, offline: the program runs under Pulumi mocks, generated
// secrets become fixed placeholders, and Pulumi-only resources (components,
// random values, the Helm chart of the CNPG operator) are left out. The
// output is deterministic, so two renders diff clean and a pull request can
// show the manifest diff of a config change. The values of stack secrets
// ({secure: ...} in the stack file) cannot be decrypted offline: they are
// stand-ins that pass their keys' checks, shown as placeholders
// (config.OfflineSecrets).
package render

import (
	"fmt"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"synapse/config"
	"synapse/internal/mockstack"
	"synapse/stack"
)

// Object is one rendered Kubernetes object.
type Object struct {
	Path     string // relative file path: <namespace or _cluster>/<kind>-<name>.yaml
	Manifest map[string]any
}

// Result is a rendered stack.
type Result struct {
	Objects []Object // sorted by Path
	// LeftOut lists the Pulumi-only resources, "type name", sorted.
	LeftOut []string
}

// StackConfig renders a stack from its plain raw config
// (config.ReadStackFile), without secret keys.
func StackConfig(stackName string, raw map[string]string) (*Result, error) {
	return StackFile(stackName, &config.StackFile{Raw: raw})
}

// StackFile renders a stack from its stack file (config.ReadStack). The
// config is judged first as `pulumi up` judges it, every key of the file
// (misspelt ones included), plain and secret: invalid config returns
// every problem at once and no objects. Keys held as Pulumi secrets get
// stand-in values, rendered as "<stack-secret:synapse:KEY>".
func StackFile(stackName string, f *config.StackFile) (*Result, error) {
	raw, placeholders := config.OfflineSecrets(f)
	secret := f.SecretSet()
	// Under the mocks the program sees only the keys it asks for (the Go
	// SDK cannot list config), so a misspelt key is judged here.
	if _, err := config.Check(raw, secret); err != nil {
		return nil, err
	}
	cfg := make(map[string]string, len(raw))
	for k, v := range raw {
		cfg[config.Namespace+":"+k] = v
	}
	var secretKeys []string
	for _, k := range f.Secure {
		secretKeys = append(secretKeys, config.Namespace+":"+k)
	}
	s, err := mockstack.Run(stack.Deploy, mockstack.Options{Project: config.Namespace, Stack: stackName,
		Config: cfg, SecretConfigKeys: secretKeys, Placeholders: placeholders})
	if err != nil {
		return nil, err
	}
	return fromStack(s)
}

func fromStack(s *mockstack.Stack) (*Result, error) {
	res := &Result{}
	seen := map[string]string{}
	for _, r := range s.Resources {
		apiVersion, kind, ok := kubeType(r)
		if !ok {
			res.LeftOut = append(res.LeftOut, r.Type+" "+r.Name)
			continue
		}
		m, _ := s.Redact(r.Inputs).(map[string]any)
		if m == nil {
			m = map[string]any{}
		}
		m["apiVersion"], m["kind"] = apiVersion, kind
		meta, _ := m["metadata"].(map[string]any)
		if meta == nil {
			meta = map[string]any{}
			m["metadata"] = meta
		}
		outMeta, _ := r.Outputs["metadata"].(map[string]any)
		if meta["name"] == nil && outMeta != nil {
			meta["name"] = outMeta["name"]
		}
		name, _ := meta["name"].(string)
		ns, _ := meta["namespace"].(string)
		dir := ns
		if dir == "" {
			dir = "_cluster"
		}
		p := path.Join(dir, strings.ToLower(kind)+"-"+name+".yaml")
		if other, dup := seen[p]; dup {
			return nil, fmt.Errorf("render: %s and %s are the same object %s", other, r.URN, p)
		}
		seen[p] = r.URN
		res.Objects = append(res.Objects, Object{Path: p, Manifest: m})
	}
	sort.Slice(res.Objects, func(i, j int) bool { return res.Objects[i].Path < res.Objects[j].Path })
	sort.Strings(res.LeftOut)
	return res, nil
}

// kubeType maps a pulumi-kubernetes type token to apiVersion and kind:
// "kubernetes:apps/v1:Deployment" → "apps/v1", "Deployment";
// "kubernetes:core/v1:Service" → "v1", "Service".
func kubeType(r mockstack.Resource) (apiVersion, kind string, ok bool) {
	parts := strings.Split(r.Type, ":")
	if len(parts) != 3 || parts[0] != "kubernetes" || !r.Custom || r.Remote || strings.HasPrefix(parts[1], "helm.sh/") {
		return "", "", false
	}
	apiVersion = strings.TrimPrefix(parts[1], "core/")
	return apiVersion, parts[2], true
}

// YAML encodes one object (yaml.v3 sorts map keys: stable output).
func YAML(o Object) ([]byte, error) {
	return yaml.Marshal(o.Manifest)
}

// Files returns path → content for every object, for writing under a
// directory.
func (r *Result) Files() (map[string][]byte, error) {
	out := make(map[string][]byte, len(r.Objects))
	for _, o := range r.Objects {
		b, err := YAML(o)
		if err != nil {
			return nil, fmt.Errorf("render: %s: %w", o.Path, err)
		}
		out[filepath.FromSlash(o.Path)] = b
	}
	return out, nil
}
