// Package kubeapitest validates rendered Kubernetes YAML against a real
// kube-apiserver (backed by a throw-away etcd, with no kubelet and no
// controller-manager) started by hack/kubeapi/kubeapi.sh.
//
// What a server-side dry-run against it checks that offline linting does
// not: the API server's own OpenAPI schemas with strict field validation
// (unknown or duplicate fields fail), CRD structural schemas (CNPG Cluster,
// ServiceMonitor), admission (Pod Security at the level the rendered
// Namespace's own labels set) and defaulting/validation of every built-in
// kind.
//
// A test calls Start once (it costs a few seconds) and then DryRunDir for
// each directory of rendered manifests:
//
//	srv := kubeapitest.Start(t)
//	res := srv.DryRunDir(t, "matrix", dir)
//	if !res.OK() {
//		t.Fatal(res)
//	}
//
// Tests never build or download anything. Start needs etcd and openssl on
// PATH and kube-apiserver, kubectl and the CRDs in the cache, put there once
// by
//
//	bash hack/kubeapi/kubeapi.sh build   # minutes, cold
//	bash hack/kubeapi/kubeapi.sh crds
//
// When any is missing it skips the test with a message naming the command
// to run, unless the environment sets REQUIRE_REAL_TOOLS=1 (as CI does), in
// which case it fails (internal/realtools).
package kubeapitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"synapse/internal/realtools"
)

// scriptRel is the harness script, relative to the repository root.
const scriptRel = "hack/kubeapi/kubeapi.sh"

// exitMissing is kubeapi.sh's exit code for "a prerequisite is missing".
const exitMissing = 3

// Server is a running kube-apiserver for one test (and its subtests).
type Server struct {
	// Dir is the work directory holding the kubeconfig, PKI, etcd data and
	// the logs of etcd and kube-apiserver (logs/).
	Dir string
	// Kubeconfig is the path of an admin kubeconfig for the server.
	Kubeconfig string
	// KubectlPath is the kubectl built alongside kube-apiserver.
	KubectlPath string

	script string
}

// skipOrFail skips the test because a prerequisite is missing, or fails it
// when REQUIRE_REAL_TOOLS=1 (the project-wide policy of realtools).
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	realtools.Missing(t, "real kube-apiserver: "+format, args...)
}

// findScript locates kubeapi.sh: $KUBEAPI_SCRIPT if set, otherwise by
// walking up from the working directory (go test runs in the package dir).
func findScript() (string, error) {
	if p := os.Getenv("KUBEAPI_SCRIPT"); p != "" {
		return filepath.Abs(p)
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, scriptRel)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%s not found above the working directory", scriptRel)
		}
		dir = parent
	}
}

// runScript runs one kubeapi.sh subcommand, logging its output to t.
func runScript(t testing.TB, script string, timeout time.Duration, env []string, args ...string) (int, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	// Own process group, so a timeout also ends the script's children
	// (openssl, kubectl polls) rather than just bash.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// The script's background processes redirect their own output, so Wait
	// does not block on them; WaitDelay is a guard should one ever not.
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	err := cmd.Run()
	if s := strings.TrimSpace(out.String()); s != "" {
		t.Logf("kubeapi.sh %s (%s):\n%s", strings.Join(args, " "), time.Since(start).Round(time.Millisecond), s)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), fmt.Errorf("kubeapi.sh %s: %w\n%s", args[0], err, out.String())
	}
	if err != nil {
		return -1, fmt.Errorf("kubeapi.sh %s: %w", args[0], err)
	}
	return 0, nil
}

