package components

import (
	"fmt"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"synapse/plan"
)

// StreamWriterType is the token of a stream writer component.
const StreamWriterType = "synapse:index:StreamWriter"

// StreamWriterArgs are WorkerPoolArgs: a writer is a pool with constraints,
// built from the same pieces.
type StreamWriterArgs = WorkerPoolArgs

// StreamWriter is the writer pool of one stream: stream writer roles and
// the event persisters (the writers of the events stream). Each instance is
// an instance_map member reachable at <pod>.<headless service> on the
// replication port, so the pool is a StatefulSet of a fixed size.
type StreamWriter struct {
	pulumi.ResourceState

	StatefulSet     pulumi.Resource
	HeadlessService *corev1.Service
	Service         plan.Service
	// Instances are the instance_map entries this pool serves.
	Instances []plan.InstanceMapEntry
	Ready     []pulumi.Resource
}

// IsStreamWriter says whether a process is deployed as a StreamWriter: the
// "<stream>-writer" roles and the event persisters. They start before the
// other pools, which send them work as soon as they are up.
func IsStreamWriter(proc plan.Process) bool {
	return proc.Role.IsStreamWriter() || proc.Role == plan.RoleEventPersister
}

// NewStreamWriter creates one writer pool.
func NewStreamWriter(ctx *pulumi.Context, name string, args *StreamWriterArgs, opts ...pulumi.ResourceOption) (*StreamWriter, error) {
	if args == nil || args.Plan == nil || args.Config == nil {
		return nil, fmt.Errorf("components: StreamWriter %s: Config and Plan are required", name)
	}
	proc := args.Process
	switch {
	case !IsStreamWriter(proc):
		return nil, fmt.Errorf("components: StreamWriter %s: role %s is not a stream writer", name, proc.Role)
	case proc.Kind != plan.StatefulSet || !proc.InInstanceMap || !proc.HasPort(plan.PortNameReplication):
		return nil, fmt.Errorf("components: StreamWriter %s: a writer must be a StatefulSet in instance_map with a %q port", name, plan.PortNameReplication)
	case proc.Autoscale != nil:
		// Writers are named in shared config; an HPA would add instances
		// nobody writes to.
		return nil, fmt.Errorf("components: StreamWriter %s: writers cannot autoscale", name)
	}
	var instances []plan.InstanceMapEntry
	for _, e := range args.Plan.InstanceMap {
		for _, n := range proc.InstanceNames() {
			if e.Name == n {
				instances = append(instances, e)
			}
		}
	}
	if len(instances) != proc.Replicas {
		return nil, fmt.Errorf("components: StreamWriter %s: %d of %d instances are in the plan's instance_map", name, len(instances), proc.Replicas)
	}
	c := &StreamWriter{Instances: instances}
	if err := ctx.RegisterComponentResource(StreamWriterType, name, c, opts...); err != nil {
		return nil, err
	}
	w, err := newSynapseWorkload(ctx, name, synapseWorkloadArgs{
		Namespace: args.Namespace, Config: args.Config, Plan: args.Plan, Proc: proc,
		Files: args.Files, SecretChecksum: args.SecretChecksum,
	}, c)
	if err != nil {
		return nil, err
	}
	c.StatefulSet, c.HeadlessService, c.Ready = w.Workload, w.Headless, []pulumi.Resource{w.Workload}
	c.Service = processService(proc)
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"service":   pulumi.String(c.Service.Name),
		"instances": pulumi.Int(len(c.Instances)),
	}); err != nil {
		return nil, err
	}
	return c, nil
}
