package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunWritesEveryObjectAndRerendersClean(t *testing.T) {
	out := filepath.Join(t.TempDir(), "dev")
	if err := run([]string{"--stack", "dev", "--project-dir", "../..", "--out", out}); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(out, "matrix-dev", "stale.yaml")
	if err := os.WriteFile(stale, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"--config", "../../Pulumi.dev.yaml", "--out", out}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("a file from an earlier render survived: diffs would lie")
	}
	if _, err := os.Stat(filepath.Join(out, "matrix-dev", "statefulset-synapse-main.yaml")); err != nil {
		t.Errorf("main StatefulSet not rendered: %v", err)
	}
}

func TestRunRejectsInvalidConfigAndWritesNothing(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "Pulumi.bad.yaml")
	if err := os.WriteFile(bad, []byte("config:\n  synapse:serverName: example.org\n  synapse:tier: huge\n  synapse:streamWriters:\n    presence: 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	err := run([]string{"--config", bad, "--out", out})
	if err == nil {
		t.Fatal("invalid config rendered")
	}
	for _, key := range []string{"synapse:tier", "synapse:streamWriters.presence"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error does not name %s: %v", key, err)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("output directory written for an invalid config")
	}
}

// Render refuses what `pulumi up` refuses: a misspelt top-level key is not
// silently ignored (it used to render the default tier and exit 0).
func TestRunRejectsUnknownKeysAndBadValues(t *testing.T) {
	for name, tc := range map[string]struct {
		config string
		want   []string
	}{
		"misspelt tier": {"  synapse:teir: large\n", []string{`synapse:teir: "large" is not allowed; unknown key`}},
		"nested problems": {"  synapse:pools:\n    generic:\n      replicas: 2.5\n      replicaz: 2\n  synapse:streamWriters:\n    typing: null\n",
			[]string{`synapse:pools.generic.replicas: "2.5"`, `synapse:pools.generic.replicaz: "2"`, `synapse:streamWriters.typing: "null"`, "3 problem(s)"}},
		"reserved namespace": {"  synapse:namespace: kube-system\n", []string{`synapse:namespace: "kube-system"`}},
	} {
		t.Run(name, func(t *testing.T) {
			renderRefused(t, "config:\n  synapse:serverName: example.org\n"+tc.config, tc.want)
		})
	}
}

// renderRefused runs the renderer on a stack file that pulumi up refuses:
// it must fail, its error must hold every want, and nothing may be
// written. It returns the error.
func renderRefused(t *testing.T, stackFile string, want []string) error {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "Pulumi.x.yaml")
	if err := os.WriteFile(file, []byte(stackFile), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	err := run([]string{"--config", file, "--out", out})
	if err == nil {
		t.Fatal("rendered a stack file that pulumi up refuses")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("output directory written for an invalid config")
	}
	return err
}

func TestRunRefusesToEmptyAForeignDirectory(t *testing.T) {
	out := t.TempDir()
	keep := filepath.Join(out, "precious.txt")
	if err := os.WriteFile(keep, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"--stack", "dev", "--project-dir", "../..", "--out", out}); err == nil {
		t.Fatal("render emptied a directory it did not write")
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("foreign file removed: %v", err)
	}
}

const upstreamStack = "config:\n  synapse:serverName: example.org\n" +
	"  synapse:mas:\n    upstreamProviders:\n      - name: keycloak\n        issuer: https://kc.example.org/realms/matrix\n        clientId: mas\n"

func secure(key string) string {
	return "  synapse:" + key + ":\n    secure: v1:c2FsdA==:bm9uY2U=:Y2lwaGVydGV4dA==\n"
}

// A stack file with secret keys set the Pulumi way ({secure: ...}) renders
// offline, the values as placeholders (it used to be refused: the secure
// keys were dropped, so masUpstreamClientSecrets was "missing").
func TestRunRendersStackSecretsAsPlaceholders(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "Pulumi.up.yaml")
	if err := os.WriteFile(file, []byte(upstreamStack+secure("masUpstreamClientSecrets")+secure("signingKey")), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if err := run([]string{"--config", file, "--out", out}); err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	err := filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		all.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<stack-secret:synapse:masUpstreamClientSecrets.keycloak>", "<stack-secret:synapse:signingKey>"} {
		if !strings.Contains(all.String(), want) {
			t.Errorf("no %s in the rendered objects", want)
		}
	}
}

// A secret key that is absent, or written in plain text, is refused as
// `pulumi up` refuses it, together with every other problem of the file.
func TestRunRefusesMissingOrPlainSecrets(t *testing.T) {
	for name, tc := range map[string]struct {
		config string
		want   []string
	}{
		"missing, and a bad tier": {upstreamStack + "  synapse:tier: huge\n" + secure("signingKey"),
			[]string{`synapse:tier: "huge"`, "synapse:masUpstreamClientSecrets: missing", "2 problem(s)"}},
		"plain text": {upstreamStack + "  synapse:masUpstreamClientSecrets: '{\"keycloak\": \"s3cr3t\"}'\n",
			[]string{`synapse:masUpstreamClientSecrets: "(plain text)"`, "1 problem(s)"}},
		"another key as a secret": {upstreamStack + secure("masUpstreamClientSecrets") + secure("namespace"),
			[]string{`synapse:namespace: "[secret]" is not allowed; is a Pulumi secret`, "1 problem(s)"}},
	} {
		t.Run(name, func(t *testing.T) {
			if err := renderRefused(t, tc.config, tc.want); strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("a secret is echoed: %v", err)
			}
		})
	}
}
