package tests

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"synapse/components"
	"synapse/config"
	"synapse/internal/mockstack"
	"synapse/plan"
	"synapse/router"
)

// This file evaluates the recorded NetworkPolicies the way the API server's
// network plugin does, against the pods the stack runs (the pod templates of
// every workload, plus the pods that others create: CNPG's instances, the
// operator, Prometheus, an ingress controller, kube-dns, and an intruder),
// and checks a table of the flows the design needs and of flows it must
// not allow.

// Facts of CloudNativePG's instance pods (not ours to choose): the labels it
// sets and its container ports.
const (
	cnpgPortPostgres = "postgresql"
	cnpgPortStatus   = "status"
	cnpgPortMetrics  = "metrics"
)

// netPort is a container port (or, for a port no container declares, just
// a number and protocol).
type netPort struct {
	Name     string
	Port     int
	Protocol string
}

func (p netPort) String() string {
	if p.Name != "" {
		return fmt.Sprintf("%s (%d/%s)", p.Name, p.Port, p.Protocol)
	}
	return fmt.Sprintf("%d/%s", p.Port, p.Protocol)
}

// netPod is one pod as NetworkPolicies see it.
type netPod struct {
	Name      string // for messages
	Namespace string
	Labels    map[string]string
	Ports     []netPort
}

func (p netPod) port(name string) (netPort, bool) {
	for _, x := range p.Ports {
		if x.Name == name {
			return x, true
		}
	}
	return netPort{}, false
}

// netPolicy is a recorded NetworkPolicy.
type netPolicy struct {
	Name, Namespace string
	Spec            map[string]any
}

// network is the policies and namespaces of one recording.
type network struct {
	t          testing.TB
	policies   []netPolicy
	namespaces map[string]map[string]string // recorded namespace → its labels
}

func newNetwork(t testing.TB, s *mockstack.Stack) *network {
	n := &network{t: t, namespaces: map[string]map[string]string{}}
	for _, r := range s.ByType("kubernetes:core/v1:Namespace") {
		n.namespaces[metaName(r)] = stringMap(dig(r.Inputs, "metadata", "labels"))
	}
	for _, r := range s.ByType(tNetworkPolicy) {
		ns := digString(r.Inputs, "metadata", "namespace")
		require.NotEmpty(t, ns, "NetworkPolicy %s has no namespace", metaName(r))
		n.policies = append(n.policies, netPolicy{Name: metaName(r), Namespace: ns, Spec: digMap(r.Inputs, "spec")})
	}
	return n
}

// nsLabels are a namespace's labels, with the one the API server sets on
// every namespace.
func (n *network) nsLabels(ns string) map[string]string {
	out := map[string]string{"kubernetes.io/metadata.name": ns}
	for k, v := range n.namespaces[ns] {
		out[k] = v
	}
	return out
}

// policyTypes as the API server defaults them: Ingress always, Egress when
// the policy has egress rules.
func policyTypes(spec map[string]any) []string {
	var out []string
	for _, x := range digList(spec, "policyTypes") {
		out = append(out, x.(string))
	}
	if len(out) == 0 {
		out = []string{"Ingress"}
		if len(digList(spec, "egress")) > 0 {
			out = append(out, "Egress")
		}
	}
	return out
}

// allowed answers whether from may open a connection to port on to:
// to's ingress and from's egress must both allow it (a direction no policy
// isolates allows everything). why explains a denial.
func (n *network) allowed(from, to netPod, port netPort) (ok bool, why string) {
	in, inWhy := n.direction(to, "Ingress", "ingress", "from", from, to, port)
	out, outWhy := n.direction(from, "Egress", "egress", "to", to, to, port)
	switch {
	case !in:
		return false, inWhy
	case !out:
		return false, outWhy
	}
	return true, inWhy + "; " + outWhy
}

// direction evaluates the policies that select subject for one policy
// type: isolated pods accept (or send) only what some rule allows. peer is
// the other end; dest is the pod whose named ports a rule's ports resolve on.
func (n *network) direction(subject netPod, typ, rulesKey, peersKey string, peer, dest netPod, port netPort) (bool, string) {
	var isolating []string
	for _, pol := range n.policies {
		if pol.Namespace != subject.Namespace || !slices.Contains(policyTypes(pol.Spec), typ) {
			continue
		}
		// podSelector {} selects every pod of the namespace.
		if !selectsExpr(digMap(pol.Spec, "podSelector"), subject.Labels) {
			continue
		}
		isolating = append(isolating, pol.Name)
		for _, r := range digList(pol.Spec, rulesKey) {
			rule, _ := r.(map[string]any)
			if n.peersMatch(pol, digList(rule, peersKey), peer) && portsMatch(digList(rule, "ports"), dest, port) {
				return true, fmt.Sprintf("%s allowed by %s", strings.ToLower(typ), pol.Name)
			}
		}
	}
	if len(isolating) == 0 {
		return true, strings.ToLower(typ) + " not isolated"
	}
	return false, fmt.Sprintf("%s of %s isolated by %v, no rule matches", strings.ToLower(typ), subject.Name, isolating)
}

