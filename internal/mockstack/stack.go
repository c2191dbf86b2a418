package mockstack

import (
	"encoding/base64"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// Resource is one recorded registration (or read).
type Resource struct {
	URN, Type, Name string
	// ID is what the mock returned ("" for components).
	ID string
	// Inputs as sent by the program, as plain Go values (map[string]any,
	// []any, string, float64, bool, nil). Secrets are unwrapped; their
	// property paths (e.g. "stringData", `data["a.b"]`) are in SecretPaths.
	Inputs       map[string]any
	SecretPaths  []string
	UnknownPaths []string
	// Outputs returned by the mock: the inputs plus generated values,
	// kubernetes metadata.name/namespace defaults. Secrets unwrapped.
	Outputs map[string]any
	// Parent URN (the stack's URN for top-level resources).
	Parent string
	// Dependencies are the URNs the SDK sent: explicit DependsOn (components
	// expanded to the children they had at that moment) plus the resources
	// behind input values. Sorted, deduplicated.
	Dependencies         []string
	PropertyDependencies map[string][]string
	Protect              bool // effective value: the Go SDK inherits it from the parent
	RetainOnDelete       bool
	DeleteBeforeReplace  bool
	Custom               bool
	Remote               bool // multi-language component (e.g. helm.sh/v4 Chart)
	Read                 bool // registered through a Get/read, not a registration
	// Provider is the provider reference "<urn>::<id>" ("" = default provider).
	Provider                string
	IgnoreChanges           []string
	AdditionalSecretOutputs []string
	DeletedWith             string
	ImportID                string
}

// Stack is what a Run recorded.
type Stack struct {
	StackURN      string
	Resources     []Resource // sorted by URN
	Outputs       map[string]any
	OutputSecrets map[string]bool // export name → contained a secret

	generated map[string]string // generated value → placeholder
}

// ByType returns the resources of a type token, in URN order.
func (s *Stack) ByType(t string) []Resource {
	var out []Resource
	for _, r := range s.Resources {
		if r.Type == t {
			out = append(out, r)
		}
	}
	return out
}

// Get returns the resource with this type and name; ok is false when there is
// none or more than one (same name under different parent types).
func (s *Stack) Get(typ, name string) (Resource, bool) {
	found, n := Resource{}, 0
	for _, r := range s.Resources {
		if r.Type == typ && r.Name == name {
			found, n = r, n+1
		}
	}
	return found, n == 1
}

// MustGet is Get that fails the test when the resource is missing or ambiguous.
func (s *Stack) MustGet(t testing.TB, typ, name string) Resource {
	t.Helper()
	r, ok := s.Get(typ, name)
	if !ok {
		var names []string
		for _, r := range s.ByType(typ) {
			names = append(names, r.Name)
		}
		t.Fatalf("mockstack: want exactly one %s named %q; resources of that type: %v", typ, name, names)
	}
	return r
}

// ByURN returns the resource with this URN.
func (s *Stack) ByURN(urn string) (Resource, bool) {
	for _, r := range s.Resources {
		if r.URN == urn {
			return r, true
		}
	}
	return Resource{}, false
}

// Children returns the resources whose parent is urn.
func (s *Stack) Children(urn string) []Resource {
	var out []Resource
	for _, r := range s.Resources {
		if r.Parent == urn {
			out = append(out, r)
		}
	}
	return out
}

// Ancestors returns the parent chain of urn, nearest first, ending with the
// stack's URN for a recorded resource. Unknown URNs give nil.
func (s *Stack) Ancestors(urn string) []string {
	var out []string
	seen := map[string]bool{urn: true}
	for {
		r, ok := s.ByURN(urn)
		if !ok || r.Parent == "" || seen[r.Parent] {
			return out
		}
		out = append(out, r.Parent)
		seen[r.Parent] = true
		urn = r.Parent
	}
}

// DependsOnTransitively reports whether urn waits for targetURN: walking
// explicit dependencies and parents (a child waits for whatever its ancestors
// depend on), transitively. Depending on a component does not count as
// depending on its children, and vice versa: only the exact target counts.
func (s *Stack) DependsOnTransitively(urn, targetURN string) bool {
	byURN := make(map[string]*Resource, len(s.Resources))
	for i := range s.Resources {
		byURN[s.Resources[i].URN] = &s.Resources[i]
	}
	seen := map[string]bool{urn: true}
	queue := []string{urn}
	for len(queue) > 0 {
		r, ok := byURN[queue[0]]
		queue = queue[1:]
		if !ok {
			continue
		}
		next := append([]string{r.Parent}, r.Dependencies...)
		for _, n := range next {
			if n == "" || seen[n] {
				continue
			}
			if n == targetURN {
				return true
			}
			seen[n] = true
			queue = append(queue, n)
		}
	}
	return false
}

// SecretValues returns every value the mocks generated for random resources
// (results, bcrypt hashes, base64/hex bytes) and the values of
// Options.Placeholders, sorted, for leak searches.
func (s *Stack) SecretValues() []string {
	out := make([]string, 0, len(s.generated))
	for v := range s.generated {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// Placeholders maps each generated value to its placeholder, e.g.
// "<generated:random-password/NAME>" (and includes Options.Placeholders).
func (s *Stack) Placeholders() map[string]string {
	out := make(map[string]string, len(s.generated))
	for k, v := range s.generated {
		out[k] = v
	}
	return out
}

// replacements lists (value, placeholder) pairs: each generated value and its
// standard base64 encoding (as in a Secret's data), longest first so that a
// value which is a prefix of another cannot win.
func (s *Stack) replacements() []string {
	type pair struct{ from, to string }
	var pairs []pair
	for v, p := range s.generated {
		pairs = append(pairs, pair{v, p})
		b64 := base64.StdEncoding.EncodeToString([]byte(v))
		if _, clash := s.generated[b64]; !clash {
			pairs = append(pairs, pair{b64, strings.TrimSuffix(p, ">") + ":base64>"})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if len(pairs[i].from) != len(pairs[j].from) {
			return len(pairs[i].from) > len(pairs[j].from)
		}
		return pairs[i].from < pairs[j].from
	})
	out := make([]string, 0, 2*len(pairs))
	for _, p := range pairs {
		out = append(out, p.from, p.to)
	}
	return out
}

// Redact returns a deep copy of v in which every occurrence of a generated
// value (or of its base64 encoding) inside a string, map key included, is
// replaced by its placeholder. Maps, slices, arrays, pointers, interfaces and
// exported struct fields are walked; types are preserved.
func (s *Stack) Redact(v any) any {
	if v == nil || len(s.generated) == 0 {
		return v
	}
	r := strings.NewReplacer(s.replacements()...)
	return redact(r, reflect.ValueOf(v)).Interface()
}

func redact(r *strings.Replacer, v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.String:
		return reflect.ValueOf(r.Replace(v.String())).Convert(v.Type())
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type()).Elem()
		out.Set(redact(r, v.Elem()))
		return out
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type().Elem())
		out.Elem().Set(redact(r, v.Elem()))
		return out
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		it := v.MapRange()
		for it.Next() {
			out.SetMapIndex(redact(r, it.Key()), redact(r, it.Value()))
		}
		return out
	case reflect.Slice:
		if v.IsNil() || v.Type().Elem().Kind() == reflect.Uint8 {
			return v
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			out.Index(i).Set(redact(r, v.Index(i)))
		}
		return out
	case reflect.Array:
		out := reflect.New(v.Type()).Elem()
		for i := range v.Len() {
			out.Index(i).Set(redact(r, v.Index(i)))
		}
		return out
	case reflect.Struct:
		out := reflect.New(v.Type()).Elem()
		out.Set(v)
		for i := range v.NumField() {
			if f := out.Field(i); f.CanSet() {
				f.Set(redact(r, v.Field(i)))
			}
		}
		return out
	default:
		return v
	}
}