// Start starts etcd and kube-apiserver in t.TempDir(), applies the CRDs,
// and stops both in t.Cleanup. It uses the kube-apiserver, kubectl and CRDs
// that `bash hack/kubeapi/kubeapi.sh build` and `... crds` put into the
// cache ($KUBEAPI_CACHE, default ~/.cache/synapse-kubeapi) and never builds
// or downloads anything itself. When any of them, etcd or openssl is
// missing, it skips the test with the command that provides it, or fails it
// when REQUIRE_REAL_TOOLS=1 (realtools.Missing).
func Start(t testing.TB) *Server {
	t.Helper()
	if testing.Short() && !realtools.Required() {
		t.Skip("skipping real kube-apiserver test in -short mode")
	}
	realtools.LookPath(t, "bash", "apt-get install bash")
	script, err := findScript()
	if err != nil {
		t.Fatalf("kubeapitest: %v", err)
	}
	// `check` only looks: etcd, openssl and flock on PATH, the binaries and
	// CRDs in the cache. It names each missing one with its command.
	if code, err := runScript(t, script, time.Minute, nil, "check"); code == exitMissing {
		skipOrFail(t, "%s", missingPrereqs(err))
	} else if err != nil {
		t.Fatalf("kubeapitest: %v", err)
	}
	cacheOut, err := exec.Command("bash", script, "cache-dir").Output()
	if err != nil {
		t.Fatalf("kubeapitest: kubeapi.sh cache-dir: %v", err)
	}
	cache := strings.TrimSpace(string(cacheOut))

	dir := t.TempDir()
	s := &Server{
		Dir:         dir,
		Kubeconfig:  filepath.Join(dir, "kubeconfig"),
		KubectlPath: filepath.Join(cache, "kubectl"),
		script:      script,
	}
	// Registered before start so a half-started server is torn down too.
	// t.TempDir's own cleanup runs after this one (cleanups run LIFO).
	t.Cleanup(func() {
		if _, err := runScript(t, script, 2*time.Minute, nil, "stop", dir); err != nil {
			t.Errorf("kubeapitest: %v", err)
		}
	})
	// The watchdog stops the server should this test binary die before
	// its cleanups run (panic, -timeout).
	env := []string{"KUBEAPI_PARENT_PID=" + strconv.Itoa(os.Getpid())}
	code, err := runScript(t, script, 5*time.Minute, env, "start", dir)
	if code == exitMissing {
		skipOrFail(t, "%s", missingPrereqs(err))
	}
	if err != nil {
		t.Fatalf("kubeapitest: %v", err)
	}
	return s
}

// missingPrereqs extracts kubeapi.sh's "missing prerequisite: ..." lines
// (each naming the command to run) from a failed run's output.
func missingPrereqs(err error) string {
	var lines []string
	for _, line := range strings.Split(err.Error(), "\n") {
		if _, what, ok := strings.Cut(line, "missing prerequisite: "); ok {
			lines = append(lines, what)
		}
	}
	if len(lines) == 0 {
		return err.Error()
	}
	return strings.Join(lines, "; ")
}

// Kubectl runs the server's kubectl against it.
func (s *Server) Kubectl(args ...string) (stdout, stderr string, err error) {
	return s.kubectlIn(nil, args...)
}

func (s *Server) kubectlIn(stdin []byte, args ...string) (stdout, stderr string, err error) {
	// The discovery cache stays inside the work dir, not in $HOME/.kube.
	full := append([]string{"--kubeconfig", s.Kubeconfig, "--cache-dir", filepath.Join(s.Dir, "kubectl-cache")}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.KubectlPath, full...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+s.Kubeconfig)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var o, e bytes.Buffer
	cmd.Stdout = &o
	cmd.Stderr = &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// ObjectRef identifies one YAML document of a manifest directory.
type ObjectRef struct {
	File  string // path relative to the directory given to DryRunDir
	Index int    // 0-based document index within File
	// Kind, Name and Namespace as read from the document (best effort:
	// block-style YAML only; empty when not found).
	Kind, Name, Namespace string
}

func (o ObjectRef) String() string {
	id := o.Kind + "/" + o.Name
	if o.Namespace != "" {
		id = o.Namespace + "/" + id
	}
	return fmt.Sprintf("%s#%d (%s)", o.File, o.Index, id)
}

// Finding is the server's verdict on one object.
type Finding struct {
	Object ObjectRef
	// Error is the rejection (kubectl's error output without warnings), or
	// "" when the server accepted the object.
	Error string
	// Warnings holds every warning the server returned, without the
	// "Warning: " prefix. Any warning is a failure (e.g. "would violate
	// PodSecurity" on a Deployment, which the server accepts but whose Pods
	// it would then refuse).
	Warnings []string
	// Applied says the object was applied for real rather than dry-run
	// (Namespaces and CRDs, which later objects depend on).
	Applied bool
	// Namespace is the namespace the object was judged in: its own
	// metadata.namespace, else DryRunDir's default (meaningless for
	// cluster-scoped kinds).
	Namespace string
}

// Failed reports whether the object was rejected or drew a warning.
func (f Finding) Failed() bool { return f.Error != "" || len(f.Warnings) > 0 }

// Result is the outcome of DryRunDir: one Finding per YAML document.
type Result struct {
	Findings []Finding
}

// Failures returns the findings that were rejected or warned.
func (r Result) Failures() []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Failed() {
			out = append(out, f)
		}
	}
	return out
}