// peersMatch: an empty peer list matches every source or destination.
func (n *network) peersMatch(pol netPolicy, peers []any, pod netPod) bool {
	if len(peers) == 0 {
		return true
	}
	for _, x := range peers {
		peer, _ := x.(map[string]any)
		if _, ok := peer["ipBlock"]; ok {
			n.t.Fatalf("%s: ipBlock peers are not modelled by this evaluator; extend it", pol.Name)
		}
		podSel, hasPod := peer["podSelector"].(map[string]any)
		nsSel, hasNS := peer["namespaceSelector"].(map[string]any)
		switch {
		case !hasPod && !hasNS:
			n.t.Fatalf("%s: a peer with neither podSelector nor namespaceSelector: %v", pol.Name, peer)
		case !hasNS:
			// A podSelector alone selects pods of the policy's namespace.
			if pod.Namespace == pol.Namespace && selectsExpr(podSel, pod.Labels) {
				return true
			}
		default:
			if selectsExpr(nsSel, n.nsLabels(pod.Namespace)) && (!hasPod || selectsExpr(podSel, pod.Labels)) {
				return true
			}
		}
	}
	return false
}

// portsMatch: an empty list matches every port; a named port resolves on
// the destination pod's containers.
func portsMatch(ports []any, dest netPod, port netPort) bool {
	if len(ports) == 0 {
		return true
	}
	for _, x := range ports {
		proto := digString(x, "protocol")
		if proto == "" {
			proto = "TCP"
		}
		if proto != port.Protocol {
			continue
		}
		switch p := dig(x, "port").(type) {
		case nil:
			return true
		case float64:
			end, hasEnd := dig(x, "endPort").(float64)
			if int(p) == port.Port || (hasEnd && int(p) <= port.Port && port.Port <= int(end)) {
				return true
			}
		case string:
			if named, ok := dest.port(p); ok && named.Protocol == proto && named.Port == port.Port {
				return true
			}
		}
	}
	return false
}

// netWorld is every pod of one stack, sorted into the roles the flow table
// names.
type netWorld struct {
	net   *network
	roles map[string][]netPod
	all   []netPod // every pod of the stack's namespace (recorded and CNPG's)
}

// Role names of the flow table.
const (
	roleSynapse      = "every Synapse process"
	roleNonMedia     = "Synapse processes but media workers"
	roleMedia        = "media workers"
	roleReplication  = "instance_map members (main, stream writers, event persisters)"
	roleBackends     = "haproxy.cfg servers"
	roleHAProxy      = "HAProxy"
	roleElementWeb   = "Element Web"
	roleElementAdmin = "Element Admin"
	roleMAS          = "MAS"
	roleMASGuard     = "syn2mas guard Job"
	roleLeaveGuard   = "MAS leave guard Job"
	roleFirstAdmin   = "first admin Job"
	roleMain         = "Synapse main"
	roleRedis        = "Redis"
	rolePostgres     = "Postgres instances (CNPG)"
	roleMinIO        = "MinIO"
	roleBucketJob    = "MinIO bucket Job"
	roleConfigCheck  = "config-check Job"
	roleCompressor   = "state compressor CronJob"
	roleOperator     = "CNPG operator"
	rolePrometheus   = "Prometheus"
	roleIngress      = "ingress controller"
	roleIntruder     = "any pod in the namespace"
	roleOutsider     = "a pod of another namespace"
	roleDNS          = "kube-dns"
	roleEveryPod     = "every pod of the stack"
	roleLiveKit      = "LiveKit"
	roleRTCAuth      = "MatrixRTC authorization service"
	roleLiveKitRedis = "LiveKit's Redis"
	ingressNamespace = "ingress-nginx"
)

// podOf is the pod a recorded pod template makes.
func podOf(w workload) netPod {
	ns := digString(w.R.Inputs, "metadata", "namespace")
	if ns == "" {
		ns = digString(w.R.Outputs, "metadata", "namespace")
	}
	pod := netPod{Name: w.Kind + " " + w.Name, Namespace: ns, Labels: w.PodLabels}
	for _, c := range w.containers() {
		for _, p := range digList(c, "ports") {
			n, _ := dig(p, "containerPort").(float64)
			proto := digString(p, "protocol")
			if proto == "" {
				proto = "TCP"
			}
			pod.Ports = append(pod.Ports, netPort{Name: digString(p, "name"), Port: int(n), Protocol: proto})
		}
	}
	return pod
}

// serverHost matches a pod's stable name in haproxy.cfg and instance_map:
// <pod>.<headless service>.<namespace>.svc.cluster.local[:port].
// serverHost is a pod's stable name (<pod>.<service>.<ns>) or a Service's
// (<service>.<ns>); group 2 is the Service either way.
var serverHost = regexp.MustCompile(`\b(?:([a-z0-9-]+)\.)?([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.cluster\.local(?::(\d+))?`)

