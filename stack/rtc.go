package stack

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"synapse/components"
	"synapse/config"
	"synapse/plan"
)

// deployRTC runs the Matrix RTC backend (with rtc.enabled) in its order:
// LiveKit's Redis (several replicas only) → LiveKit → the authorization
// service (it creates rooms on LiveKit) → the RTC Ingress. It needs
// nothing of Synapse's (the authorization service reaches the homeserver
// only when a client asks for a token), so it starts with the data plane.
// It returns what must be ready before anything advertises the backend:
// HAProxy's /.well-known/matrix/client answer waits for it.
func deployRTC(ctx *pulumi.Context, ns pulumi.StringInput, cfg *config.Config, p *plan.Plan, endpoints pulumi.StringMap) ([]pulumi.Resource, error) {
	if !cfg.RTC.Enabled {
		return nil, nil
	}
	lk, err := components.NewLiveKit(ctx, plan.LiveKitName, &components.LiveKitArgs{Namespace: ns, Config: cfg, Plan: p})
	if err != nil {
		return nil, err
	}
	auth, err := components.NewRTCAuthorization(ctx, plan.RTCAuthorizationName, &components.RTCAuthorizationArgs{
		Namespace: ns, Config: cfg, Plan: p, SecretName: lk.SecretName, SecretChecksum: lk.SecretChecksum,
	}, pulumi.DependsOn(lk.Ready))
	if err != nil {
		return nil, err
	}
	ready := append(append([]pulumi.Resource{}, lk.Ready...), auth.Ready...)
	// config refuses rtc.enabled without ingress.enabled: the Ingress is
	// what the well-known's URL reaches.
	if _, err := components.NewRTCIngress(ctx, plan.RTCIngressName, &components.RTCIngressArgs{
		Namespace: ns, Config: cfg, Plan: p,
	}, pulumi.DependsOn(ready)); err != nil {
		return nil, err
	}
	endpoints[plan.LiveKitName] = endpoint(lk.Service)
	endpoints[plan.RTCAuthorizationName] = endpoint(auth.Service)
	return ready, nil
}