// Warnings returns every warning, prefixed with the object it concerns.
func (r Result) Warnings() []string {
	var out []string
	for _, f := range r.Findings {
		for _, w := range f.Warnings {
			out = append(out, f.Object.String()+": "+w)
		}
	}
	return out
}

// OK reports whether every object was accepted without warnings.
func (r Result) OK() bool { return len(r.Failures()) == 0 }

// String is a human-readable report of the failures.
func (r Result) String() string {
	fails := r.Failures()
	var b strings.Builder
	fmt.Fprintf(&b, "%d objects, %d failed", len(r.Findings), len(fails))
	for _, f := range fails {
		fmt.Fprintf(&b, "\n- %s", f.Object)
		if f.Error != "" {
			fmt.Fprintf(&b, "\n    rejected: %s", strings.ReplaceAll(f.Error, "\n", "\n      "))
		}
		for _, w := range f.Warnings {
			fmt.Fprintf(&b, "\n    warning: %s", w)
		}
	}
	return b.String()
}

// restrictedNamespace is what EnsureNamespace creates for hand-written test
// objects. Namespaces that a manifest directory renders are created as
// rendered instead (DryRunDir), so their own Pod Security labels are the ones
// in force.
const restrictedNamespace = `apiVersion: v1
kind: Namespace
metadata:
  name: %s
  labels:
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/enforce-version: latest
`

// defaultServiceAccount is what kube-controller-manager would create in
// every namespace; without it a Pod is refused before Pod Security is even
// evaluated.
const defaultServiceAccount = `apiVersion: v1
kind: ServiceAccount
metadata:
  name: default
  namespace: %s
`

// EnsureNamespace creates namespace for real, enforcing Pod Security
// "restricted", with its `default` ServiceAccount. It is for hand-written
// objects; DryRunDir creates the Namespaces found in the directory from
// their own manifests and never relabels them.
func (s *Server) EnsureNamespace(t testing.TB, namespace string) {
	t.Helper()
	s.apply(t, fmt.Sprintf(restrictedNamespace, namespace), "creating namespace "+namespace)
	s.ensureDefaultServiceAccount(t, namespace)
}

func (s *Server) ensureDefaultServiceAccount(t testing.TB, namespace string) {
	t.Helper()
	s.apply(t, fmt.Sprintf(defaultServiceAccount, namespace), "creating the default ServiceAccount of "+namespace)
}

func (s *Server) apply(t testing.TB, doc, what string) {
	t.Helper()
	_, stderr, err := s.kubectlIn([]byte(doc), "apply", "--server-side", "--field-manager=kubeapitest-harness", "-f", "-")
	if err != nil {
		t.Fatalf("kubeapitest: %s: %v\n%s", what, err, stderr)
	}
}