// Leaks returns the generated values (raw or base64-encoded) found in any
// string inside v, sorted. Use it on rendered manifests, ConfigMaps, exports.
func (s *Stack) Leaks(v any) []string {
	found := map[string]bool{}
	var walk func(x reflect.Value)
	walk = func(x reflect.Value) {
		switch x.Kind() {
		case reflect.String:
			str := x.String()
			for g := range s.generated {
				if strings.Contains(str, g) ||
					strings.Contains(str, base64.StdEncoding.EncodeToString([]byte(g))) {
					found[g] = true
				}
			}
		case reflect.Interface, reflect.Pointer:
			if !x.IsNil() {
				walk(x.Elem())
			}
		case reflect.Map:
			it := x.MapRange()
			for it.Next() {
				walk(it.Key())
				walk(it.Value())
			}
		case reflect.Slice, reflect.Array:
			if x.Kind() == reflect.Slice && x.Type().Elem().Kind() == reflect.Uint8 {
				walk(reflect.ValueOf(string(x.Bytes())))
				return
			}
			for i := range x.Len() {
				walk(x.Index(i))
			}
		case reflect.Struct:
			for i := range x.NumField() {
				if x.Type().Field(i).IsExported() {
					walk(x.Field(i))
				}
			}
		}
	}
	if v != nil {
		walk(reflect.ValueOf(v))
	}
	return sortedKeys(found)
}
