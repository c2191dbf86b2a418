package render

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"synapse/config"
	"synapse/internal/kubeapitest"
)

// Pod Security labels and the level the program must render on every
// Namespace it creates.
const (
	labelEnforce        = "pod-security.kubernetes.io/enforce"
	labelEnforceVersion = "pod-security.kubernetes.io/enforce-version"
	podSecurityPrefix   = "pod-security.kubernetes.io/"
	wantEnforce         = "restricted"
)

// podKinds are the kinds whose pods Pod Security judges.
var podKinds = map[string]bool{
	"Pod": true, "Deployment": true, "StatefulSet": true, "DaemonSet": true,
	"ReplicaSet": true, "Job": true, "CronJob": true,
}

// TestRealAPIServerAcceptsEveryObject sends every rendered object of dev,
// prod, prod without federation and prod with several LiveKit replicas
// (NodePort media) to a real kube-apiserver (server-side
// dry-run, strict field validation, warnings as errors). Each Namespace is
// created from its rendered manifest, so Pod Security enforces the labels
// the program itself sets: every rendered Namespace must enforce
// "restricted", and every workload must have been judged in such a
// namespace. Mocks prove structure; this proves that Kubernetes accepts what
// we send. Skips without the tools unless REQUIRE_REAL_TOOLS=1 (CI), where
// it fails instead.
func TestRealAPIServerAcceptsEveryObject(t *testing.T) {
	srv := kubeapitest.Start(t)
	variants := []struct {
		name     string
		stack    string
		override map[string]string
	}{
		{"dev", "dev", nil},
		{"prod", "prod", nil},
		{"prod-federation-off", "prod", map[string]string{"federation": `{"enabled":false}`}},
		// Three LiveKit replicas on node ports, their Redis, TURN over UDP.
		{"prod-livekit-replicas", "prod", map[string]string{"rtc": `{"enabled":true,"tlsSecretName":"rtc-example-org-tls","livekit":{"replicas":3},"media":{"serviceType":"NodePort","externalAddress":"hostIP"},"turn":{"enabled":true}}`}},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			res, files := renderStack(t, v.stack, v.override)
			cfg, err := config.ParseStackFile("../Pulumi."+v.stack+".yaml", v.override)
			if err != nil {
				t.Fatal(err)
			}
			rendered := renderedNamespaces(res)
			if _, ok := rendered[cfg.Namespace]; !ok {
				t.Fatalf("the program renders no Namespace %q (rendered: %v)", cfg.Namespace, sortedKeys(rendered))
			}
			for _, err := range checkPodSecurityLabels(rendered) {
				t.Error(err)
			}
			result := srv.DryRunDir(t, cfg.Namespace, writeFiles(t, files))
			if len(result.Findings) != len(res.Objects) {
				t.Errorf("the server judged %d objects, %d were rendered", len(result.Findings), len(res.Objects))
			}
			if !result.OK() {
				t.Errorf("the API server refused or warned about rendered objects:\n%s", result)
			}
			for _, err := range checkJudgedUnderProgramLabels(t, srv, rendered, result) {
				t.Error(err)
			}
			t.Logf("%s: %d objects accepted, 0 warnings, in namespaces %v as the program labels them",
				v.name, len(result.Findings), sortedKeys(rendered))
		})
	}

	// The harness must be able to fail: a privileged Synapse container, a
	// misspelt field and a bare Pod running as root, next to the program's
	// own Namespace (so its labels, not the harness, enforce Pod Security).
	t.Run("negative", func(t *testing.T) {
		_, files := renderStack(t, "dev", nil)
		ns := filepath.Join("_cluster", "namespace-matrix-dev.yaml")
		sts := filepath.Join("matrix-dev", "statefulset-synapse-main.yaml")
		svc := filepath.Join("matrix-dev", "service-synapse-main.yaml")
		mutated := map[string][]byte{
			ns:  files[ns],
			sts: []byte(strings.Replace(string(files[sts]), "allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true", 1)),
			svc: []byte(strings.Replace(string(files[svc]), "selector:", "selectorr:", 1)),
			filepath.Join("matrix-dev", "pod-root.yaml"): []byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: root\n  namespace: matrix-dev\n" +
				"spec:\n  containers:\n  - name: c\n    image: busybox\n"),
		}
		if files[ns] == nil {
			t.Fatalf("dev renders no %s", ns)
		}
		for _, p := range []string{sts, svc} {
			if string(mutated[p]) == string(files[p]) {
				t.Fatalf("mutation of %s did not apply", p)
			}
		}
		result := srv.DryRunDir(t, "matrix-dev", writeFiles(t, mutated))
		byName := map[string]kubeapitest.Finding{}
		for _, f := range result.Findings {
			byName[f.Object.Kind+"/"+f.Object.Name] = f
		}
		if len(result.Failures()) != 3 || byName["Namespace/matrix-dev"].Failed() {
			t.Fatalf("want the three mutated objects refused and the Namespace accepted, got:\n%s", result)
		}
		if f := byName["StatefulSet/synapse-main"]; !strings.Contains(strings.Join(f.Warnings, "\n"), "PodSecurity") {
			t.Errorf("the privileged container drew no PodSecurity warning: %+v", f)
		}
		// Refused, not just warned: only an enforce label does that.
		if f := byName["Pod/root"]; !strings.Contains(f.Error, "violates PodSecurity") {
			t.Errorf("the root Pod was not refused by PodSecurity in the program's namespace: %+v", f)
		}
	})

	// Had the program dropped its enforce label, the checks above would
	// say so; and the server, now enforcing nothing, would let a root Pod
	// through, which is why they are needed.
	t.Run("unlabelled namespace is caught", func(t *testing.T) {
		_, files := renderStack(t, "dev", nil)
		const name = "matrix-dev-unlabelled"
		ns := strings.Replace(string(files[filepath.Join("_cluster", "namespace-matrix-dev.yaml")]), "name: matrix-dev", "name: "+name, 1)
		var kept []string
		for _, line := range strings.Split(ns, "\n") {
			if !strings.Contains(line, podSecurityPrefix) {
				kept = append(kept, line)
			}
		}
		ns = strings.Join(kept, "\n")
		if !strings.Contains(ns, "name: "+name) || strings.Contains(ns, podSecurityPrefix) {
			t.Fatalf("mutation did not apply:\n%s", ns)
		}
		if errs := checkPodSecurityLabels(map[string]map[string]string{name: {}}); len(errs) == 0 {
			t.Error("checkPodSecurityLabels accepts a Namespace without Pod Security labels")
		}
		pod := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: root\nspec:\n  containers:\n  - name: c\n    image: busybox\n"
		dir := writeFiles(t, map[string][]byte{"ns.yaml": []byte(ns), "pod.yaml": []byte(pod)})
		result := srv.DryRunDir(t, name, dir)
		if !result.OK() {
			t.Fatalf("without Pod Security labels the root Pod should pass the server:\n%s", result)
		}
		if errs := checkJudgedUnderProgramLabels(t, srv, map[string]map[string]string{name: {}}, result); len(errs) == 0 {
			t.Error("checkJudgedUnderProgramLabels accepts a Pod judged in an unlabelled namespace")
		}
	})
}