func buildNetWorld(t *testing.T, s *mockstack.Stack, p *plan.Plan, cfg *config.Config) *netWorld {
	t.Helper()
	w := &netWorld{net: newNetwork(t, s), roles: map[string][]netPod{}}
	byName := map[string]netPod{}
	var recorded []workload
	for _, wl := range workloads(s) {
		pod := podOf(wl)
		require.Equal(t, cfg.Namespace, pod.Namespace, "%s", pod.Name)
		byName[wl.Name] = pod
		recorded = append(recorded, wl)
		w.all = append(w.all, pod)
	}
	add := func(role string, pods ...netPod) { w.roles[role] = append(w.roles[role], pods...) }
	// The pods a Service selects: how a name in a config becomes pods.
	serviceTarget := func(svcName string) netPod {
		t.Helper()
		svc := byMetaName(t, s, tService, svcName)
		sel := stringMap(dig(svc.Inputs, "spec", "selector"))
		var found []netPod
		for _, wl := range recorded {
			if selects(sel, wl.PodLabels) {
				found = append(found, byName[wl.Name])
			}
		}
		require.Len(t, found, 1, "Service %s selects one workload", svcName)
		return found[0]
	}

	for _, proc := range p.Processes {
		pod, ok := byName[proc.Name]
		require.True(t, ok, "no workload for process %s", proc.Name)
		add(roleSynapse, pod)
		if proc.Role == plan.RoleMediaRepository {
			add(roleMedia, pod)
		} else {
			add(roleNonMedia, pod)
		}
	}
	// instance_map hosts: the replication listeners every process calls.
	for _, e := range p.InstanceMap {
		m := serverHost.FindStringSubmatch(e.Host)
		require.NotNil(t, m, "instance_map %s: host %s", e.Name, e.Host)
		pod := serviceTarget(m[2])
		rp, ok := pod.port(plan.PortNameReplication)
		require.True(t, ok, "instance_map %s: %s has no %q port", e.Name, pod.Name, plan.PortNameReplication)
		require.Equal(t, e.Port, rp.Port, "instance_map %s: port", e.Name)
		if !containsPod(w.roles[roleReplication], pod) {
			add(roleReplication, pod)
		}
	}
	// HAProxy's servers, read from the rendered haproxy.cfg.
	cm := byBaseName(t, s, tConfigMap, plan.HAProxyConfigMapName)
	for _, line := range strings.Split(digString(cm.Inputs, "data", router.ConfigFileName), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || (f[0] != "server" && f[0] != "server-template") {
			continue
		}
		m := serverHost.FindStringSubmatch(line)
		require.NotNil(t, m, "haproxy.cfg: a server that is no pod of the stack: %s", line)
		pod := serviceTarget(m[2])
		hp, ok := pod.port(plan.PortNameHTTP)
		require.True(t, ok, "haproxy.cfg server %s: %s has no %q port", m[0], pod.Name, plan.PortNameHTTP)
		if m[1] == "" {
			// A Service's name (MAS, the web apps): the line names the
			// Service's port, which reaches the pods' http port. These
			// are public services of their own (their hosts on the
			// Ingress), not Synapse backends only HAProxy may reach.
			svc := byMetaName(t, s, tService, m[2])
			var port string
			for _, sp := range digList(svc.Inputs, "spec", "ports") {
				if digString(sp, "targetPort") == plan.PortNameHTTP {
					port = strconv.Itoa(int(dig(sp, "port").(float64)))
				}
			}
			require.Equal(t, port, m[4], "haproxy.cfg server %s: the Service's port to the pods' http port", m[0])
			if m[2] == plan.MASName {
				add(roleMAS, pod)
			}
			continue
		}
		require.Equal(t, strconv.Itoa(hp.Port), m[4], "haproxy.cfg server %s: port", m[0])
		if !containsPod(w.roles[roleBackends], pod) {
			add(roleBackends, pod)
		}
	}
	require.NotEmpty(t, w.roles[roleBackends], "haproxy.cfg names no servers")

	add(roleHAProxy, serviceTarget(p.HAProxy().Name))
	add(roleMain, byName[p.Main().Name])
	if cfg.ElementWeb.Enabled {
		add(roleElementWeb, serviceTarget(components.ElementWebName))
	}
	if cfg.Admin.Console {
		add(roleElementAdmin, serviceTarget(components.ElementAdminName))
	}
	add(roleRedis, serviceTarget(p.Redis().Name))
	if cfg.RTC.Enabled {
		add(roleLiveKit, serviceTarget(plan.LiveKitName))
		add(roleRTCAuth, serviceTarget(plan.RTCAuthorizationName))
	}
	if plan.LiveKitNeedsRedis(cfg) {
		add(roleLiveKitRedis, serviceTarget(plan.LiveKitRedisName))
	}
	if cfg.MinIO.Enabled {
		add(roleMinIO, serviceTarget(p.MinIO().Name))
	}
	for _, wl := range recorded {
		switch wl.PodLabels[components.LabelName] {
		case plan.MinIOName + "-bucket":
			add(roleBucketJob, byName[wl.Name])
		case "synapse-config-check":
			add(roleConfigCheck, byName[wl.Name])
		case components.StateCompressorName:
			add(roleCompressor, byName[wl.Name])
		case components.MASGuardName:
			add(roleMASGuard, byName[wl.Name])
		case components.MASLeaveGuardName:
			add(roleLeaveGuard, byName[wl.Name])
		case components.FirstAdminName:
			add(roleFirstAdmin, byName[wl.Name])
		}
	}
	require.Len(t, w.roles[roleConfigCheck], 1, "the config-check Job")

	// CNPG's instance pods, as the operator labels them.
	cluster := byMetaName(t, s, tCluster, plan.PostgresClusterName)
	instances, _ := dig(cluster.Inputs, "spec", "instances").(float64)
	require.Positive(t, instances)
	for i := 1; i <= int(instances); i++ {
		role := "replica"
		if i == 1 {
			role = "primary"
		}
		pod := netPod{
			Name: fmt.Sprintf("CNPG pod %s-%d", metaName(cluster), i), Namespace: cfg.Namespace,
			Labels: map[string]string{
				components.CNPGClusterLabel: metaName(cluster), "cnpg.io/instanceName": fmt.Sprintf("%s-%d", metaName(cluster), i),
				"cnpg.io/podRole": "instance", "cnpg.io/instanceRole": role, "role": role,
			},
			Ports: []netPort{
				{cnpgPortPostgres, p.Postgres().Port, "TCP"}, {cnpgPortStatus, 8000, "TCP"}, {cnpgPortMetrics, 9187, "TCP"},
			},
		}
		add(rolePostgres, pod)
		w.all = append(w.all, pod)
	}
	add(roleOperator, netPod{Name: "CNPG operator", Namespace: config.CNPGOperatorNamespace,
		Labels: map[string]string{components.LabelName: "cloudnative-pg"}})
	promNS := "monitoring"
	if cfg.Monitoring.Enabled {
		promNS = cfg.Monitoring.Namespace
	}
	add(rolePrometheus, netPod{Name: "Prometheus", Namespace: promNS, Labels: map[string]string{components.LabelName: "prometheus"}})
	add(roleIngress, netPod{Name: "ingress controller", Namespace: ingressNamespace, Labels: map[string]string{components.LabelName: "ingress-nginx"}})
	add(roleIntruder, netPod{Name: "intruder", Namespace: cfg.Namespace, Labels: map[string]string{"app": "intruder"}})
	add(roleOutsider, netPod{Name: "outsider", Namespace: "default", Labels: map[string]string{"app": "outsider"}})
	add(roleDNS, netPod{Name: "kube-dns", Namespace: "kube-system", Labels: map[string]string{"k8s-app": "kube-dns"},
		Ports: []netPort{{"dns", 53, "UDP"}, {"dns-tcp", 53, "TCP"}}})
	add(roleEveryPod, w.all...)
	return w
}

