package components

import (
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"synapse/config"
)

// webFront is what a browser app on a host of its own has around its
// Deployment (Element Web, Element Admin): a ClusterIP Service on port 80
// to the pods' named port, a PodDisruptionBudget with more than one
// replica, and, with ingress.enabled, an Ingress on its host that waits
// for the pods.
type webFront struct {
	Namespace   pulumi.StringInput
	Config      *config.Config
	Name        string // the Service's, the Ingress's and the PDB's name
	Component   string
	PortName    string
	ServicePort int
	Replicas    int
	Host        string
	TLSSecret   string
	Deployment  pulumi.Resource
}

// newWebFront creates the webFront's objects under parent (resource names
// resourceName-service, -pdb, -ingress).
func newWebFront(ctx *pulumi.Context, resourceName string, parent pulumi.Resource, f webFront) (*corev1.Service, *networkingv1.Ingress, error) {
	meta := func() *metav1.ObjectMetaArgs {
		return &metav1.ObjectMetaArgs{Name: pulumi.String(f.Name), Namespace: f.Namespace, Labels: MetaLabels(f.Name, f.Component)}
	}
	selector := Labels(f.Name, f.Component)
	svc, err := corev1.NewService(ctx, resourceName+"-service", &corev1.ServiceArgs{
		Metadata: meta(),
		Spec: &corev1.ServiceSpecArgs{
			Type:     pulumi.String("ClusterIP"),
			Selector: selector,
			Ports: corev1.ServicePortArray{corev1.ServicePortArgs{
				Name: pulumi.String(f.PortName), Port: pulumi.Int(f.ServicePort),
				TargetPort: pulumi.String(f.PortName), Protocol: pulumi.String("TCP"),
			}},
		},
	}, pulumi.Parent(parent))
	if err != nil {
		return nil, nil, err
	}
	if f.Replicas > 1 {
		if _, err := newPDB(ctx, resourceName+"-pdb", meta(), &metav1.LabelSelectorArgs{MatchLabels: selector}, parent); err != nil {
			return nil, nil, err
		}
	}
	if !f.Config.Ingress.Enabled {
		return svc, nil, nil
	}
	ing, err := newOwnHostIngress(ctx, resourceName, parent, f.Namespace, f.Config, f.Name, f.Component, f.Host, f.TLSSecret, f.PortName,
		[]pulumi.Resource{f.Deployment, svc})
	return svc, ing, err
}

// newOwnHostIngress is the Ingress (named name) that sends all of host to
// the Service name's port, with ingress.className, ingress.annotations and
// TLS with tlsSecret; it waits for deps (the pods behind it).
func newOwnHostIngress(ctx *pulumi.Context, resourceName string, parent pulumi.Resource, ns pulumi.StringInput, c *config.Config,
	name, component, host, tlsSecret, port string, deps []pulumi.Resource) (*networkingv1.Ingress, error) {
	return networkingv1.NewIngress(ctx, resourceName+"-ingress", &networkingv1.IngressArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name: pulumi.String(name), Namespace: ns, Labels: MetaLabels(name, component),
			Annotations: pulumi.ToStringMap(c.Ingress.Annotations),
		},
		Spec: ownHostIngressSpec(c, host, tlsSecret, name, port),
	}, pulumi.Parent(parent), pulumi.DependsOn(deps))
}