// renderedNamespaces maps each rendered Namespace to its labels.
func renderedNamespaces(res *Result) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, o := range res.Objects {
		if o.Manifest["kind"] != "Namespace" {
			continue
		}
		meta, _ := o.Manifest["metadata"].(map[string]any)
		name, _ := meta["name"].(string)
		labels := map[string]string{}
		if l, ok := meta["labels"].(map[string]any); ok {
			for k, v := range l {
				labels[k] = fmt.Sprint(v)
			}
		}
		out[name] = labels
	}
	return out
}

// checkPodSecurityLabels: every rendered Namespace enforces "restricted"
// (with an enforce-version).
func checkPodSecurityLabels(rendered map[string]map[string]string) []error {
	var errs []error
	for _, name := range sortedKeys(rendered) {
		labels := rendered[name]
		if labels[labelEnforce] != wantEnforce {
			errs = append(errs, fmt.Errorf("rendered Namespace %s: %s=%q, want %q", name, labelEnforce, labels[labelEnforce], wantEnforce))
		}
		if labels[labelEnforceVersion] == "" {
			errs = append(errs, fmt.Errorf("rendered Namespace %s: no %s", name, labelEnforceVersion))
		}
	}
	return errs
}

// checkJudgedUnderProgramLabels: every object with pods was dry-run in a
// namespace the program renders, which on the server carries exactly the
// program's Pod Security labels, enforcing "restricted".
func checkJudgedUnderProgramLabels(t *testing.T, srv *kubeapitest.Server, rendered map[string]map[string]string, result kubeapitest.Result) []error {
	t.Helper()
	var errs []error
	onServer := map[string]map[string]string{}
	workloads := 0
	for _, f := range result.Findings {
		if !podKinds[f.Object.Kind] {
			continue
		}
		workloads++
		want, ok := rendered[f.Namespace]
		if !ok {
			errs = append(errs, fmt.Errorf("%s was judged in %q, a namespace the program does not render", f.Object, f.Namespace))
			continue
		}
		got, seen := onServer[f.Namespace]
		if !seen {
			got = srv.NamespaceLabels(t, f.Namespace)
			onServer[f.Namespace] = got
		}
		if got[labelEnforce] != wantEnforce {
			errs = append(errs, fmt.Errorf("%s was judged in namespace %s with %s=%q, want %q", f.Object, f.Namespace, labelEnforce, got[labelEnforce], wantEnforce))
		}
		for k, v := range got {
			if strings.HasPrefix(k, podSecurityPrefix) && want[k] != v {
				errs = append(errs, fmt.Errorf("namespace %s: the server has %s=%q, the program renders %q", f.Namespace, k, v, want[k]))
			}
		}
		for k, v := range want {
			if strings.HasPrefix(k, podSecurityPrefix) && got[k] != v {
				errs = append(errs, fmt.Errorf("namespace %s: the program renders %s=%q, the server has %q", f.Namespace, k, v, got[k]))
			}
		}
	}
	if workloads == 0 {
		errs = append(errs, fmt.Errorf("no object with pods among %d findings", len(result.Findings)))
	}
	return errs
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func writeFiles(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for p, content := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