func containsPod(l []netPod, p netPod) bool {
	for _, x := range l {
		if x.Name == p.Name {
			return true
		}
	}
	return false
}

// netFlow is one row of the flow table: from every pod of one role to every
// pod of another, on a port named on the destination pods.
type netFlow struct {
	from, to, port string
	when           string // "" always; "minio", "monitoring": only with that on
	allow          bool
}

// neededFlows are what the components need (see the comment of
// components.NewNetworkPolicies, and who connects to what in the config
// they render).
var neededFlows = []netFlow{
	// homeserver.yaml: redis and database of every process.
	{from: roleSynapse, to: roleRedis, port: "redis"},
	{from: roleSynapse, to: rolePostgres, port: cnpgPortPostgres},
	// instance_map: HTTP replication to main and every stream writer.
	{from: roleSynapse, to: roleReplication, port: plan.PortNameReplication},
	// haproxy.cfg: every server on its HTTP listener.
	{from: roleHAProxy, to: roleBackends, port: plan.PortNameHTTP},
	// The public entrance: the ingress controller (or anything) → HAProxy.
	{from: roleIngress, to: roleHAProxy, port: router.PortNameHTTP},
	{from: roleIntruder, to: roleHAProxy, port: router.PortNameHTTP},
	{from: roleOutsider, to: roleHAProxy, port: router.PortNameHTTP},
	// Element Web's static files, to browsers, like HAProxy's client port.
	{from: roleIngress, to: roleElementWeb, port: components.ElementWebPortName, when: "element-web"},
	{from: roleIntruder, to: roleElementWeb, port: components.ElementWebPortName, when: "element-web"},
	{from: roleOutsider, to: roleElementWeb, port: components.ElementWebPortName, when: "element-web"},
	// Element Admin's single-page app, the same way.
	{from: roleIngress, to: roleElementAdmin, port: components.ElementAdminPortName, when: "element-admin"},
	{from: roleIntruder, to: roleElementAdmin, port: components.ElementAdminPortName, when: "element-admin"},
	{from: roleOutsider, to: roleElementAdmin, port: components.ElementAdminPortName, when: "element-admin"},
	// MAS: public like HAProxy's client port (its pages, OAuth and the
	// compatibility layer), called by HAProxy and by every Synapse process
	// (token introspection); it calls Postgres (its database) and main
	// (provisioning). The guard reads Synapse's database; the first admin
	// Job runs mas-cli (MAS's database, main).
	{from: roleIngress, to: roleMAS, port: plan.PortNameMASWeb, when: "mas"},
	{from: roleOutsider, to: roleMAS, port: plan.PortNameMASWeb, when: "mas"},
	{from: roleHAProxy, to: roleMAS, port: plan.PortNameMASWeb, when: "mas"},
	{from: roleSynapse, to: roleMAS, port: plan.PortNameMASWeb, when: "mas"},
	{from: roleMAS, to: rolePostgres, port: cnpgPortPostgres, when: "mas"},
	{from: roleMAS, to: roleMain, port: plan.PortNameHTTP, when: "mas"},
	{from: roleMASGuard, to: rolePostgres, port: cnpgPortPostgres, when: "mas-guard"},
	{from: roleLeaveGuard, to: rolePostgres, port: cnpgPortPostgres, when: "leave-guard"},
	{from: roleFirstAdmin, to: rolePostgres, port: cnpgPortPostgres, when: "mas+first-admin"},
	{from: roleFirstAdmin, to: roleMain, port: plan.PortNameHTTP, when: "first-admin"},
	// S3: media workers, the bucket Job and distributed MinIO itself.
	{from: roleMedia, to: roleMinIO, port: "s3", when: "minio"},
	{from: roleBucketJob, to: roleMinIO, port: "s3", when: "minio"},
	{from: roleMinIO, to: roleMinIO, port: "s3", when: "minio"},
	// Backups on MinIO: the Barman Cloud sidecar in each Postgres instance.
	{from: rolePostgres, to: roleMinIO, port: "s3", when: "backup-on-minio"},
	// The state compressor works on Synapse's tables.
	{from: roleCompressor, to: rolePostgres, port: cnpgPortPostgres, when: "compressor"},
	// CNPG: replication between instances, the operator's status calls.
	{from: rolePostgres, to: rolePostgres, port: cnpgPortPostgres},
	{from: rolePostgres, to: rolePostgres, port: cnpgPortStatus},
	{from: roleOperator, to: rolePostgres, port: cnpgPortStatus},
	{from: roleOperator, to: rolePostgres, port: cnpgPortPostgres},
	// Monitoring: the PodMonitor of the Cluster (ServiceMonitors are
	// added per monitor by monitorFlows).
	{from: rolePrometheus, to: rolePostgres, port: cnpgPortMetrics, when: "monitoring"},
	// Matrix RTC: clients reach LiveKit's signalling (through the
	// Ingress) and media and TURN ports (through a LoadBalancer or node
	// ports, from any address) and the authorization service (the
	// Ingress); LiveKit calls the service's webhook; the service calls
	// the homeserver through HAProxy; LiveKit replicas share Redis.
	{from: roleIngress, to: roleLiveKit, port: components.LiveKitPortHTTP, when: "rtc"},
	{from: roleOutsider, to: roleLiveKit, port: components.LiveKitPortHTTP, when: "rtc"},
	{from: roleOutsider, to: roleLiveKit, port: components.LiveKitPortRTCTCP, when: "rtc"},
	{from: roleOutsider, to: roleLiveKit, port: components.LiveKitPortRTCUDP, when: "rtc"},
	{from: roleOutsider, to: roleLiveKit, port: components.LiveKitPortTURNUDP, when: "turn"},
	{from: roleOutsider, to: roleLiveKit, port: components.LiveKitPortTURNTLS, when: "turn-tls"},
	{from: roleIngress, to: roleRTCAuth, port: "http", when: "rtc"},
	{from: roleLiveKit, to: roleRTCAuth, port: "http", when: "rtc"},
	{from: roleRTCAuth, to: roleHAProxy, port: router.PortNameHTTP, when: "rtc"},
	{from: roleLiveKit, to: roleLiveKitRedis, port: "redis", when: "rtc-redis"},
	// DNS: every pod resolves names (HAProxy resolves its servers).
	{from: roleEveryPod, to: roleDNS, port: "dns"},
	{from: roleEveryPod, to: roleDNS, port: "dns-tcp"},
}

