package components

import (
	"fmt"

	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"synapse/config"
	"synapse/plan"
)

// RTCIngressType is the token of the RTC Ingress component.
const RTCIngressType = "synapse:index:RTCIngress"

// RTCAuthorizationPaths are the authorization service's public endpoints
// (lk-jwt-service's mux): tokens (MSC4195's /get_token, the legacy
// /sfu/get), delegated delayed leave, and /healthz for operators. Its
// /sfu_webhook is for LiveKit only and stays in-cluster. Everything else
// on rtc.host is LiveKit's (signalling at /rtc, its Twirp API).
var RTCAuthorizationPaths = []string{"/get_token", "/sfu/get", "/delegate_delayed_leave", "/healthz"}

// RTCIngressArgs configure the RTC Ingress.
type RTCIngressArgs struct {
	Namespace pulumi.StringInput
	Config    *config.Config
	Plan      *plan.Plan
}

// RTCIngress is rtc.host: the authorization service's paths and LiveKit at
// the root, the URLs the well-known answer and matrix_rtc.transports give
// (synapseconfig.RTCServiceURL) and the one the service gives clients
// (synapseconfig.LiveKitURL).
type RTCIngress struct {
	pulumi.ResourceState

	Ingress *networkingv1.Ingress
}

// NewRTCIngress creates the Ingress (with rtc.enabled and ingress.enabled;
// give it DependsOn LiveKit's and the authorization service's Ready).
func NewRTCIngress(ctx *pulumi.Context, name string, args *RTCIngressArgs, opts ...pulumi.ResourceOption) (*RTCIngress, error) {
	if args == nil || args.Config == nil || args.Plan == nil || args.Namespace == nil {
		return nil, fmt.Errorf("components: RTCIngress %s: Namespace, Config and Plan are required", name)
	}
	if !args.Config.RTC.Enabled || !args.Config.Ingress.Enabled {
		return nil, fmt.Errorf("components: RTCIngress %s: needs rtc.enabled and ingress.enabled", name)
	}
	c := &RTCIngress{}
	if err := ctx.RegisterComponentResource(RTCIngressType, name, c, opts...); err != nil {
		return nil, err
	}
	var err error
	c.Ingress, err = networkingv1.NewIngress(ctx, name+"-ingress", &networkingv1.IngressArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name: pulumi.String(plan.RTCIngressName), Namespace: args.Namespace,
			Labels:      MetaLabels(plan.RTCIngressName, ComponentRTC),
			Annotations: pulumi.ToStringMap(args.Config.Ingress.Annotations),
		},
		Spec: rtcIngressSpec(args.Config, args.Plan),
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"host": pulumi.String(args.Config.RTC.Host)}); err != nil {
		return nil, err
	}
	return c, nil
}

func rtcIngressSpec(c *config.Config, p *plan.Plan) *networkingv1.IngressSpecArgs {
	auth, lk := p.RTCAuthorization(), p.LiveKit()
	var paths networkingv1.HTTPIngressPathArray
	for _, path := range RTCAuthorizationPaths {
		paths = append(paths, ingressPath(path, "Exact", auth.Name, auth.PortName))
	}
	paths = append(paths, ingressPath("/", "Prefix", lk.Name, lk.PortName))
	return ingressSpec(c, c.RTC.Host, c.RTC.TLSSecretName, paths)
}
