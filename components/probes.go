package components

import (
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// httpProbes are the readiness probe (every 5 s, out after 3 failures) and
// the liveness probe (every 10 s, restarted after 6) of a service that
// answers HTTP GET path on its named port: HAProxy, MAS, Element Web,
// Element Admin, LiveKit and the RTC authorization service. Synapse's own
// processes have theirs (healthProbe), with a start-up probe.
func httpProbes(path, port string) (readiness, liveness *corev1.ProbeArgs) {
	probe := func(period, failures int) *corev1.ProbeArgs {
		return &corev1.ProbeArgs{
			HttpGet:          &corev1.HTTPGetActionArgs{Path: pulumi.String(path), Port: pulumi.String(port)},
			PeriodSeconds:    pulumi.Int(period),
			TimeoutSeconds:   pulumi.Int(3),
			FailureThreshold: pulumi.Int(failures),
		}
	}
	return probe(5, 3), probe(10, 6)
}