// deniedFlows must stay closed.
var deniedFlows = []netFlow{
	{from: roleHAProxy, to: rolePostgres, port: cnpgPortPostgres},
	{from: roleHAProxy, to: roleRedis, port: "redis"},
	{from: roleHAProxy, to: roleReplication, port: plan.PortNameReplication},
	{from: roleHAProxy, to: roleMinIO, port: "s3", when: "minio"},
	{from: roleRedis, to: rolePostgres, port: cnpgPortPostgres},
	{from: roleMinIO, to: roleSynapse, port: plan.PortNameHTTP, when: "minio"},
	{from: roleMinIO, to: roleReplication, port: plan.PortNameReplication, when: "minio"},
	{from: roleMinIO, to: rolePostgres, port: cnpgPortPostgres, when: "minio"},
	// Only media workers hold S3 keys (and Postgres, with backups there).
	{from: roleNonMedia, to: roleMinIO, port: "s3", when: "minio"},
	{from: rolePostgres, to: roleMinIO, port: "s3", when: "minio-without-backups"},
	{from: roleBucketJob, to: rolePostgres, port: cnpgPortPostgres, when: "minio"},
	{from: roleConfigCheck, to: rolePostgres, port: cnpgPortPostgres},
	{from: roleConfigCheck, to: roleRedis, port: "redis"},
	{from: roleConfigCheck, to: roleReplication, port: plan.PortNameReplication},
	// The compressor needs Postgres only.
	{from: roleCompressor, to: roleRedis, port: "redis", when: "compressor"},
	{from: roleCompressor, to: roleReplication, port: plan.PortNameReplication, when: "compressor"},
	{from: roleCompressor, to: roleBackends, port: plan.PortNameHTTP, when: "compressor"},
	{from: roleCompressor, to: roleMinIO, port: "s3", when: "compressor+minio"},
	// Clients reach Synapse only through HAProxy.
	{from: roleIngress, to: roleSynapse, port: plan.PortNameHTTP},
	{from: roleIngress, to: roleHAProxy, port: router.PortNameStats},
	{from: rolePrometheus, to: roleRedis, port: "redis"},
	{from: rolePrometheus, to: roleSynapse, port: plan.PortNameHTTP},
	{from: rolePrometheus, to: roleReplication, port: plan.PortNameReplication},
	{from: roleOperator, to: roleRedis, port: "redis"},
	{from: roleOperator, to: roleSynapse, port: plan.PortNameHTTP},
	// Element Web's pods call nothing (the browser does): no policy lets
	// them into the data plane, Synapse or HAProxy's stats.
	{from: roleElementWeb, to: rolePostgres, port: cnpgPortPostgres, when: "element-web"},
	{from: roleElementWeb, to: roleRedis, port: "redis", when: "element-web"},
	{from: roleElementWeb, to: roleReplication, port: plan.PortNameReplication, when: "element-web"},
	{from: roleElementWeb, to: roleSynapse, port: plan.PortNameHTTP, when: "element-web"},
	{from: roleElementWeb, to: roleHAProxy, port: router.PortNameStats, when: "element-web"},
	{from: roleElementWeb, to: roleMinIO, port: "s3", when: "element-web+minio"},
	// MAS holds no key to Redis, replication, S3 or the workers, and its
	// health and metrics listener is not public.
	{from: roleMAS, to: roleRedis, port: "redis", when: "mas"},
	{from: roleMAS, to: roleReplication, port: plan.PortNameReplication, when: "mas"},
	{from: roleMAS, to: roleMinIO, port: "s3", when: "mas+minio"},
	{from: roleIntruder, to: roleMAS, port: plan.PortNameMASInt, when: "mas"},
	{from: roleMASGuard, to: roleSynapse, port: plan.PortNameHTTP, when: "mas-guard"},
	{from: roleLeaveGuard, to: roleSynapse, port: plan.PortNameHTTP, when: "leave-guard"},
	{from: roleLeaveGuard, to: roleRedis, port: "redis", when: "leave-guard"},
	{from: roleFirstAdmin, to: roleRedis, port: "redis", when: "first-admin"},
	{from: roleIntruder, to: roleMain, port: plan.PortNameHTTP},
	// Nor Element Admin's: the administrator's browser calls MAS and
	// Synapse.
	{from: roleElementAdmin, to: rolePostgres, port: cnpgPortPostgres, when: "element-admin"},
	{from: roleElementAdmin, to: roleRedis, port: "redis", when: "element-admin"},
	{from: roleElementAdmin, to: roleReplication, port: plan.PortNameReplication, when: "element-admin"},
	{from: roleElementAdmin, to: roleSynapse, port: plan.PortNameHTTP, when: "element-admin"},
	{from: roleElementAdmin, to: roleHAProxy, port: router.PortNameStats, when: "element-admin"},
	{from: roleElementAdmin, to: roleMinIO, port: "s3", when: "element-admin+minio"},
	// The RTC workloads face the internet: no policy lets them into the
	// data plane or Synapse; only LiveKit reaches LiveKit's Redis.
	{from: roleLiveKit, to: rolePostgres, port: cnpgPortPostgres, when: "rtc"},
	{from: roleLiveKit, to: roleRedis, port: "redis", when: "rtc"},
	{from: roleLiveKit, to: roleReplication, port: plan.PortNameReplication, when: "rtc"},
	{from: roleLiveKit, to: roleSynapse, port: plan.PortNameHTTP, when: "rtc"},
	{from: roleLiveKit, to: roleMinIO, port: "s3", when: "rtc+minio"},
	{from: roleRTCAuth, to: rolePostgres, port: cnpgPortPostgres, when: "rtc"},
	{from: roleRTCAuth, to: roleRedis, port: "redis", when: "rtc"},
	{from: roleRTCAuth, to: roleReplication, port: plan.PortNameReplication, when: "rtc"},
	{from: roleRTCAuth, to: roleSynapse, port: plan.PortNameHTTP, when: "rtc"},
	{from: roleRTCAuth, to: roleLiveKitRedis, port: "redis", when: "rtc-redis"},
	{from: roleSynapse, to: roleLiveKitRedis, port: "redis", when: "rtc-redis"},
	{from: roleOutsider, to: roleLiveKitRedis, port: "redis", when: "rtc-redis"},
	{from: roleIntruder, to: roleLiveKitRedis, port: "redis", when: "rtc-redis"},
}

