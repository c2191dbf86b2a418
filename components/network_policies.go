package components

import (
	"fmt"
	"slices"
	"sort"

	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"synapse/config"
	"synapse/plan"
	"synapse/router"
)

// NetworkPoliciesType is the token of the NetworkPolicies component.
const NetworkPoliciesType = "synapse:index:NetworkPolicies"

// CloudNativePG's fixed ports and labels (not ours to choose): the instance
// manager's status endpoint, which the operator and the other instances
// call, and the metrics exporter.
const (
	CNPGClusterLabel = "cnpg.io/cluster"
	cnpgStatusPort   = 8000
	cnpgMetricsPort  = 9187
)

// minioBucketJobName is the app.kubernetes.io/name of the bucket Job's
// pods. The policies select data plane pods by that label, which each data
// plane component sets to its plan name.
const minioBucketJobName = plan.MinIOName + minioBucketSuffix

// NetworkPoliciesArgs configure the namespace's NetworkPolicies.
type NetworkPoliciesArgs struct {
	Namespace pulumi.StringInput
	Config    *config.Config
	Plan      *plan.Plan
}

// NetworkPolicies isolates the namespace: ingress is denied by default and
// each allowed flow is one policy, named after what it protects.
type NetworkPolicies struct {
	pulumi.ResourceState

	Policies []*networkingv1.NetworkPolicy
}

// policy is one NetworkPolicy before it becomes a resource: the pods it
// protects and the rules that let traffic in.
type policy struct {
	name  string
	pods  *metav1.LabelSelectorArgs
	rules networkingv1.NetworkPolicyIngressRuleArray
}

// NewNetworkPolicies creates a default-deny ingress policy for the namespace
// and then exactly the flows the stack needs:
//
//   - Synapse processes → Postgres and Redis;
//   - media workers → MinIO; MinIO pods ↔ each other; the bucket Job → MinIO;
//     with backups on MinIO, Postgres instances → MinIO;
//   - Synapse processes → the replication port of main and of every
//     instance_map member;
//   - HAProxy → the HTTP port of every process that serves HTTP;
//   - anyone → HAProxy's client port (see below);
//   - anyone → Element Web's http port (with elementWeb.enabled);
//   - anyone → Element Admin's http port (with admin.enabled);
//   - with rtc.enabled, the Matrix RTC flows of rtcPolicies;
//   - the monitoring namespace → metrics ports (with monitoring on);
//   - the CNPG operator namespace → Postgres; Postgres instances ↔ each other;
//   - the state compressor CronJob's pods → Postgres (when enabled).
//
// Egress is not restricted: Synapse's outbound federation and push go to
// arbitrary hosts.
func NewNetworkPolicies(ctx *pulumi.Context, name string, args *NetworkPoliciesArgs, opts ...pulumi.ResourceOption) (*NetworkPolicies, error) {
	if args == nil || args.Config == nil || args.Plan == nil || args.Namespace == nil {
		return nil, fmt.Errorf("components: NetworkPolicies %s: Namespace, Config and Plan are required", name)
	}
	policies, err := networkPolicies(args.Config, args.Plan)
	if err != nil {
		return nil, err
	}
	c := &NetworkPolicies{}
	if err := ctx.RegisterComponentResource(NetworkPoliciesType, name, c, opts...); err != nil {
		return nil, err
	}
	names := pulumi.StringArray{}
	for _, p := range policies {
		np, err := networkingv1.NewNetworkPolicy(ctx, name+"-"+p.name, &networkingv1.NetworkPolicyArgs{
			Metadata: &metav1.ObjectMetaArgs{
				Name: pulumi.String(p.name), Namespace: args.Namespace,
				Labels: pulumi.StringMap{LabelPartOf: pulumi.String(PartOf), LabelManagedBy: pulumi.String("pulumi")},
			},
			Spec: &networkingv1.NetworkPolicySpecArgs{
				PodSelector: p.pods,
				PolicyTypes: pulumi.ToStringArray([]string{"Ingress"}),
				Ingress:     p.rules,
			},
		}, pulumi.Parent(c))
		if err != nil {
			return nil, err
		}
		c.Policies = append(c.Policies, np)
		names = append(names, pulumi.String(p.name))
	}
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"policies": names}); err != nil {
		return nil, err
	}
	return c, nil
}

