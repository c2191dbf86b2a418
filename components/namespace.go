package components

import (
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// NamespaceArgs configure NewNamespace.
type NamespaceArgs struct {
	// Name is the Kubernetes namespace name (config.Config.Namespace).
	Name string
	// DataProtection keeps the namespace in Kubernetes when Pulumi deletes
	// it (RetainOnDelete). Deleting a namespace deletes everything in it,
	// the CNPG Cluster and the MinIO PVCs included, whatever their own
	// RetainOnDelete says; RetainOnDelete is not inherited from a component,
	// so it goes on the Namespace resource itself.
	DataProtection bool
}

// Namespace is the stack's namespace, labelled so that the API server
// enforces the `restricted` Pod Security Standard on every pod in it.
type Namespace struct {
	pulumi.ResourceState

	// Name is the namespace name as an output: pass it as the namespace of
	// every object, so that each one depends on the namespace.
	Name     pulumi.StringOutput
	Resource *corev1.Namespace
}

// RestrictedNamespaceLabels make the API server enforce (and audit and warn
// on) the `restricted` Pod Security Standard. `enforce-version: latest`
// follows the cluster's own version of the standard.
func RestrictedNamespaceLabels() pulumi.StringMap {
	return pulumi.StringMap{
		"pod-security.kubernetes.io/enforce":         pulumi.String("restricted"),
		"pod-security.kubernetes.io/enforce-version": pulumi.String("latest"),
		"pod-security.kubernetes.io/audit":           pulumi.String("restricted"),
		"pod-security.kubernetes.io/warn":            pulumi.String("restricted"),
	}
}

// NewNamespace creates the namespace.
func NewNamespace(ctx *pulumi.Context, name string, args *NamespaceArgs, opts ...pulumi.ResourceOption) (*Namespace, error) {
	comp := &Namespace{}
	if err := ctx.RegisterComponentResource("synapse:index:Namespace", name, comp, opts...); err != nil {
		return nil, err
	}
	labels := RestrictedNamespaceLabels()
	labels[LabelPartOf] = pulumi.String(PartOf)
	labels[LabelManagedBy] = pulumi.String("pulumi")
	childOpts := []pulumi.ResourceOption{pulumi.Parent(comp)}
	if args.DataProtection {
		childOpts = append(childOpts, pulumi.RetainOnDelete(true))
	}
	ns, err := corev1.NewNamespace(ctx, name+"-namespace", &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:   pulumi.String(args.Name),
			Labels: labels,
		},
	}, childOpts...)
	if err != nil {
		return nil, err
	}
	comp.Resource = ns
	comp.Name = ns.Metadata.Name().Elem()
	if err := ctx.RegisterResourceOutputs(comp, pulumi.Map{"name": comp.Name}); err != nil {
		return nil, err
	}
	return comp, nil
}
