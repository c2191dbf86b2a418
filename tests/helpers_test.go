package tests

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"synapse/components"
	"synapse/config"
	"synapse/internal/mockstack"
	"synapse/plan"
	"synapse/stack"
)

// Type tokens the tests look at.
const (
	tDeployment     = "kubernetes:apps/v1:Deployment"
	tStatefulSet    = "kubernetes:apps/v1:StatefulSet"
	tJob            = "kubernetes:batch/v1:Job"
	tCronJob        = "kubernetes:batch/v1:CronJob"
	tService        = "kubernetes:core/v1:Service"
	tSecret         = "kubernetes:core/v1:Secret"
	tConfigMap      = "kubernetes:core/v1:ConfigMap"
	tHPA            = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
	tPDB            = "kubernetes:policy/v1:PodDisruptionBudget"
	tNetworkPolicy  = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
	tIngress        = "kubernetes:networking.k8s.io/v1:Ingress"
	tCluster        = "kubernetes:postgresql.cnpg.io/v1:Cluster"
	tServiceMonitor = components.ServiceMonitorType
)

// stackCase is one stack file plus raw config overrides (key without the
// "synapse:" namespace → value as Pulumi hands it over).
type stackCase struct {
	name      string
	file      string // Pulumi.<file>.yaml
	overrides map[string]string
}

// stackCases are the stacks every whole-stack property must hold for.
var stackCases = []stackCase{
	{name: "dev", file: "dev"},
	{name: "prod", file: "prod"},
	{name: "prod-federation-off", file: "prod", overrides: map[string]string{"federation": `{"enabled":false}`}},
}

// rawConfig reads a stack file and applies overrides.
func rawConfig(t testing.TB, c stackCase) map[string]string {
	t.Helper()
	raw, err := config.ReadStackFile("../Pulumi." + c.file + ".yaml")
	require.NoError(t, err)
	for k, v := range c.overrides {
		raw[k] = v
	}
	return raw
}

// mockConfig turns raw config into mockstack's "synapse:<key>" form.
func mockConfig(raw map[string]string) map[string]string {
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		out[config.Namespace+":"+k] = v
	}
	return out
}

// deploy runs the whole program under mocks and returns the recording and
// the plan the program built from the same config.
func deploy(t testing.TB, c stackCase) (*mockstack.Stack, *plan.Plan) {
	t.Helper()
	s, p, _ := deployConfig(t, c)
	return s, p
}

// deployConfig is deploy that also returns the parsed config.
func deployConfig(t testing.TB, c stackCase) (*mockstack.Stack, *plan.Plan, *config.Config) {
	t.Helper()
	raw := rawConfig(t, c)
	s, err := mockstack.Run(stack.Deploy, mockstack.Options{Project: config.Namespace, Stack: c.file, Config: mockConfig(raw)})
	require.NoError(t, err)
	cfg, err := config.Parse(raw)
	require.NoError(t, err)
	return s, plan.Build(cfg), cfg
}

// dig walks maps (string keys) and slices (int indices); nil when absent.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				return nil
			}
			v = a[k]
		default:
			panic(fmt.Sprintf("dig: bad path element %v", p))
		}
	}
	return v
}

func digString(v any, path ...any) string {
	s, _ := dig(v, path...).(string)
	return s
}

func digList(v any, path ...any) []any {
	l, _ := dig(v, path...).([]any)
	return l
}

func digMap(v any, path ...any) map[string]any {
	m, _ := dig(v, path...).(map[string]any)
	return m
}

// stringMap converts a map of strings (labels, selectors).
func stringMap(v any) map[string]string {
	out := map[string]string{}
	for k, x := range digMap(v) {
		if s, ok := x.(string); ok {
			out[k] = s
		}
	}
	return out
}

// metaName is the metadata.name a resource was given.
// metaName is the object's metadata.name: as given, or as the mocks
// auto-named it (<logical name>-<8 hex>), as Pulumi would.
func metaName(r mockstack.Resource) string {
	if n := digString(r.Inputs, "metadata", "name"); n != "" {
		return n
	}
	return digString(r.Outputs, "metadata", "name")
}

// workload is a recorded pod controller.
type workload struct {
	R         mockstack.Resource
	Kind      string // Deployment, StatefulSet, Job, CronJob
	Name      string // metadata.name
	PodLabels map[string]string
	PodSpec   map[string]any
}

func (w workload) replicas() int {
	n, _ := dig(w.R.Inputs, "spec", "replicas").(float64)
	return int(n)
}

