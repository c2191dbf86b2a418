package components

import (
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"synapse/config"
	"synapse/plan"
)

// rtcPolicies are the Matrix RTC flows (none without rtc.enabled):
//
//   - anyone → LiveKit's HTTP port (signalling through the Ingress) and its
//     media and TURN ports: clients arrive through a LoadBalancer or a
//     node port from addresses no selector can name, as the ingress
//     controller reaches HAProxy (see networkPolicies);
//   - anyone → the authorization service's HTTP port (the Ingress; LiveKit
//     calls its webhook there too);
//   - LiveKit's pods → LiveKit's Redis (several replicas only), and nothing
//     else reaches that Redis.
//
// Neither workload is let into Synapse, Postgres or Synapse's Redis: the
// authorization service reaches the homeserver through HAProxy's client
// port, open to any pod like the Ingress's.
func rtcPolicies(c *config.Config, p *plan.Plan) []policy {
	if !c.RTC.Enabled {
		return nil
	}
	public := networkingv1.NetworkPolicyIngressRuleArray{rule(nil, named(LiveKitPortHTTP))}
	for _, mp := range liveKitMediaPorts(c.RTC) {
		public = append(public, rule(nil, namedProto(mp.name, mp.protocol)))
	}
	out := []policy{
		{name: plan.LiveKitName, pods: podsOf(LiveKitSelector()), rules: public},
		{name: plan.RTCAuthorizationName, pods: podsOf(RTCAuthorizationSelector()), rules: networkingv1.NetworkPolicyIngressRuleArray{
			rule(nil, named(p.RTCAuthorization().PortName)),
		}},
	}
	if plan.LiveKitNeedsRedis(c) {
		out = append(out, policy{name: plan.LiveKitRedisName, pods: podsOf(Labels(plan.LiveKitRedisName, ComponentRTCRedis)), rules: networkingv1.NetworkPolicyIngressRuleArray{
			rule(peers(podsOf(LiveKitSelector())), named(p.LiveKitRedis().PortName)),
		}})
	}
	return out
}

// namedProto is a container port by name and protocol (UDP media).
func namedProto(port, protocol string) networkingv1.NetworkPolicyPortArgs {
	return networkingv1.NetworkPolicyPortArgs{Port: pulumi.String(port), Protocol: pulumi.String(protocol)}
}
