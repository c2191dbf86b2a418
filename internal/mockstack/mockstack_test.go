package mockstack_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"synapse/internal/mockstack"
)

const (
	tApp       = "mockstack:test:App"
	tWeb       = "mockstack:test:Web"
	tSecret    = "kubernetes:core/v1:Secret"
	tConfigMap = "kubernetes:core/v1:ConfigMap"
)

type app struct {
	pulumi.ResourceState
	Secret *corev1.Secret
}

type tiers struct {
	Size     string `json:"size"`
	Replicas int    `json:"replicas"`
}

// program is a tiny synthetic stack exercising what the package records.
func program(ctx *pulumi.Context) error {
	cfg := config.New(ctx, "")
	ns := cfg.Require("namespace")
	var tr tiers
	if err := cfg.TryObject("tiers", &tr); err != nil {
		return fmt.Errorf("tiers: %w", err)
	}

	a := &app{}
	if err := ctx.RegisterComponentResource(tApp, "app", a); err != nil {
		return err
	}
	pw, err := random.NewRandomPassword(ctx, "app-pw", &random.RandomPasswordArgs{
		Length: pulumi.Int(24), Special: pulumi.Bool(false),
	}, pulumi.Parent(a))
	if err != nil {
		return err
	}
	key, err := random.NewRandomBytes(ctx, "app-key", &random.RandomBytesArgs{Length: pulumi.Int(40)},
		pulumi.Parent(a))
	if err != nil {
		return err
	}
	a.Secret, err = corev1.NewSecret(ctx, "app-secret", &corev1.SecretArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("app-secret"), Namespace: pulumi.String(ns)},
		StringData: pulumi.StringMap{
			"password":    pw.Result,
			"signing.key": key.Base64,
		},
	}, pulumi.Parent(a))
	if err != nil {
		return err
	}
	// Autonamed, no namespace, ordered after the Secret.
	cm, err := corev1.NewConfigMap(ctx, "app-config", &corev1.ConfigMapArgs{
		Data: pulumi.StringMap{
			"size":     pulumi.String(tr.Size),
			"replicas": pulumi.String(fmt.Sprint(tr.Replicas)),
			// A deliberate leak, so that SecretValues/Redact/Leaks have work.
			"leaked.conf": pulumi.Sprintf("password: %s\n", pw.Result),
		},
	}, pulumi.Parent(a), pulumi.DependsOn([]pulumi.Resource{a.Secret}))
	if err != nil {
		return err
	}
	if _, err := corev1.NewPersistentVolumeClaim(ctx, "app-data", &corev1.PersistentVolumeClaimArgs{
		Metadata: &metav1.ObjectMetaArgs{Namespace: pulumi.String(ns)},
		Spec:     &corev1.PersistentVolumeClaimSpecArgs{AccessModes: pulumi.StringArray{pulumi.String("ReadWriteOnce")}},
	}, pulumi.Parent(a), pulumi.Protect(true), pulumi.RetainOnDelete(true)); err != nil {
		return err
	}
	if err := ctx.RegisterResourceOutputs(a, pulumi.Map{}); err != nil {
		return err
	}

	// A second component that depends on the app's Secret: recorded on the
	// component only; its child waits through its parent.
	web := &pulumi.ResourceState{}
	if err := ctx.RegisterComponentResource(tWeb, "web", web,
		pulumi.DependsOn([]pulumi.Resource{a.Secret})); err != nil {
		return err
	}
	if _, err := corev1.NewConfigMap(ctx, "web-config", &corev1.ConfigMapArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("web"), Namespace: pulumi.String(ns)},
		Data:     pulumi.StringMap{"k": pulumi.String("v")},
	}, pulumi.Parent(web)); err != nil {
		return err
	}
	if _, err := corev1.NewNamespace(ctx, "ns", &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(ns)},
	}); err != nil {
		return err
	}

	ctx.Export("namespace", pulumi.String(ns))
	ctx.Export("password", pulumi.ToSecret(pw.Result))
	ctx.Export("configMapName", cm.Metadata.Name())
	ctx.Export("tiers", pulumi.Map{"size": pulumi.String(tr.Size), "replicas": pulumi.Int(tr.Replicas)})
	return nil
}

func run(t testing.TB) *mockstack.Stack {
	t.Helper()
	s, err := mockstack.Run(program, mockstack.Options{
		Project: "synapse",
		Stack:   "dev",
		Config: map[string]string{
			"synapse:namespace": "matrix",
			"tiers":             `{"size":"small","replicas":3}`,
		},
	})
	require.NoError(t, err)
	return s
}