func networkPolicies(c *config.Config, p *plan.Plan) ([]policy, error) {
	main, ok := p.Process(plan.RoleMain)
	if !ok {
		return nil, fmt.Errorf("components: NetworkPolicies: the plan has no main process")
	}
	synapse := podsOf(pulumi.StringMap{LabelComponent: pulumi.String(ComponentSynapse), LabelPartOf: pulumi.String(PartOf)})
	postgres := podsOf(pulumi.StringMap{CNPGClusterLabel: pulumi.String(plan.PostgresClusterName)})
	haproxy := podsOf(namedPods(plan.HAProxyName))
	var monitoring *metav1.LabelSelectorArgs
	if c.Monitoring.Enabled {
		monitoring = namespaceNamed(c.Monitoring.Namespace)
	}

	pg := p.Postgres()
	pgRules := networkingv1.NetworkPolicyIngressRuleArray{
		rule(peers(synapse), tcp(pg.Port)),
		// The operator calls each instance's status endpoint and connects
		// to Postgres itself (it lives in its own namespace, CNPGNamespace,
		// also when a cluster administrator installed it there).
		rule(networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{NamespaceSelector: namespaceNamed(CNPGNamespace)}},
			tcp(cnpgStatusPort), tcp(pg.Port)),
		// Standbys stream WAL from the primary and instances probe each
		// other's status (CNPG's own jobs carry the cluster label too).
		rule(peers(postgres), tcp(cnpgStatusPort), tcp(pg.Port)),
	}
	if monitoring != nil {
		pgRules = append(pgRules, rule(fromNamespace(monitoring), tcp(cnpgMetricsPort)))
	}
	if c.Maintenance.StateCompression.Enabled {
		// The state compressor (a CronJob) works on Synapse's tables.
		pgRules = append(pgRules, rule(peers(podsOf(namedPods(StateCompressorName))), tcp(pg.Port)))
	}
	// MAS's own database; the syn2mas guard reads Synapse's; the first
	// admin Job runs mas-cli, which writes MAS's.
	var accounts networkingv1.NetworkPolicyPeerArray
	if c.MAS.Enabled {
		accounts = append(accounts, workloadPeer(plan.MASName))
		pgPeers := append(networkingv1.NetworkPolicyPeerArray{}, accounts...)
		if !c.MAS.ExistingUsersMigrated {
			pgPeers = append(pgPeers, workloadPeer(MASGuardName))
		}
		if c.Admin.Username != "" {
			pgPeers = append(pgPeers, workloadPeer(FirstAdminName))
		}
		pgRules = append(pgRules, rule(pgPeers, tcp(pg.Port)))
	}
	if !c.MAS.Enabled && !c.MAS.LeaveAcknowledged {
		// The MAS leave guard reads Synapse's tables.
		pgRules = append(pgRules, rule(peers(podsOf(namedPods(MASLeaveGuardName))), tcp(pg.Port)))
	}
	if c.Admin.Username != "" {
		// The first admin is registered at main (by mas-cli through
		// MAS's Synapse API, or by shared-secret registration).
		accounts = append(accounts, workloadPeer(FirstAdminName))
	}

	redis := p.Redis()
	out := []policy{
		{name: "synapse-default-deny-ingress", pods: &metav1.LabelSelectorArgs{}},
		{name: "synapse-postgres", pods: postgres, rules: pgRules},
		{name: "synapse-redis", pods: podsOf(namedPods(plan.RedisName)), rules: networkingv1.NetworkPolicyIngressRuleArray{
			rule(peers(synapse), tcp(redis.Port)),
		}},
	}

	if c.MinIO.Enabled {
		minio := podsOf(namedPods(plan.MinIOName))
		var s3Clients networkingv1.NetworkPolicyPeerArray
		if media, ok := p.Process(plan.RoleMediaRepository); ok {
			// Only media workers store media; nothing else holds S3 keys.
			s3Clients = append(s3Clients, networkingv1.NetworkPolicyPeerArgs{PodSelector: podsOf(SynapseSelector(media))})
		}
		if c.Postgres.Backup.OnMinIO() {
			// The Barman Cloud plugin's sidecar in each Postgres instance
			// archives WAL and base backups to the backup bucket.
			s3Clients = append(s3Clients, networkingv1.NetworkPolicyPeerArgs{PodSelector: postgres})
		}
		s3Clients = append(s3Clients,
			workloadPeer(minioBucketJobName),
			// Distributed MinIO: every node talks to every other's drives
			// on the same port.
			networkingv1.NetworkPolicyPeerArgs{PodSelector: minio},
		)
		out = append(out, policy{name: "synapse-minio", pods: minio, rules: networkingv1.NetworkPolicyIngressRuleArray{
			rule(s3Clients, tcp(p.MinIO().Port)),
		}})
	}

	// Replication: every Synapse process may call main and the
	// instance_map members (stream writers, event persisters, media-0).
	var replication, http []string
	for _, proc := range p.Processes {
		if proc.InInstanceMap && proc.HasPort(plan.PortNameReplication) {
			replication = append(replication, proc.Name)
		}
		if (proc.ServesHTTP || proc.Role == plan.RoleMain) && proc.HasPort(plan.PortNameHTTP) {
			http = append(http, proc.Name)
		}
	}
	if !slices.Contains(replication, main.Name) {
		return nil, fmt.Errorf("components: NetworkPolicies: main has no %q port", plan.PortNameReplication)
	}
	out = append(out,
		policy{name: "synapse-replication", pods: podsNamed(replication), rules: networkingv1.NetworkPolicyIngressRuleArray{
			rule(peers(synapse), named(plan.PortNameReplication)),
		}},
		// HAProxy routes client and federation traffic to the processes
		// that serve it (main included: it is the default backend).
		policy{name: "synapse-http", pods: podsNamed(http), rules: networkingv1.NetworkPolicyIngressRuleArray{
			rule(peers(haproxy), named(plan.PortNameHTTP)),
		}},
	)

	// The public entrance. No config key names the ingress controller's
	// namespace, and controllers on the host network (or a LoadBalancer
	// Service with externalTrafficPolicy Local) arrive from node or client
	// IPs that no pod or namespace selector matches: so HAProxy's client
	// port is open to any source, and only that port. It forwards only
	// what Synapse serves publicly anyway.
	if len(accounts) > 0 {
		// MAS provisions accounts and checks names at main's HTTP port
		// (matrix.endpoint); the first admin Job registers there.
		out = append(out, policy{name: "synapse-main-accounts", pods: podsNamed([]string{main.Name}), rules: networkingv1.NetworkPolicyIngressRuleArray{
			rule(accounts, named(plan.PortNameHTTP)),
		}})
	}
	if c.MAS.Enabled {
		// MAS's web listener is public (its pages, OAuth, the compat
		// layer through HAProxy, Synapse's token introspection): from any
		// source, as HAProxy's client port. Health and metrics stay in.
		masRules := networkingv1.NetworkPolicyIngressRuleArray{rule(nil, named(plan.PortNameMASWeb))}
		if monitoring != nil {
			masRules = append(masRules, rule(fromNamespace(monitoring), named(plan.PortNameMASInt)))
		}
		out = append(out, policy{name: plan.MASName, pods: podsOf(namedPods(plan.MASName)), rules: masRules})
	}

	haproxyRules := networkingv1.NetworkPolicyIngressRuleArray{rule(nil, named(router.PortNameHTTP))}
	if monitoring != nil {
		haproxyRules = append(haproxyRules, rule(fromNamespace(monitoring), named(router.PortNameStats)))
	}
	out = append(out, policy{name: "synapse-haproxy", pods: haproxy, rules: haproxyRules})

	// Element Web: static files for browsers, reached like HAProxy's client
	// port (and for the same reason, from any source); its pods call
	// nothing (the browser talks to the homeserver), so no other policy
	// names them as a source.
	if c.ElementWeb.Enabled {
		out = append(out, policy{name: ElementWebName, pods: podsOf(namedPods(ElementWebName)), rules: networkingv1.NetworkPolicyIngressRuleArray{
			rule(nil, named(ElementWebPortName)),
		}})
	}
	// Element Admin: the same for the admin console. Its pods call nothing
	// either: the administrator's browser talks to MAS and Synapse.
	if c.Admin.Console {
		out = append(out, policy{name: ElementAdminName, pods: podsOf(namedPods(ElementAdminName)), rules: networkingv1.NetworkPolicyIngressRuleArray{
			rule(nil, named(ElementAdminPortName)),
		}})
	}

	out = append(out, rtcPolicies(c, p)...)

	if monitoring != nil {
		out = append(out, policy{name: "synapse-metrics", pods: synapse, rules: networkingv1.NetworkPolicyIngressRuleArray{
			rule(fromNamespace(monitoring), named(plan.PortNameMetrics)),
		}})
	}
	return out, nil
}