// monitorFlows: Prometheus reaches every ServiceMonitor's endpoint port on
// the pods behind the Service it selects.
func monitorFlows(t *testing.T, s *mockstack.Stack, w *netWorld) []struct {
	flow netFlow
	dst  []netPod
} {
	t.Helper()
	var out []struct {
		flow netFlow
		dst  []netPod
	}
	for _, sm := range s.ByType(tServiceMonitor) {
		sel := stringMap(dig(sm.Inputs, "spec", "selector", "matchLabels"))
		for _, svc := range s.ByType(tService) {
			if !selects(sel, stringMap(dig(svc.Inputs, "metadata", "labels"))) {
				continue
			}
			svcSel := stringMap(dig(svc.Inputs, "spec", "selector"))
			var dst []netPod
			for _, pod := range w.all {
				if selects(svcSel, pod.Labels) {
					dst = append(dst, pod)
				}
			}
			for _, ep := range digList(sm.Inputs, "spec", "endpoints") {
				portName := digString(ep, "port")
				target := ""
				for _, sp := range digList(svc.Inputs, "spec", "ports") {
					if digString(sp, "name") == portName {
						target, _ = dig(sp, "targetPort").(string)
					}
				}
				require.NotEmpty(t, target, "ServiceMonitor %s: port %q has no named targetPort on Service %s", metaName(sm), portName, metaName(svc))
				out = append(out, struct {
					flow netFlow
					dst  []netPod
				}{netFlow{from: rolePrometheus, to: "ServiceMonitor " + metaName(sm), port: target, allow: true}, dst})
			}
		}
	}
	return out
}

// check evaluates one flow between every pair of pods.
func (w *netWorld) check(t *testing.T, f netFlow, src, dst []netPod) {
	t.Helper()
	require.NotEmpty(t, src, "flow %s → %s: no pods are %q", f.from, f.to, f.from)
	require.NotEmpty(t, dst, "flow %s → %s: no pods are %q", f.from, f.to, f.to)
	for _, a := range src {
		for _, b := range dst {
			port, ok := b.port(f.port)
			require.True(t, ok, "flow %s → %s: %s has no port %q", f.from, f.to, b.Name, f.port)
			got, why := w.net.allowed(a, b, port)
			if f.allow {
				assert.True(t, got, "needed flow %s → %s on %s: %s → %s is denied (%s)", f.from, f.to, port, a.Name, b.Name, why)
			} else {
				assert.False(t, got, "flow %s → %s on %s must be denied: %s → %s is allowed (%s)", f.from, f.to, port, a.Name, b.Name, why)
			}
		}
	}
}

