package mockstack

import (
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Unknown stands in for a value that was unknown (computed) when the program
// sent it. Under mocks with DryRun off this should not happen; its paths are
// listed in Resource.UnknownPaths.
const Unknown = "<unknown>"

// converter turns a resource.PropertyMap into plain Go values, noting the
// paths of secrets and unknowns on the way.
type converter struct {
	secrets  map[string]bool
	unknowns map[string]bool
}

func newConverter() *converter {
	return &converter{secrets: map[string]bool{}, unknowns: map[string]bool{}}
}

// plainMap converts a property map. Secrets are unwrapped; their paths are
// recorded. Nil maps give nil.
func (c *converter) plainMap(m resource.PropertyMap) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[string(k)] = c.plain(v, resource.PropertyPath{string(k)})
	}
	return out
}

func (c *converter) plain(v resource.PropertyValue, path resource.PropertyPath) any {
	switch {
	case v.IsSecret():
		c.secrets[path.String()] = true
		return c.plain(v.SecretValue().Element, path)
	case v.IsComputed():
		c.unknowns[path.String()] = true
		return Unknown
	case v.IsOutput():
		o := v.OutputValue()
		if o.Secret {
			c.secrets[path.String()] = true
		}
		if !o.Known {
			c.unknowns[path.String()] = true
			return Unknown
		}
		return c.plain(o.Element, path)
	case v.IsNull():
		return nil
	case v.IsBool():
		return v.BoolValue()
	case v.IsNumber():
		return v.NumberValue()
	case v.IsString():
		return v.StringValue()
	case v.IsArray():
		arr := v.ArrayValue()
		out := make([]any, len(arr))
		for i, e := range arr {
			out[i] = c.plain(e, append(clonePath(path), i))
		}
		return out
	case v.IsObject():
		obj := v.ObjectValue()
		out := make(map[string]any, len(obj))
		for k, e := range obj {
			out[string(k)] = c.plain(e, append(clonePath(path), string(k)))
		}
		return out
	case v.IsResourceReference():
		ref := v.ResourceReferenceValue()
		out := map[string]any{"urn": string(ref.URN)}
		if id, ok := ref.IDString(); ok {
			out["id"] = id
		}
		return out
	default: // assets and archives
		return v.Mappable()
	}
}

func clonePath(p resource.PropertyPath) resource.PropertyPath {
	return append(resource.PropertyPath(nil), p...)
}

func sortedKeys(m map[string]bool) []string {
	if len(m) == 0 {
		return nil
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