// namedPods selects the pods of one workload of this stack by name.
func namedPods(name string) pulumi.StringMap {
	return pulumi.StringMap{LabelName: pulumi.String(name), LabelPartOf: pulumi.String(PartOf)}
}

// workloadPeer is a peer: the pods of one workload of this stack.
func workloadPeer(name string) networkingv1.NetworkPolicyPeerArgs {
	return networkingv1.NetworkPolicyPeerArgs{PodSelector: podsOf(namedPods(name))}
}

func podsOf(labels pulumi.StringMap) *metav1.LabelSelectorArgs {
	return &metav1.LabelSelectorArgs{MatchLabels: labels}
}

// podsNamed selects the Synapse pools with these names.
func podsNamed(names []string) *metav1.LabelSelectorArgs {
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	return &metav1.LabelSelectorArgs{
		MatchLabels: pulumi.StringMap{LabelComponent: pulumi.String(ComponentSynapse), LabelPartOf: pulumi.String(PartOf)},
		MatchExpressions: metav1.LabelSelectorRequirementArray{metav1.LabelSelectorRequirementArgs{
			Key: pulumi.String(LabelName), Operator: pulumi.String("In"), Values: pulumi.ToStringArray(sorted),
		}},
	}
}

// namespaceNamed selects a namespace by the label the API server sets on
// every namespace.
func namespaceNamed(ns string) *metav1.LabelSelectorArgs {
	return &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"kubernetes.io/metadata.name": pulumi.String(ns)}}
}