// rtcNodePortReplicas: three LiveKit replicas on node ports (with their
// Redis) and TURN over UDP.
const rtcNodePortReplicas = `{"enabled":true,"tlsSecretName":"rtc-example-org-tls","livekit":{"replicas":3},"media":{"serviceType":"NodePort","externalAddress":"hostIP"},"turn":{"enabled":true}}`

// TestNetworkPolicyFlows: the rendered NetworkPolicies allow every flow the
// stack needs and deny the ones it does not; a pod that is no part of the
// stack reaches nothing but HAProxy's client port (and Element Web's,
// Element Admin's, MAS's web port and RTC's public ports).
func TestNetworkPolicyFlows(t *testing.T) {
	t.Parallel()
	// prod archives to its MinIO; the extra case has MinIO without backups.
	cases := append(append([]stackCase{}, stackCases...),
		stackCase{name: "prod-without-backups", file: "prod", overrides: map[string]string{"postgres": `{"instances":3}`}},
		stackCase{name: "dev-element-web", file: "dev", overrides: map[string]string{"elementWeb": `{"enabled":true}`}},
		stackCase{name: "dev-element-admin", file: "dev", overrides: map[string]string{"mas": `{"enabled":true}`, "admin": `{"enabled":true}`}},
		stackCase{name: "prod-element-admin", file: "prod", overrides: map[string]string{"admin": `{"enabled":true,"tlsSecretName":"admin-example-org-tls"}`}},
		stackCase{name: "prod-livekit-replicas", file: "prod", overrides: map[string]string{"rtc": rtcNodePortReplicas}},
		stackCase{name: "prod-rtc-off", file: "prod", overrides: map[string]string{"rtc": `{"enabled":false}`}},
		stackCase{name: "prod-mas-off", file: "prod", overrides: map[string]string{"mas": `{"enabled":false}`}})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, p, cfg := deployConfig(t, tc)
			w := buildNetWorld(t, s, p, cfg)
			compressor := cfg.Maintenance.StateCompression.Enabled
			on := map[string]bool{"": true, "minio": cfg.MinIO.Enabled, "monitoring": cfg.Monitoring.Enabled,
				"compressor": compressor, "compressor+minio": compressor && cfg.MinIO.Enabled,
				"backup-on-minio":       cfg.Postgres.Backup.OnMinIO(),
				"minio-without-backups": cfg.MinIO.Enabled && !cfg.Postgres.Backup.OnMinIO(),
				"element-web":           cfg.ElementWeb.Enabled, "element-web+minio": cfg.ElementWeb.Enabled && cfg.MinIO.Enabled,
				"element-admin": cfg.Admin.Console, "element-admin+minio": cfg.Admin.Console && cfg.MinIO.Enabled,
				"mas": cfg.MAS.Enabled, "mas+minio": cfg.MAS.Enabled && cfg.MinIO.Enabled,
				"mas-guard":   cfg.MAS.Enabled && !cfg.MAS.ExistingUsersMigrated,
				"leave-guard": !cfg.MAS.Enabled && !cfg.MAS.LeaveAcknowledged,
				"first-admin": cfg.Admin.Username != "", "mas+first-admin": cfg.MAS.Enabled && cfg.Admin.Username != "",
				"rtc": cfg.RTC.Enabled, "rtc+minio": cfg.RTC.Enabled && cfg.MinIO.Enabled, "rtc-redis": plan.LiveKitNeedsRedis(cfg),
				"turn": cfg.RTC.Enabled && cfg.RTC.TURN.Enabled, "turn-tls": cfg.RTC.Enabled && cfg.RTC.TURN.TLS()}
			for role, want := range map[string]bool{roleLiveKit: cfg.RTC.Enabled, roleRTCAuth: cfg.RTC.Enabled, roleLiveKitRedis: plan.LiveKitNeedsRedis(cfg), roleMAS: cfg.MAS.Enabled} {
				if want {
					require.Len(t, w.roles[role], 1, role)
				} else {
					require.Empty(t, w.roles[role], role)
				}
			}
			if cfg.ElementWeb.Enabled {
				require.Len(t, w.roles[roleElementWeb], 1, "Element Web")
			} else {
				require.Empty(t, w.roles[roleElementWeb], "elementWeb.enabled is false")
			}
			if cfg.Admin.Console {
				require.Len(t, w.roles[roleElementAdmin], 1, "Element Admin")
			} else {
				require.Empty(t, w.roles[roleElementAdmin], "admin.enabled is false")
			}
			if compressor {
				require.Len(t, w.roles[roleCompressor], 1, "the state compressor CronJob")
			} else {
				require.Empty(t, w.roles[roleCompressor], "maintenance.stateCompression is off, but a compressor runs")
			}

			for _, f := range neededFlows {
				if on[f.when] {
					f.allow = true
					w.check(t, f, w.roles[f.from], w.roles[f.to])
				}
			}
			monitors := monitorFlows(t, s, w)
			if cfg.Monitoring.Enabled {
				require.NotEmpty(t, monitors, "monitoring on, but no ServiceMonitor")
			}
			for _, m := range monitors {
				w.check(t, m.flow, w.roles[rolePrometheus], m.dst)
			}
			for _, f := range deniedFlows {
				if on[f.when] {
					w.check(t, f, w.roles[f.from], w.roles[f.to])
				}
			}

			// Anything else: a pod that is no part of the stack, in the
			// namespace or outside it, reaches no port of any pod of the
			// stack (declared or not) but HAProxy's client port, Element
			// Web's, Element Admin's, MAS's web port, and RTC's public ports
			// (LiveKit's signalling, media and TURN ports, the authorization
			// service's HTTP port).
			haproxy := w.roles[roleHAProxy][0]
			public := map[string][]string{haproxy.Name: {router.PortNameHTTP}}
			for _, e := range w.roles[roleElementWeb] {
				public[e.Name] = []string{components.ElementWebPortName}
			}
			for _, lk := range w.roles[roleLiveKit] {
				for _, port := range lk.Ports {
					public[lk.Name] = append(public[lk.Name], port.Name)
				}
			}
			for _, a := range w.roles[roleRTCAuth] {
				public[a.Name] = []string{"http"}
			}
			for _, e := range w.roles[roleElementAdmin] {
				public[e.Name] = []string{components.ElementAdminPortName}
			}
			for _, e := range w.roles[roleMAS] {
				public[e.Name] = []string{plan.PortNameMASWeb}
			}
			isPublic := func(dst netPod, port netPort) bool {
				for _, name := range public[dst.Name] {
					if pp, ok := dst.port(name); ok && pp.Port == port.Port && pp.Protocol == port.Protocol {
						return true // the public port, by name or by number
					}
				}
				return false
			}
			for _, src := range append(w.roles[roleIntruder], w.roles[roleOutsider]...) {
				for _, dst := range w.all {
					ports := append([]netPort{{Port: 8080, Protocol: "TCP"}, {Port: 9999, Protocol: "UDP"}}, dst.Ports...)
					for _, port := range ports {
						if isPublic(dst, port) {
							continue
						}
						got, why := w.net.allowed(src, dst, port)
						assert.False(t, got, "%s reaches %s on %s (%s)", src.Name, dst.Name, port, why)
					}
				}
			}
		})
	}
}