// containers returns the init containers and the containers.
func (w workload) containers() []map[string]any {
	var out []map[string]any
	for _, key := range []string{"initContainers", "containers"} {
		for _, c := range digList(w.PodSpec, key) {
			out = append(out, c.(map[string]any))
		}
	}
	return out
}

// portNames are the container port names of the workload's pods.
func (w workload) portNames() map[string]bool {
	out := map[string]bool{}
	for _, c := range w.containers() {
		for _, p := range digList(c, "ports") {
			out[digString(p, "name")] = true
		}
	}
	return out
}

func (w workload) isSynapse() bool {
	return w.PodLabels[components.LabelComponent] == components.ComponentSynapse
}

func workloads(s *mockstack.Stack) []workload {
	var out []workload
	for typ, kind := range map[string]string{tDeployment: "Deployment", tStatefulSet: "StatefulSet", tJob: "Job"} {
		for _, r := range s.ByType(typ) {
			out = append(out, workload{
				R: r, Kind: kind, Name: metaName(r),
				PodLabels: stringMap(dig(r.Inputs, "spec", "template", "metadata", "labels")),
				PodSpec:   digMap(r.Inputs, "spec", "template", "spec"),
			})
		}
	}
	// A CronJob's pods are those of its Jobs' template.
	for _, r := range s.ByType(tCronJob) {
		out = append(out, workload{
			R: r, Kind: "CronJob", Name: metaName(r),
			PodLabels: stringMap(dig(r.Inputs, "spec", "jobTemplate", "spec", "template", "metadata", "labels")),
			PodSpec:   digMap(r.Inputs, "spec", "jobTemplate", "spec", "template", "spec"),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind+out[i].Name < out[j].Kind+out[j].Name })
	return out
}

func synapseWorkloads(s *mockstack.Stack) map[string]workload {
	out := map[string]workload{}
	for _, w := range workloads(s) {
		if w.isSynapse() {
			out[w.Name] = w
		}
	}
	return out
}

// byMetaName finds the one resource of a type with this metadata.name.
func byMetaName(t testing.TB, s *mockstack.Stack, typ, name string) mockstack.Resource {
	t.Helper()
	var found []mockstack.Resource
	for _, r := range s.ByType(typ) {
		if metaName(r) == name {
			found = append(found, r)
		}
	}
	require.Len(t, found, 1, "want exactly one %s named %s", typ, name)
	return found[0]
}

// byBaseName finds the one resource of a type whose content-addressed
// metadata.name is base plus a hash (components.contentName) or an
// auto-name suffix.
func byBaseName(t testing.TB, s *mockstack.Stack, typ, base string) mockstack.Resource {
	t.Helper()
	var found []mockstack.Resource
	for _, r := range s.ByType(typ) {
		if rest, ok := strings.CutPrefix(metaName(r), base+"-"); ok && regexp.MustCompile(`^[0-9a-f]{8,10}$`).MatchString(rest) {
			found = append(found, r)
		}
	}
	require.Len(t, found, 1, "want exactly one %s named %s-<hash>", typ, base)
	return found[0]
}

// selects reports whether a matchLabels selector selects these labels.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// selectsExpr evaluates a LabelSelector (matchLabels and In/NotIn/Exists
// expressions) against labels.
func selectsExpr(sel map[string]any, labels map[string]string) bool {
	for k, v := range stringMap(sel["matchLabels"]) {
		if labels[k] != v {
			return false
		}
	}
	for _, e := range digList(sel, "matchExpressions") {
		key, op := digString(e, "key"), digString(e, "operator")
		var values []string
		for _, v := range digList(e, "values") {
			values = append(values, v.(string))
		}
		val, has := labels[key]
		in := has && slices.Contains(values, val)
		switch op {
		case "In":
			if !in {
				return false
			}
		case "NotIn":
			if in {
				return false
			}
		case "Exists":
			if !has {
				return false
			}
		case "DoesNotExist":
			if has {
				return false
			}
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// secretStrings are the values a Secret resource was given (stringData and
// data), for leak searches beyond the generated values (e.g. the signing
// key file, which embeds the seed in another encoding). Short values (user
// names such as "synapse") are not secrets.
func secretStrings(s *mockstack.Stack) map[string]string {
	out := map[string]string{}
	for _, r := range s.ByType(tSecret) {
		for _, key := range []string{"stringData", "data"} {
			for k, v := range digMap(r.Inputs, key) {
				if str, ok := v.(string); ok && len(str) >= 16 {
					out[strings.TrimSpace(str)] = metaName(r) + "/" + k
				}
			}
		}
	}
	return out
}
