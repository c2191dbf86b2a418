// Package bench measures whole-stack evaluation under mocks: how long the
// Pulumi program takes to register every resource of a stack, against an
// engine floor that registers the same number of trivial resources through
// the same harness. Run bench/report.sh for a table.
package bench

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"synapse/config"
	"synapse/internal/mockstack"
	"synapse/stack"
)

// Case is one stack to measure: a stack file plus raw config overrides (key
// without the "synapse:" namespace → value as Pulumi hands it over).
type Case struct {
	Name      string
	File      string // Pulumi.<File>.yaml in the repository root
	Overrides map[string]string
}

// Cases are the measured stacks, smallest first.
var Cases = []Case{
	{Name: "dev", File: "dev"},
	{Name: "prod", File: "prod"},
	// The largest seed tier (10K–20K CCU) on prod's otherwise unchanged file.
	{Name: "xlarge", File: "prod", Overrides: map[string]string{"tier": "xlarge"}},
	// Synthetic 100K CCU: xlarge with every scaled pool about 5× the
	// tier, capped by config validation (64 per pool, 16 writers per
	// multi-writer stream).
	{Name: "100k", File: "prod", Overrides: map[string]string{
		"tier": "xlarge",
		"pools": `{
			"generic":        {"replicas": 60, "maxReplicas": 64},
			"synchrotron":    {"replicas": 64, "maxReplicas": 64},
			"media":          {"replicas": 32, "maxReplicas": 40},
			"eventPersister": {"replicas": 32},
			"pusher":         {"replicas": 8},
			"background":     {"replicas": 1}
		}`,
		"federation": `{"enabled": true, "senders": 32}`,
		"streamWriters": `{"typing": 1, "to_device": 1, "account_data": 1, "presence": 1,
			"push_rules": 1, "receipts": 16, "device_lists": 16}`,
		"minio":   `{"enabled": true, "replicas": 16, "storage": {"size": "2Ti"}, "bucket": "synapse-media"}`,
		"haproxy": `{"replicas": 8}`,
	}},
}

// Raw reads the case's stack file (relative to root, the repository root)
// and applies its overrides.
func (c Case) Raw(root string) (map[string]string, error) {
	raw, err := config.ReadStackFile(filepath.Join(root, "Pulumi."+c.File+".yaml"))
	if err != nil {
		return nil, err
	}
	for k, v := range c.Overrides {
		raw[k] = v
	}
	return raw, nil
}

// Options turns raw config into the mockstack options the benchmarks run
// with. The config is validated first, so that a case the program would
// refuse fails loudly instead of measuring an early error.
func Options(stackName string, raw map[string]string) (mockstack.Options, error) {
	if _, err := config.Parse(raw); err != nil {
		return mockstack.Options{}, fmt.Errorf("stack %s: %w", stackName, err)
	}
	cfg := make(map[string]string, len(raw))
	for k, v := range raw {
		cfg[config.Namespace+":"+k] = v
	}
	return mockstack.Options{Project: config.Namespace, Stack: stackName, Config: cfg}, nil
}

// RunStack evaluates the whole program once and returns how many resources
// it registered.
func RunStack(opts mockstack.Options) (int, error) {
	s, err := mockstack.Run(stack.Deploy, opts)
	if err != nil {
		return 0, err
	}
	return len(s.Resources), nil
}

// InputBytes is the size of every recorded resource's inputs as JSON: what
// grows with the tier when the resource count does not (one workload per
// role, whatever its replicas; instance_map, HAProxy servers, worker files
// and connection budgets grow instead).
func InputBytes(s *mockstack.Stack) (int, error) {
	n := 0
	for _, r := range s.Resources {
		b, err := json.Marshal(r.Inputs)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", r.URN, err)
		}
		n += len(b)
	}
	return n, nil
}

// Floor is a program that registers n ConfigMaps with tiny inputs, no
// parents and no dependencies: the engine's and the harness's own cost per
// resource, with none of ours.
func Floor(n int) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		for i := range n {
			name := "floor-" + strconv.Itoa(i)
			if _, err := corev1.NewConfigMap(ctx, name, &corev1.ConfigMapArgs{
				Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(name)},
				Data:     pulumi.StringMap{"k": pulumi.String("v")},
			}); err != nil {
				return err
			}
		}
		return nil
	}
}

// RunFloor runs Floor(n) through the same harness and returns how many
// resources were recorded.
func RunFloor(n int, opts mockstack.Options) (int, error) {
	s, err := mockstack.Run(Floor(n), mockstack.Options{Project: opts.Project, Stack: opts.Stack})
	if err != nil {
		return 0, err
	}
	return len(s.Resources), nil
}