func peers(pods *metav1.LabelSelectorArgs) networkingv1.NetworkPolicyPeerArray {
	return networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{PodSelector: pods}}
}

func fromNamespace(ns *metav1.LabelSelectorArgs) networkingv1.NetworkPolicyPeerArray {
	return networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{NamespaceSelector: ns}}
}

// rule lets from (nil: any source) reach ports.
func rule(from networkingv1.NetworkPolicyPeerArray, ports ...networkingv1.NetworkPolicyPortArgs) networkingv1.NetworkPolicyIngressRuleArgs {
	arr := make(networkingv1.NetworkPolicyPortArray, len(ports))
	for i, p := range ports {
		arr[i] = p
	}
	return networkingv1.NetworkPolicyIngressRuleArgs{From: from, Ports: arr}
}

func tcp(port int) networkingv1.NetworkPolicyPortArgs {
	return networkingv1.NetworkPolicyPortArgs{Port: pulumi.Int(port), Protocol: pulumi.String("TCP")}
}

// named is a container port by name: it resolves on each selected pod, so
// the policy follows the plan's port numbers.
func named(port string) networkingv1.NetworkPolicyPortArgs {
	return networkingv1.NetworkPolicyPortArgs{Port: pulumi.String(port), Protocol: pulumi.String("TCP")}
}
