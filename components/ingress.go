package components

import (
	"fmt"

	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"synapse/config"
	"synapse/plan"
)

// IngressType is the token of the Ingress component.
const IngressType = "synapse:index:Ingress"

// IngressName is the Kubernetes name of the Ingress.
const IngressName = "synapse"

// IngressPaths are the public path prefixes, all sent to HAProxy, which
// routes them per the plan. /_synapse/admin is deliberately absent: the
// admin API is reached with a port-forward, not from the internet.
var IngressPaths = []string{
	"/_matrix",
	"/_synapse/client", // SSO, password reset and consent pages
	// Clients (and, with federation, servers) discover the homeserver here;
	// HAProxy answers with synapseconfig.WellKnown's JSON (/server only with
	// federation on; otherwise main answers 404, as it should).
	"/.well-known/matrix",
}

// IngressArgs configure the Ingress.
type IngressArgs struct {
	Namespace pulumi.StringInput
	Config    *config.Config
	Plan      *plan.Plan
}

// Ingress is the public entrance: the configured host's Matrix paths to
// the HAProxy Service. It answers on ingress.host only; the server-name
// delegation (https://<serverName>/.well-known/matrix/server) is served
// here only when ingress.host is the server name.
type Ingress struct {
	pulumi.ResourceState

	Ingress *networkingv1.Ingress
}

// NewIngress creates the Ingress (call it only with ingress.enabled).
func NewIngress(ctx *pulumi.Context, name string, args *IngressArgs, opts ...pulumi.ResourceOption) (*Ingress, error) {
	if args == nil || args.Config == nil || args.Plan == nil || args.Namespace == nil {
		return nil, fmt.Errorf("components: Ingress %s: Namespace, Config and Plan are required", name)
	}
	ic := args.Config.Ingress
	if !ic.Enabled {
		return nil, fmt.Errorf("components: Ingress %s: ingress.enabled is false; do not create the component", name)
	}
	c := &Ingress{}
	if err := ctx.RegisterComponentResource(IngressType, name, c, opts...); err != nil {
		return nil, err
	}
	svc := args.Plan.HAProxy()
	paths := networkingv1.HTTPIngressPathArray{}
	for _, p := range IngressPaths {
		paths = append(paths, ingressPath(p, "Prefix", svc.Name, svc.PortName))
	}
	spec := ingressSpec(args.Config, ic.Host, ic.TLSSecretName, paths)
	var err error
	c.Ingress, err = networkingv1.NewIngress(ctx, name+"-ingress", &networkingv1.IngressArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name: pulumi.String(IngressName), Namespace: args.Namespace,
			Labels:      MetaLabels(IngressName, ComponentRouter),
			Annotations: pulumi.ToStringMap(ic.Annotations),
		},
		Spec: spec,
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"host": pulumi.String(ic.Host)}); err != nil {
		return nil, err
	}
	return c, nil
}

// ownHostIngressSpec sends all of host to a Service's named port:
// Element Web, MAS and the admin console each have a host of their own,
// not HAProxy's.
func ownHostIngressSpec(c *config.Config, host, tlsSecret, service, port string) *networkingv1.IngressSpecArgs {
	return ingressSpec(c, host, tlsSecret, networkingv1.HTTPIngressPathArray{ingressPath("/", "Prefix", service, port)})
}

// ingressSpec is one host's rule with these paths, ingress.className and,
// with tlsSecret, TLS for the host: every Ingress of the stack.
func ingressSpec(c *config.Config, host, tlsSecret string, paths networkingv1.HTTPIngressPathArray) *networkingv1.IngressSpecArgs {
	spec := &networkingv1.IngressSpecArgs{
		Rules: networkingv1.IngressRuleArray{networkingv1.IngressRuleArgs{
			Host: pulumi.String(host),
			Http: &networkingv1.HTTPIngressRuleValueArgs{Paths: paths},
		}},
	}
	if c.Ingress.ClassName != "" {
		spec.IngressClassName = pulumi.String(c.Ingress.ClassName)
	}
	if tlsSecret != "" {
		spec.Tls = networkingv1.IngressTLSArray{networkingv1.IngressTLSArgs{
			Hosts: pulumi.ToStringArray([]string{host}), SecretName: pulumi.String(tlsSecret),
		}}
	}
	return spec
}

// ingressPath sends path (of pathType) to a Service's named port.
func ingressPath(path, pathType, service, port string) networkingv1.HTTPIngressPathArgs {
	return networkingv1.HTTPIngressPathArgs{
		Path:     pulumi.String(path),
		PathType: pulumi.String(pathType),
		Backend: networkingv1.IngressBackendArgs{Service: &networkingv1.IngressServiceBackendArgs{
			Name: pulumi.String(service),
			Port: &networkingv1.ServiceBackendPortArgs{Name: pulumi.String(port)},
		}},
	}
}
