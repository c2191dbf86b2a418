package kubeapitest

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"synapse/internal/realtools"
)

// writeFiles writes name → content into a fresh directory.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// podSpec is a Pod Security "restricted"-compliant pod spec body, indented
// for a pod template (6 spaces). extra is appended to the container's
// securityContext.
func podSpec(extra string) string {
	return `    spec:
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        runAsUser: 991
        runAsGroup: 991
        fsGroup: 991
        seccompProfile:
          type: RuntimeDefault
      containers:
      - name: synapse
        image: ghcr.io/element-hq/synapse:v1.140.0
        ports:
        - name: http
          containerPort: 8008
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities:
            drop: ["ALL"]
` + extra
}

func deployment(name, extraSecurity string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ` + name + `
  labels:
    app: ` + name + `
spec:
  replicas: 1
  selector:
    matchLabels:
      app: ` + name + `
  template:
    metadata:
      labels:
        app: ` + name + `
` + podSpec(extraSecurity)
}

const statefulSet = `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: media
spec:
  serviceName: media
  replicas: 1
  selector:
    matchLabels:
      app: media
  template:
    metadata:
      labels:
        app: media
%s  volumeClaimTemplates:
  - metadata:
      name: data
    spec:
      accessModes: ["ReadWriteOnce"]
      resources:
        requests:
          storage: 1Gi
`

const service = `apiVersion: v1
kind: Service
metadata:
  name: synapse
  labels:
    app: synapse
spec:
  selector:
    app: synapse
  ports:
  - name: http
    port: 8008
    targetPort: http
  - name: metrics
    port: 9090
`

const cnpgCluster = `apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata:
  name: synapse-pg
spec:
  instances: 2
  imageName: ghcr.io/cloudnative-pg/postgresql:17.5
  storage:
    size: 10Gi
  bootstrap:
    initdb:
      database: synapse
      owner: synapse
      localeCollate: C
      localeCType: C
  monitoring:
    enablePodMonitor: false
`

const serviceMonitor = `apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: synapse
spec:
  selector:
    matchLabels:
      app: synapse
  endpoints:
  - port: metrics
    path: /_synapse/metrics
    interval: 30s
`

func TestSplitAndIdentify(t *testing.T) {
	data := "# leading comment\n---\n" + service + "---\n# only a comment\n---\n" +
		"apiVersion: v1\nkind: \"Namespace\"\nmetadata:\n  labels:\n    name: not-this\n  name: other # trailing\n...\n"
	docs := splitDocuments("a.yaml", []byte(data))
	if len(docs) != 2 {
		t.Fatalf("want 2 documents, got %d: %+v", len(docs), docs)
	}
	if got := docs[0].ref; got.Kind != "Service" || got.Name != "synapse" || got.Index != 1 {
		t.Errorf("doc 0: %+v", got)
	}
	if got := docs[1].ref; got.Kind != "Namespace" || got.Name != "other" || got.Index != 3 {
		t.Errorf("doc 1: %+v", got)
	}
	w, e := parseOutput("Warning: would violate PodSecurity \"restricted:latest\": x\nerror: 1 warning received\n")
	if len(w) != 1 || e != "" {
		t.Errorf("parseOutput: warnings %q, error %q", w, e)
	}
}

// unknownField reports whether err rejects field as unknown. Server-side
// apply words it as "field not declared in schema" (the typed patch cannot be
// built), strict field validation of create/update as "unknown field".
func unknownField(err, field string) bool {
	return strings.Contains(err, "."+field+": field not declared in schema") ||
		strings.Contains(err, `unknown field "`+field+`"`)
}

// ender records how a function ends a test, as testing does: Skip and Fatal
// stop the goroutine.
type ender struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (e *ender) end(skip bool, msg string) {
	e.skipped, e.failed, e.msg = skip, !skip, msg
	runtime.Goexit()
}
func (e *ender) Skip(a ...any)                  { e.end(true, fmt.Sprint(a...)) }
func (e *ender) Skipf(format string, a ...any)  { e.end(true, fmt.Sprintf(format, a...)) }
func (e *ender) SkipNow()                       { e.end(true, "") }
func (e *ender) Fatal(a ...any)                 { e.end(false, fmt.Sprint(a...)) }
func (e *ender) Fatalf(format string, a ...any) { e.end(false, fmt.Sprintf(format, a...)) }
func (e *ender) FailNow()                       { e.end(false, "") }

// run calls f(e) in its own goroutine and waits for it to return or end.
func (e *ender) run(f func(testing.TB)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(e)
	}()
	<-done
}

// TestStartWithoutBinaries: with an empty cache Start neither builds nor
// downloads; it skips naming the command that builds the binaries, and fails
// under REQUIRE_REAL_TOOLS=1.
func TestStartWithoutBinaries(t *testing.T) {
	if _, err := findScript(); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBEAPI_CACHE", t.TempDir())
	for _, required := range []string{"", "1"} {
		t.Setenv(realtools.EnvRequire, required)
		e := &ender{TB: t}
		e.run(func(tb testing.TB) { Start(tb) })
		if testing.Short() && required == "" {
			if !e.skipped {
				t.Errorf("-short: want a skip, got failed=%v %q", e.failed, e.msg)
			}
			continue
		}
		if e.skipped != (required == "") || e.failed != (required == "1") {
			t.Errorf("%s=%q: skipped=%v failed=%v: %s", realtools.EnvRequire, required, e.skipped, e.failed, e.msg)
		}
		for _, want := range []string{"bash hack/kubeapi/kubeapi.sh build", "bash hack/kubeapi/kubeapi.sh crds"} {
			if !strings.Contains(e.msg, want) {
				t.Errorf("%s=%q: message does not name %q: %s", realtools.EnvRequire, required, want, e.msg)
			}
		}
		// Nothing was built or fetched into the cache.
		entries, _ := os.ReadDir(os.Getenv("KUBEAPI_CACHE"))
		if len(entries) != 0 {
			t.Errorf("Start wrote into the empty cache: %v", entries)
		}
	}
}

// TestRealAPIServer runs the harness against a real kube-apiserver: one
// server, shared by the subtests.
func TestRealAPIServer(t *testing.T) {
	srv := Start(t)

	t.Run("kubectl", func(t *testing.T) {
		out, stderr, err := srv.Kubectl("get", "crd", "-o", "name")
		if err != nil {
			t.Fatalf("%v: %s", err, stderr)
		}
		for _, want := range []string{"clusters.postgresql.cnpg.io", "servicemonitors.monitoring.coreos.com"} {
			if !strings.Contains(out, want) {
				t.Errorf("CRD %s missing from %q", want, out)
			}
		}
	})

	t.Run("accepts restricted-compliant objects", func(t *testing.T) {
		dir := writeFiles(t, map[string]string{
			"deployment.yaml":            deployment("synapse", ""),
			"nested/statefulset.yaml":    strings.Replace(statefulSet, "%s", podSpec(""), 1),
			"nested/service.yml":         service,
			"db/cluster.yaml":            cnpgCluster,
			"monitoring/monitor.yaml":    "---\n" + serviceMonitor + "---\n",
			"0-namespace/namespace.yaml": restrictedNS("matrix"),
			"other.yaml": restrictedNS("other-ns") + "---\n" +
				strings.Replace(service, "  name: synapse\n", "  name: synapse\n  namespace: other-ns\n", 1),
			"README.md": "not yaml",
		})
		res := srv.DryRunDir(t, "matrix", dir)
		if !res.OK() || len(res.Warnings()) != 0 {
			t.Fatalf("want all accepted without warnings, got:\n%s", res)
		}
		if len(res.Findings) != 8 {
			t.Errorf("want 8 findings, got %d: %+v", len(res.Findings), res.Findings)
		}
		// The namespaces were created for real, with their own labels.
		for _, ns := range []string{"matrix", "other-ns"} {
			labels := srv.NamespaceLabels(t, ns)
			if labels["pod-security.kubernetes.io/enforce"] != "restricted" || labels["example.org/rendered"] != "yes" {
				t.Errorf("namespace %s: labels %v, want the rendered ones", ns, labels)
			}
		}
		for _, f := range res.Findings {
			if f.Object.Kind == "Service" && f.Object.Namespace == "other-ns" && f.Namespace != "other-ns" {
				t.Errorf("%s judged in %q", f.Object, f.Namespace)
			}
		}
		// Dry-run only: nothing else was persisted.
		out, _, err := srv.Kubectl("get", "deploy,sts,svc,clusters.postgresql.cnpg.io", "-n", "matrix", "-o", "name")
		if err != nil || strings.TrimSpace(out) != "" {
			t.Errorf("dry-run persisted objects: %q (%v)", out, err)
		}
	})

	t.Run("rejects and flags bad objects", func(t *testing.T) {
		privileged := strings.Replace(deployment("privileged", ""),
			"          allowPrivilegeEscalation: false\n",
			"          privileged: true\n          allowPrivilegeEscalation: true\n", 1)
		unknownFieldDep := strings.Replace(deployment("unknown-field", ""),
			"  replicas: 1\n", "  replicas: 1\n  replicaz: 2\n", 1)
		badCluster := strings.Replace(cnpgCluster, "  instances: 2\n", "  instances: 2\n  instancez: 3\n", 1)
		badClusterValue := strings.Replace(strings.Replace(cnpgCluster, "synapse-pg", "zero-pg", 1),
			"  instances: 2\n", "  instances: 0\n", 1)
		// A bare Pod is refused outright (not just warned) by Pod Security;
		// it also proves the default ServiceAccount exists, else the
		// ServiceAccount admission plugin would refuse it first.
		pod := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: root-pod\nspec:\n  containers:\n  - name: c\n    image: busybox\n"
		dir := writeFiles(t, map[string]string{
			"a-good.yaml":          deployment("good", ""),
			"b-privileged.yaml":    privileged,
			"c-unknown-field.yaml": unknownFieldDep,
			"d-bad-cluster.yaml":   badCluster + "---\n" + badClusterValue,
			"e-pod.yaml":           pod,
		})
		srv.EnsureNamespace(t, "matrix-neg")
		res := srv.DryRunDir(t, "matrix-neg", dir)
		t.Logf("report:\n%s", res)
		byName := map[string]Finding{}
		for _, f := range res.Findings {
			byName[f.Object.Name] = f
		}
		if len(byName) != 6 {
			t.Fatalf("want 6 findings, got %+v", res.Findings)
		}
		if f := byName["good"]; f.Failed() {
			t.Errorf("good deployment flagged: %+v", f)
		}
		f := byName["privileged"]
		if f.Error != "" || len(f.Warnings) == 0 || !strings.Contains(strings.Join(f.Warnings, "\n"), "would violate PodSecurity") {
			t.Errorf("privileged deployment: want a PodSecurity warning, got %+v", f)
		}
		if f := byName["unknown-field"]; !unknownField(f.Error, "spec.replicaz") {
			t.Errorf("unknown field: want strict-validation error, got %+v", f)
		}
		if f := byName["synapse-pg"]; !unknownField(f.Error, "spec.instancez") {
			t.Errorf("CNPG Cluster with unknown field: want error, got %+v", f)
		}
		if f := byName["zero-pg"]; !strings.Contains(f.Error, "spec.instances") {
			t.Errorf("CNPG Cluster with instances: 0: want error, got %+v", f)
		}
		if f := byName["root-pod"]; !strings.Contains(f.Error, "violates PodSecurity") {
			t.Errorf("bare Pod: want PodSecurity rejection, got %+v", f)
		}
		if res.OK() || len(res.Failures()) != 5 {
			t.Errorf("want 5 failures, got %d", len(res.Failures()))
		}
	})

	// The harness enforces what the rendered Namespace says, nothing more:
	// the same root Pod is refused in a namespace rendered "restricted" and
	// accepted in one rendered without Pod Security labels.
	t.Run("namespaces keep their rendered Pod Security labels", func(t *testing.T) {
		pod := func(ns string) string {
			return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: root-pod\n  namespace: " + ns +
				"\nspec:\n  containers:\n  - name: c\n    image: busybox\n"
		}
		dir := writeFiles(t, map[string]string{
			"ns.yaml":  restrictedNS("strict-ns") + "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: lax-ns\n",
			"pod.yaml": pod("strict-ns") + "---\n" + pod("lax-ns"),
		})
		res := srv.DryRunDir(t, "strict-ns", dir)
		t.Logf("report:\n%s", res)
		for _, f := range res.Findings {
			if f.Object.Kind != "Pod" {
				continue
			}
			refused := strings.Contains(f.Error, "violates PodSecurity")
			if want := f.Namespace == "strict-ns"; refused != want {
				t.Errorf("%s in %s: refused by PodSecurity=%v, want %v (%+v)", f.Object, f.Namespace, refused, want, f)
			}
		}
		if l := srv.NamespaceLabels(t, "lax-ns"); l["pod-security.kubernetes.io/enforce"] != "" {
			t.Errorf("lax-ns was relabelled: %v", l)
		}
		if srv.NamespaceLabels(t, "never-created") != nil {
			t.Error("NamespaceLabels of a missing namespace is not nil")
		}
	})

}

// restrictedNS is a Namespace as the program renders one: Pod Security
// "restricted" enforced, plus a label of its own.
func restrictedNS(name string) string {
	return `apiVersion: v1
kind: Namespace
metadata:
  name: ` + name + `
  labels:
    example.org/rendered: "yes"
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/enforce-version: latest
`
}
