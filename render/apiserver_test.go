package render

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"synapse/config"
	"synapse/internal/kubeapitest"
)

// TestRealAPIServerAcceptsEveryObject sends every rendered object of dev,
// prod and prod without federation to a real kube-apiserver (server-side
// dry-run, strict field validation, Pod Security "restricted" enforced on the
// namespace, warnings as errors). Mocks prove structure; this proves that
// Kubernetes accepts what we send. Skips without the tools unless
// REQUIRE_REAL_TOOLS=1 (CI), where it fails instead.
func TestRealAPIServerAcceptsEveryObject(t *testing.T) {
	if testing.Short() {
		t.Skip("real kube-apiserver: not in -short")
	}
	srv := kubeapitest.Start(t)
	variants := []struct {
		name     string
		stack    string
		override map[string]string
	}{
		{"dev", "dev", nil},
		{"prod", "prod", nil},
		{"prod-federation-off", "prod", map[string]string{"federation": `{"enabled":false}`}},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			res, files := renderStack(t, v.stack, v.override)
			dir := writeFiles(t, files)
			cfg, err := config.ParseStackFile("../Pulumi."+v.stack+".yaml", v.override)
			if err != nil {
				t.Fatal(err)
			}
			result := srv.DryRunDir(t, cfg.Namespace, dir)
			if len(result.Findings) != len(res.Objects) {
				t.Errorf("the server judged %d objects, %d were rendered", len(result.Findings), len(res.Objects))
			}
			if !result.OK() {
				t.Errorf("the API server refused or warned about rendered objects:\n%s", result)
			}
			t.Logf("%s: %d objects accepted, 0 warnings", v.name, len(result.Findings))
		})
	}

	// The harness must be able to fail: a privileged Synapse container and
	// a misspelt field, injected into otherwise accepted objects.
	t.Run("negative", func(t *testing.T) {
		_, files := renderStack(t, "dev", nil)
		sts := filepath.Join("matrix-dev", "statefulset-synapse-main.yaml")
		svc := filepath.Join("matrix-dev", "service-synapse-main.yaml")
		mutated := map[string][]byte{
			sts: []byte(strings.Replace(string(files[sts]), "allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true", 1)),
			svc: []byte(strings.Replace(string(files[svc]), "selector:", "selectorr:", 1)),
		}
		for p, content := range mutated {
			if string(content) == string(files[p]) {
				t.Fatalf("mutation of %s did not apply", p)
			}
		}
		result := srv.DryRunDir(t, "matrix-dev", writeFiles(t, mutated))
		if len(result.Failures()) != 2 {
			t.Fatalf("want both mutated objects refused, got:\n%s", result)
		}
		if w := strings.Join(result.Warnings(), "\n"); !strings.Contains(w, "PodSecurity") {
			t.Errorf("the privileged container drew no PodSecurity warning:\n%s", result)
		}
	})
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