func TestRecordsResources(t *testing.T) {
	t.Parallel()
	s := run(t)

	appC := s.MustGet(t, tApp, "app")
	webC := s.MustGet(t, tWeb, "web")
	pw := s.MustGet(t, mockstack.TypeRandomPassword, "app-pw")
	sec := s.MustGet(t, tSecret, "app-secret")
	cm := s.MustGet(t, tConfigMap, "app-config")
	pvc := s.MustGet(t, "kubernetes:core/v1:PersistentVolumeClaim", "app-data")
	webCM := s.MustGet(t, tConfigMap, "web-config")
	nsR := s.MustGet(t, "kubernetes:core/v1:Namespace", "ns")

	assert.Len(t, s.Resources, 9)
	assert.Len(t, s.ByType(tConfigMap), 2)
	_, ok := s.ByURN(cm.URN)
	assert.True(t, ok)
	assert.Equal(t, "urn:pulumi:dev::synapse::pulumi:pulumi:Stack::synapse-dev", s.StackURN)
	assert.Equal(t, "urn:pulumi:dev::synapse::mockstack:test:App$kubernetes:core/v1:Secret::app-secret", sec.URN)

	// Kinds and parents.
	assert.False(t, appC.Custom)
	assert.True(t, sec.Custom)
	assert.Equal(t, s.StackURN, appC.Parent)
	for _, r := range []mockstack.Resource{pw, sec, cm, pvc} {
		assert.Equal(t, appC.URN, r.Parent, r.Name)
	}
	assert.Equal(t, webC.URN, webCM.Parent)
	assert.Equal(t, []string{appC.URN, s.StackURN}, s.Ancestors(sec.URN))
	assert.Nil(t, s.Ancestors("urn:nope"))
	assert.Len(t, s.Children(appC.URN), 5)

	// Options.
	assert.True(t, pvc.Protect)
	assert.True(t, pvc.RetainOnDelete)
	assert.False(t, sec.Protect)
	assert.False(t, cm.RetainOnDelete)

	// Dependencies: explicit DependsOn plus input-derived ones.
	assert.Contains(t, cm.Dependencies, sec.URN)
	assert.Contains(t, cm.Dependencies, pw.URN, "input from pw.Result")
	assert.Contains(t, sec.PropertyDependencies["stringData"], pw.URN)
	assert.Equal(t, []string{sec.URN}, webC.Dependencies, "DependsOn is recorded on the component")
	assert.Empty(t, webCM.Dependencies, "...and not on its children")
	assert.True(t, s.DependsOnTransitively(webCM.URN, sec.URN), "child inherits its parent's DependsOn")
	assert.True(t, s.DependsOnTransitively(webCM.URN, pw.URN), "and what the dependency itself waits for")
	assert.True(t, s.DependsOnTransitively(cm.URN, sec.URN))
	assert.False(t, s.DependsOnTransitively(sec.URN, cm.URN))
	assert.False(t, s.DependsOnTransitively(nsR.URN, sec.URN))
	assert.False(t, s.DependsOnTransitively(webCM.URN, cm.URN))

	// Inputs are plain values; secrets unwrapped and flagged.
	assert.Equal(t, "matrix", sec.Inputs["metadata"].(map[string]any)["namespace"])
	assert.Equal(t, "MOCKSECRET-app-pw-24", sec.Inputs["stringData"].(map[string]any)["password"])
	assert.Contains(t, sec.SecretPaths, "stringData", "k8s Secret wraps stringData in ToSecret")
	assert.Contains(t, cm.SecretPaths, `data["leaked.conf"]`)
	assert.Equal(t, float64(24), pw.Inputs["length"])
	assert.Equal(t, false, pw.Inputs["special"])
	assert.Empty(t, cm.UnknownPaths)

	// Mock outputs: autonaming and default namespace on kubernetes objects.
	md := cm.Outputs["metadata"].(map[string]any)
	assert.Regexp(t, `^app-config-[0-9a-f]{8}$`, md["name"])
	assert.Equal(t, "default", md["namespace"])
	assert.Equal(t, "default/"+md["name"].(string), cm.ID)
	assert.Equal(t, "matrix/app-secret", sec.ID)
	assert.Equal(t, "matrix", nsR.ID)
	assert.NotContains(t, nsR.Outputs["metadata"], "namespace", "cluster-scoped")
	assert.Equal(t, "matrix", pvc.Outputs["metadata"].(map[string]any)["namespace"])
	assert.Regexp(t, `^app-data-[0-9a-f]{8}$`, pvc.Outputs["metadata"].(map[string]any)["name"])
	assert.Equal(t, "MOCKSECRET-app-pw-24", pw.Outputs["result"])
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	a, b := run(t), run(t)
	assert.Equal(t, a.Resources, b.Resources)
	assert.Equal(t, a.SecretValues(), b.SecretValues())
}