// TestNetworkPolicyEvaluator pins the evaluator's Kubernetes semantics on
// hand-made policies, so that a bug in it cannot hide a bug in the stack.
func TestNetworkPolicyEvaluator(t *testing.T) {
	t.Parallel()
	a := netPod{Name: "a", Namespace: "ns", Labels: map[string]string{"app": "a"}}
	b := netPod{Name: "b", Namespace: "ns", Labels: map[string]string{"app": "b"}, Ports: []netPort{{"web", 8080, "TCP"}, {"dns", 53, "UDP"}}}
	c := netPod{Name: "c", Namespace: "other", Labels: map[string]string{"app": "a"}}
	web, dns, other := netPort{"web", 8080, "TCP"}, netPort{"dns", 53, "UDP"}, netPort{Port: 9999, Protocol: "TCP"}
	sel := func(app string) map[string]any { return map[string]any{"matchLabels": map[string]any{"app": app}} }
	pol := func(name string, spec map[string]any) netPolicy {
		return netPolicy{Name: name, Namespace: "ns", Spec: spec}
	}
	denyAll := pol("deny", map[string]any{"podSelector": map[string]any{}, "policyTypes": []any{"Ingress"}})
	allowAToWeb := pol("a-web", map[string]any{
		"podSelector": sel("b"), "policyTypes": []any{"Ingress"},
		"ingress": []any{map[string]any{"from": []any{map[string]any{"podSelector": sel("a")}}, "ports": []any{map[string]any{"port": "web", "protocol": "TCP"}}}},
	})
	fromOther := pol("from-other", map[string]any{
		"podSelector": sel("b"),
		"ingress":     []any{map[string]any{"from": []any{map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "other"}}}}}},
	})
	egressDeny := pol("egress-deny", map[string]any{"podSelector": sel("a"), "policyTypes": []any{"Egress"}})
	egressDNS := pol("egress-dns", map[string]any{"podSelector": sel("a"), "policyTypes": []any{"Egress"},
		"egress": []any{map[string]any{"ports": []any{map[string]any{"port": float64(53), "protocol": "UDP"}}}}})
	cases := []struct {
		name     string
		policies []netPolicy
		from, to netPod
		port     netPort
		want     bool
	}{
		{"no policy: open", nil, a, b, other, true},
		{"default deny", []netPolicy{denyAll}, a, b, web, false},
		{"allowed by name", []netPolicy{denyAll, allowAToWeb}, a, b, web, true},
		{"other port", []netPolicy{denyAll, allowAToWeb}, a, b, other, false},
		{"pod selector is namespace-local", []netPolicy{denyAll, allowAToWeb}, c, b, web, false},
		{"namespace selector, all ports", []netPolicy{denyAll, fromOther}, c, b, other, true},
		{"namespace selector excludes own", []netPolicy{fromOther}, a, b, other, false},
		{"deny elsewhere does not isolate other namespaces", []netPolicy{denyAll}, b, c, other, true},
		{"egress isolated", []netPolicy{egressDeny}, a, b, web, false},
		{"egress allowed by number and protocol", []netPolicy{egressDeny, egressDNS}, a, b, dns, true},
		{"egress protocol differs", []netPolicy{egressDNS}, a, b, netPort{Port: 53, Protocol: "TCP"}, false},
	}
	for _, tc := range cases {
		n := &network{t: t, policies: tc.policies}
		got, why := n.allowed(tc.from, tc.to, tc.port)
		assert.Equal(t, tc.want, got, "%s: %s", tc.name, why)
	}
}
