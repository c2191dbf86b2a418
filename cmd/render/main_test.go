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