func TestOutputsAndConfig(t *testing.T) {
	t.Parallel()
	s := run(t)
	assert.Equal(t, "matrix", s.Outputs["namespace"])
	assert.Equal(t, "MOCKSECRET-app-pw-24", s.Outputs["password"])
	assert.Equal(t, map[string]any{"size": "small", "replicas": float64(3)}, s.Outputs["tiers"])
	assert.Regexp(t, `^app-config-[0-9a-f]{8}$`, s.Outputs["configMapName"])
	assert.True(t, s.OutputSecrets["password"])
	assert.False(t, s.OutputSecrets["namespace"])
	assert.False(t, s.OutputSecrets["tiers"])

	cm := s.MustGet(t, tConfigMap, "app-config")
	assert.Equal(t, "small", cm.Inputs["data"].(map[string]any)["size"])
	assert.Equal(t, "3", cm.Inputs["data"].(map[string]any)["replicas"])
}

func TestSecretsAndRedaction(t *testing.T) {
	t.Parallel()
	s := run(t)

	key := s.MustGet(t, mockstack.TypeRandomBytes, "app-key")
	b64 := key.Outputs["base64"].(string)
	raw, err := base64.StdEncoding.DecodeString(b64)
	require.NoError(t, err)
	assert.Len(t, raw, 40)
	assert.Equal(t, fmt.Sprintf("%x", raw), key.Outputs["hex"])

	vals := s.SecretValues()
	unpadded := base64.RawStdEncoding.EncodeToString(raw) // key files re-encode without padding
	assert.ElementsMatch(t, []string{"$2a$10$MOCKBCRYPT-app-pw", "MOCKSECRET-app-pw-24", b64, unpadded, key.Outputs["hex"].(string)},
		vals)
	assert.True(t, slices.IsSorted(vals))

	cm := s.MustGet(t, tConfigMap, "app-config")
	assert.Equal(t, []string{"MOCKSECRET-app-pw-24"}, s.Leaks(cm.Inputs))
	red := s.Redact(cm.Inputs).(map[string]any)
	assert.Equal(t, "password: <generated:random-password/app-pw>\n", red["data"].(map[string]any)["leaked.conf"])
	assert.Empty(t, s.Leaks(red))
	assert.Contains(t, cm.Inputs["data"].(map[string]any)["leaked.conf"], "MOCKSECRET", "Redact copies")

	sec := s.MustGet(t, tSecret, "app-secret")
	redSec := s.Redact(sec).(mockstack.Resource)
	assert.Equal(t, "<generated:random-bytes/app-key/base64>",
		redSec.Inputs["stringData"].(map[string]any)["signing.key"])
	assert.Empty(t, s.Leaks(redSec))

	// base64-encoded values (a Secret's data) are caught and redacted too.
	enc := map[string]string{"password": base64.StdEncoding.EncodeToString([]byte("MOCKSECRET-app-pw-24"))}
	assert.Equal(t, []string{"MOCKSECRET-app-pw-24"}, s.Leaks(enc))
	assert.Equal(t, map[string]string{"password": "<generated:random-password/app-pw:base64>"}, s.Redact(enc))
	assert.Empty(t, s.Leaks(s.Redact(s.Outputs)))
}

// Values the program is given (Options.Placeholders, e.g. stand-ins for
// stack secrets) are redacted and listed like generated ones.
func TestGivenPlaceholders(t *testing.T) {
	t.Parallel()
	s, err := mockstack.Run(program, mockstack.Options{
		Project: "synapse", Stack: "dev",
		Config:       map[string]string{"synapse:namespace": "given-ns-value", "tiers": `{"size":"small","replicas":3}`},
		Placeholders: map[string]string{"given-ns-value": "<stack-secret:ns>"},
	})
	require.NoError(t, err)
	assert.Contains(t, s.SecretValues(), "given-ns-value")
	sec := s.MustGet(t, tSecret, "app-secret")
	assert.Equal(t, "given-ns-value", dig(sec.Inputs, "metadata", "namespace"))
	assert.Equal(t, "<stack-secret:ns>", dig(s.Redact(sec.Inputs), "metadata", "namespace"))
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	return v
}

func TestProgramError(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	s, err := mockstack.Run(func(ctx *pulumi.Context) error {
		if _, err := corev1.NewNamespace(ctx, "ns", &corev1.NamespaceArgs{}); err != nil {
			return err
		}
		return boom
	}, mockstack.Options{})
	require.ErrorIs(t, err, boom)
	require.NotNil(t, s)
	assert.Len(t, s.ByType("kubernetes:core/v1:Namespace"), 1)

	_, err = mockstack.Run(program, mockstack.Options{}) // missing required config
	require.Error(t, err)
	assert.Contains(t, err.Error(), "namespace")
}

func TestConcurrentRuns(t *testing.T) {
	t.Parallel()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ns := fmt.Sprintf("ns%d", i)
			s, err := mockstack.Run(program, mockstack.Options{Project: "synapse", Config: map[string]string{
				"namespace": ns, "tiers": `{"size":"large","replicas":1}`,
			}})
			if !assert.NoError(t, err) {
				return
			}
			assert.Equal(t, ns, s.Outputs["namespace"])
			assert.Len(t, s.Resources, 9)
		}()
	}
	wg.Wait()
}