// NamespaceLabels returns the labels that namespace has on the server (nil
// if it does not exist), e.g. to check which Pod Security level a dry-run
// was judged under.
func (s *Server) NamespaceLabels(t testing.TB, namespace string) map[string]string {
	t.Helper()
	out, stderr, err := s.Kubectl("get", "namespace", namespace, "--ignore-not-found", "-o", "json")
	if err != nil {
		t.Fatalf("kubeapitest: reading namespace %s: %v\n%s", namespace, err, stderr)
	}
	if strings.TrimSpace(out) == "" {
		return nil
	}
	var ns struct {
		Metadata struct {
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal([]byte(out), &ns); err != nil {
		t.Fatalf("kubeapitest: namespace %s: %v", namespace, err)
	}
	if ns.Metadata.Labels == nil {
		return map[string]string{}
	}
	return ns.Metadata.Labels
}

// document is one YAML document of a manifest file.
type document struct {
	ref  ObjectRef
	body []byte
}

var docSep = regexp.MustCompile(`(?m)^---[ \t]*(?:#.*)?$`)

// splitDocuments splits a multi-document YAML stream. Documents holding only
// comments or whitespace are dropped, as kubectl does.
func splitDocuments(file string, data []byte) []document {
	var out []document
	for i, part := range docSep.Split(string(data), -1) {
		part = strings.TrimSuffix(strings.TrimRight(part, " \t\r\n"), "\n...")
		if strings.TrimSpace(part) == "..." {
			continue
		}
		empty := true
		for _, line := range strings.Split(part, "\n") {
			l := strings.TrimSpace(line)
			if l != "" && !strings.HasPrefix(l, "#") {
				empty = false
				break
			}
		}
		if empty {
			continue
		}
		ref := ObjectRef{File: file, Index: i}
		ref.Kind, ref.Name, ref.Namespace = identify(part)
		out = append(out, document{ref: ref, body: []byte(part + "\n")})
	}
	return out
}

// identify reads kind, metadata.name and metadata.namespace from block-style
// YAML (what Pulumi, Helm and kubectl emit) without a YAML library.
func identify(doc string) (kind, name, namespace string) {
	inMeta, metaIndent := false, -1
	for _, line := range strings.Split(doc, "\n") {
		trimmed := strings.TrimLeft(line, " ")
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		indent := len(line) - len(trimmed)
		if indent == 0 {
			inMeta = false
			key, val, _ := strings.Cut(trimmed, ":")
			switch key {
			case "kind":
				kind = unquote(val)
			case "metadata":
				inMeta, metaIndent = true, -1
			}
			continue
		}
		if !inMeta {
			continue
		}
		if metaIndent < 0 {
			metaIndent = indent
		}
		if indent != metaIndent {
			continue
		}
		key, val, _ := strings.Cut(trimmed, ":")
		switch key {
		case "name":
			name = unquote(val)
		case "namespace":
			namespace = unquote(val)
		}
	}
	return kind, name, namespace
}

func unquote(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.Index(v, " #"); i >= 0 {
		v = strings.TrimSpace(v[:i])
	}
	return strings.Trim(v, `"'`)
}

// parseOutput splits kubectl's stderr into warnings and the error text.
func parseOutput(stderr string) (warnings []string, errText string) {
	var rest []string
	for _, line := range strings.Split(stderr, "\n") {
		switch {
		case strings.HasPrefix(line, "Warning: "):
			warnings = append(warnings, strings.TrimPrefix(line, "Warning: "))
		case warningsAsErrorsLine.MatchString(line):
			// kubectl's own summary of --warnings-as-errors; the warnings
			// themselves are already recorded.
		case strings.TrimSpace(line) != "":
			rest = append(rest, line)
		}
	}
	return warnings, strings.Join(rest, "\n")
}

var warningsAsErrorsLine = regexp.MustCompile(`^error: \d+ warnings? received$`)

// applyArgs are the kubectl flags for validating one object. Server-side
// apply, because the CNPG Cluster (and similar CRs) can exceed the size of
// the last-applied annotation of client-side apply; strict validation turns
// unknown/duplicate fields into errors; --warnings-as-errors turns the
// PodSecurity warnings that workload controllers only draw into failures.
func applyArgs(namespace string, dryRun bool) []string {
	args := []string{"apply", "--server-side", "--force-conflicts", "--field-manager=kubeapitest",
		"--validate=strict", "--warnings-as-errors", "-n", namespace, "-f", "-"}
	if dryRun {
		args = append(args, "--dry-run=server")
	}
	return args
}

func (s *Server) check(doc document, namespace string, dryRun bool) Finding {
	// kubectl refuses an object whose own namespace differs from -n.
	if doc.ref.Namespace != "" {
		namespace = doc.ref.Namespace
	}
	_, stderr, err := s.kubectlIn(doc.body, applyArgs(namespace, dryRun)...)
	f := Finding{Object: doc.ref, Applied: !dryRun, Namespace: namespace}
	f.Warnings, f.Error = parseOutput(stderr)
	if err != nil && f.Error == "" && len(f.Warnings) == 0 {
		f.Error = err.Error()
	}
	return f
}

// DryRunDir validates every *.yaml/*.yml file under dir (recursively)
// against the server, one object at a time so that errors and warnings are
// attributed to the right object:
//
//   - Namespace and CustomResourceDefinition objects are applied for real
//     first (others depend on them). Each Namespace is created exactly as
//     the directory renders it: its own pod-security.kubernetes.io labels
//     decide what Pod Security enforces on the objects inside it (the
//     harness adds none; see Server.NamespaceLabels). Each also gets the
//     `default` ServiceAccount that kube-controller-manager would create;
//   - every other object goes through `kubectl apply --server-side
//     --dry-run=server --validate=strict --warnings-as-errors` in its own
//     metadata.namespace, or in namespace when it names none.
//
// namespace must be rendered in dir or exist already (Server.EnsureNamespace
// creates a "restricted" one for hand-written objects); otherwise t fails,
// as it does on other infrastructure failures (unreadable dir, no YAML
// found). The verdicts on objects are returned for the caller to assert on.
func (s *Server) DryRunDir(t testing.TB, namespace string, dir string) Result {
	t.Helper()

	var docs []document
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !(strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		docs = append(docs, splitDocuments(rel, data)...)
		return nil
	})
	if err != nil {
		t.Fatalf("kubeapitest: reading %s: %v", dir, err)
	}
	if len(docs) == 0 {
		t.Fatalf("kubeapitest: no YAML documents under %s", dir)
	}

	findings := make([]Finding, len(docs))
	var rest []int
	var crds []string
	// Phase 1, for real and in order: Namespaces and CRDs.
	for i, d := range docs {
		switch d.ref.Kind {
		case "Namespace":
			findings[i] = s.check(d, namespace, false)
			if findings[i].Error == "" && d.ref.Name != "" {
				s.ensureDefaultServiceAccount(t, d.ref.Name)
			}
		case "CustomResourceDefinition":
			findings[i] = s.check(d, namespace, false)
			if findings[i].Error == "" && d.ref.Name != "" {
				crds = append(crds, "crd/"+d.ref.Name)
			}
		default:
			rest = append(rest, i)
		}
	}
	if s.NamespaceLabels(t, namespace) == nil {
		t.Fatalf("kubeapitest: namespace %q is neither rendered under %s nor created beforehand (Server.EnsureNamespace)", namespace, dir)
	}
	if len(crds) > 0 {
		args := append([]string{"wait", "--for", "condition=established", "--timeout=60s"}, crds...)
		if _, stderr, err := s.Kubectl(args...); err != nil {
			t.Errorf("kubeapitest: CRDs from %s not established: %v\n%s", dir, err, stderr)
		}
	}

	// Phase 2: dry-run everything else, a few kubectl processes at a time
	// (each one is mostly start-up and a round trip).
	const workers = 4
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				findings[i] = s.check(docs[i], namespace, true)
			}
		}()
	}
	for _, i := range rest {
		next <- i
	}
	close(next)
	wg.Wait()

	return Result{Findings: findings}
}
