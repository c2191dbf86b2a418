package render

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"synapse/config"
)

func renderStack(t *testing.T, stack string, override map[string]string) (*Result, map[string][]byte) {
	t.Helper()
	raw, err := config.ReadStackFile("../Pulumi." + stack + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range override {
		raw[k] = v
	}
	res, err := StackConfig(stack, raw)
	if err != nil {
		t.Fatal(err)
	}
	files, err := res.Files()
	if err != nil {
		t.Fatal(err)
	}
	return res, files
}

func TestRenderIsDeterministicAndComplete(t *testing.T) {
	for _, stack := range []string{"dev", "prod"} {
		res, a := renderStack(t, stack, nil)
		_, b := renderStack(t, stack, nil)
		if len(a) != len(b) {
			t.Fatalf("%s: %d vs %d files across two renders", stack, len(a), len(b))
		}
		for p, content := range a {
			if !bytes.Equal(content, b[p]) {
				t.Errorf("%s: %s differs between two renders", stack, p)
			}
		}
		kinds := map[string]int{}
		for _, o := range res.Objects {
			kind, _ := o.Manifest["kind"].(string)
			kinds[kind]++
			meta, _ := o.Manifest["metadata"].(map[string]any)
			if o.Manifest["apiVersion"] == nil || kind == "" || meta == nil || meta["name"] == nil {
				t.Errorf("%s: %s lacks apiVersion, kind or name", stack, o.Path)
			}
		}
		for _, kind := range []string{"Namespace", "Cluster", "StatefulSet", "Deployment", "Service", "ConfigMap", "Secret", "NetworkPolicy"} {
			if kinds[kind] == 0 {
				t.Errorf("%s: no %s rendered (kinds: %v)", stack, kind, kinds)
			}
		}
		for _, left := range res.LeftOut {
			if strings.HasPrefix(left, "kubernetes:apps/") || strings.HasPrefix(left, "kubernetes:core/") {
				t.Errorf("%s: a Kubernetes object was left out: %s", stack, left)
			}
		}
		if stack == "prod" && (kinds["HorizontalPodAutoscaler"] == 0 || kinds["ServiceMonitor"] == 0 || kinds["Ingress"] == 0 || kinds["Job"] == 0) {
			t.Errorf("prod: missing HPAs, ServiceMonitors, Ingress or the bucket Job: %v", kinds)
		}
	}
}

func TestRenderReplacesGeneratedSecretsWithPlaceholders(t *testing.T) {
	res, files := renderStack(t, "prod", nil)
	placeholders := 0
	for p, content := range files {
		if bytes.Contains(content, []byte("MOCKSECRET-")) || bytes.Contains(content, []byte("MOCKBCRYPT")) {
			t.Errorf("%s holds a generated secret value", p)
		}
		placeholders += bytes.Count(content, []byte("<generated:"))
	}
	if placeholders == 0 {
		t.Errorf("no placeholders in %d objects: secrets were not rendered at all", len(res.Objects))
	}
}

func TestRenderRejectsInvalidConfig(t *testing.T) {
	raw, err := config.ReadStackFile("../Pulumi.dev.yaml")
	if err != nil {
		t.Fatal(err)
	}
	raw["streamWriters"] = `{"typing":2}`
	res, err := StackConfig("dev", raw)
	var verr config.ValidationError
	if !errors.As(err, &verr) || res != nil {
		t.Fatalf("want a validation error and nothing rendered, got %v, %v", res, err)
	}
	if !strings.Contains(err.Error(), "synapse:streamWriters.typing") {
		t.Errorf("error does not name the key: %v", err)
	}
}
