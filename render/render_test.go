package render

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
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

// prodWithSecrets is prod with an upstream provider and an external backup
// target, whose secrets are the given keys, written as Pulumi secrets.
func prodWithSecrets(t *testing.T, tier string, secure ...string) *config.StackFile {
	t.Helper()
	f, err := config.ReadStack("../Pulumi.prod.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var pg, mas map[string]any
	if err := json.Unmarshal([]byte(f.Raw["postgres"]), &pg); err != nil {
		t.Fatal(err)
	}
	pg["backup"].(map[string]any)["endpoint"] = "https://s3.example.org"
	if err := json.Unmarshal([]byte(f.Raw["mas"]), &mas); err != nil {
		t.Fatal(err)
	}
	mas["upstreamProviders"] = []any{
		map[string]any{"name": "keycloak", "issuer": "https://kc.example.org/realms/matrix", "clientId": "mas"},
		map[string]any{"name": "google", "issuer": "https://accounts.google.com", "clientId": "mas"},
	}
	mas["passwordLogin"] = false
	for key, v := range map[string]any{"postgres": pg, "mas": mas} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		f.Raw[key] = string(b)
	}
	if tier != "" {
		f.Raw["tier"] = tier
	}
	f.Secure = secure
	return f
}

// TestRenderStackSecrets: a stack whose secret keys are Pulumi secrets
// ({secure: ...}) renders offline (it used to be refused: "missing"), each
// secret value a placeholder, never the stand-in the program was given.
func TestRenderStackSecrets(t *testing.T) {
	all := []string{config.BackupS3AccessKeyIDKey, config.BackupS3SecretAccessKeyKey, config.MASUpstreamSecretsKey, config.SigningKeyKey}
	res, err := StackFile("prod", prodWithSecrets(t, "", all...))
	if err != nil {
		t.Fatal(err)
	}
	files, err := res.Files()
	if err != nil {
		t.Fatal(err)
	}
	var rendered []byte
	for _, content := range files {
		rendered = append(rendered, content...)
	}
	for _, key := range []string{config.BackupS3AccessKeyIDKey, config.BackupS3SecretAccessKeyKey,
		config.MASUpstreamSecretsKey + ".keycloak", config.MASUpstreamSecretsKey + ".google", config.SigningKeyKey} {
		if !bytes.Contains(rendered, []byte("<stack-secret:synapse:"+key+">")) {
			t.Errorf("no placeholder for %s", key)
		}
	}
	for _, standIn := range []string{"offline-stand-in", "a_offline"} {
		if bytes.Contains(rendered, []byte(standIn)) {
			t.Errorf("a stand-in value is rendered (%s)", standIn)
		}
	}
}

// TestRenderRefusesMissingSecretsWithOtherProblems: a secret key the stack
// needs and does not hold is refused offline too, in the same report as a
// bad plain key.
func TestRenderRefusesMissingSecretsWithOtherProblems(t *testing.T) {
	for _, tc := range []struct {
		name, tier string
		secure     []string
		want       []string
	}{
		{"upstream secret missing", "", []string{config.BackupS3AccessKeyIDKey, config.BackupS3SecretAccessKeyKey},
			[]string{config.MASUpstreamSecretsKey}},
		{"bad tier, a backup key and the upstream secret missing", "huge", []string{config.BackupS3AccessKeyIDKey},
			[]string{"tier", config.BackupS3SecretAccessKeyKey, config.MASUpstreamSecretsKey}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := StackFile("prod", prodWithSecrets(t, tc.tier, tc.secure...))
			var verr config.ValidationError
			if !errors.As(err, &verr) || res != nil {
				t.Fatalf("want a validation error and nothing rendered, got %v, %v", res, err)
			}
			if got := verr.Keys(); !slices.Equal(got, tc.want) {
				t.Errorf("keys %v, want %v:\n%v", got, tc.want, err)
			}
		})
	}
}
