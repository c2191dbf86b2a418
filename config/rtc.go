package config

import (
	"fmt"
	"net/netip"
	"strconv"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Matrix RTC (issue 13): group calls for Element Call and Element X. A
// LiveKit SFU carries the media, the MatrixRTC authorization service
// (element-hq/lk-jwt-service) swaps a Matrix OpenID token for a LiveKit
// token, and LiveKit's embedded TURN server relays for clients behind
// firewalls that block the media ports (see README, "Calls").

// RTC configures the MatrixRTC backend.
type RTC struct {
	Enabled bool
	// Host is the DNS name of the RTC Ingress: LiveKit's signalling
	// (websocket, "/") and the authorization service's endpoints
	// ("/get_token", "/sfu/get", ...). Default "rtc." + serverName.
	Host          string
	TLSSecretName string // "" = plain HTTP (its own Secret: a certificate for ingress.host does not cover it)

	LiveKit       LiveKit
	Authorization RTCAuthorization
	Media         RTCMedia
	TURN          RTCTURN
}

// LiveKit is the SFU's workload.
type LiveKit struct {
	Image string
	// Replicas: more than one needs a Redis (the program runs one for
	// LiveKit alone) and NodePort media (each replica advertises its own
	// node's address); see checkRTC.
	Replicas  int
	Resources Resources
}

// RTCAuthorization is the MatrixRTC authorization service.
type RTCAuthorization struct {
	Image string
}

// Media service types.
const (
	ServiceTypeLoadBalancer = "LoadBalancer"
	ServiceTypeNodePort     = "NodePort"
)

// Ways LiveKit finds the address it advertises in ICE candidates.
const (
	// AddressSTUN asks a public STUN server which address the pod's
	// traffic leaves from (LiveKit's rtc.use_external_ip).
	AddressSTUN = "stun"
	// AddressHostIP advertises the node's own address (status.hostIP):
	// right for nodes with public addresses, and for load balancers that
	// answer on the node addresses (k3s ServiceLB).
	AddressHostIP = "hostIP"
)

// RTCMedia is how clients reach LiveKit's media ports: a Service of
// ServiceType whose ports equal the container ports (LiveKit advertises
// the ports it listens on), so nothing needs hostNetwork or hostPort.
type RTCMedia struct {
	ServiceType string
	// ExternalAddress is AddressSTUN, AddressHostIP or an IPv4 address (the
	// load balancer's, reserved beforehand; see checkRTCAddress).
	ExternalAddress string
	TCPPort         int // ICE over TCP, the fallback when UDP is blocked
	UDPPort         int // the UDP mux port: all media on one port
	Annotations     map[string]string
}

// ExternalIP is the literal address to advertise, "" when discovered.
func (m RTCMedia) ExternalIP() string {
	if m.ExternalAddress == AddressSTUN || m.ExternalAddress == AddressHostIP {
		return ""
	}
	return m.ExternalAddress
}

// RTCTURN is LiveKit's embedded TURN server. It relays only to LiveKit
// itself, with per-participant credentials LiveKit hands out.
type RTCTURN struct {
	Enabled bool
	UDPPort int
	// TLSSecretName (a kubernetes.io/tls Secret for Domain) turns on
	// TURN/TLS; LiveKit advertises it as turns:<Domain>:443, so it needs
	// port 443 on the media Service (a LoadBalancer).
	TLSSecretName string
	Domain        string
}

// TLS reports whether TURN/TLS is on.
func (t RTCTURN) TLS() bool { return t.Enabled && t.TLSSecretName != "" }

// Defaults of the RTC keys. Images: what ess-helm's matrix-rtc chart
// ships (livekit/livekit-server v1.13.6), and lk-jwt-service 0.7.0 from
// Element's registry (tags without "v", docker/metadata-action semver).
const (
	DefaultLiveKitImage          = "docker.io/livekit/livekit-server:v1.13.6"
	DefaultRTCAuthorizationImage = "ghcr.io/element-hq/lk-jwt-service:0.7.0"
	DefaultTURNUDPPort           = 3478
	// TURNTLSPort is the port LiveKit advertises TURN/TLS on (hard-coded
	// in its RoomManager: "turns:<domain>:443").
	TURNTLSPort = 443
	// NodePort range of a default kube-apiserver (--service-node-port-range).
	minNodePort = 30000
	maxNodePort = 32767
)

// DefaultLiveKitResources: an SFU forwards every participant's streams
// (ess-helm requests 100m/150Mi and limits memory to 4Gi).
var DefaultLiveKitResources = Resources{
	Requests: ResourceList{CPU: "500m", Memory: "512Mi"},
	Limits:   ResourceList{CPU: "4", Memory: "4Gi"},
}

// mediaDefaults are the default ports per service type: the usual
// LiveKit ports behind a load balancer, NodePort-range ones otherwise.
var mediaDefaults = map[string]struct{ tcp, udp, turnUDP int }{
	ServiceTypeLoadBalancer: {7881, 7882, DefaultTURNUDPPort},
	ServiceTypeNodePort:     {30881, 30882, 30478},
}

// The keys of the rtc object.
var (
	rtcKeys              = []string{"enabled", "host", "tlsSecretName", "livekit", "authorization", "media", "turn"}
	rtcLiveKitKeys       = []string{"image", "replicas", "resources"}
	rtcAuthorizationKeys = []string{"image"}
	rtcMediaKeys         = []string{"serviceType", "externalAddress", "tcpPort", "udpPort", "annotations"}
	rtcTURNKeys          = []string{"enabled", "udpPort", "domain", "tlsSecretName"}
)

// rtcFacts are what checkRTC needs to know about what the user wrote.
type rtcFacts struct {
	host, turnDomain bool
	replicas         *integer
	ports            map[string]*integer // key suffix (media.tcpPort…) → written value
}

// parseRTC reads the rtc object. Values are checked even while RTC is off,
// so that turning it on is not the moment a typo shows.
func parseRTC(el *errorList, o *object, serverName string) (RTC, rtcFacts) {
	f := rtcFacts{ports: map[string]*integer{}}
	lk := o.object("livekit", rtcLiveKitKeys)
	auth := o.object("authorization", rtcAuthorizationKeys)
	media := o.object("media", rtcMediaKeys)
	turn := o.object("turn", rtcTURNKeys)
	host := o.str("host", "a DNS name")
	domain := turn.str("domain", "a DNS name")
	f.host, f.turnDomain = host != nil, domain != nil
	f.replicas = lk.int("replicas", 1, 16, "must be a whole number from 1 to 16")

	r := RTC{
		Enabled:       deref(o.bool("enabled"), false),
		Host:          deref(host, "rtc."+serverName),
		TLSSecretName: deref(o.str("tlsSecretName", "a Secret name"), ""),
		LiveKit: LiveKit{
			Image:     deref(lk.str("image", "an image reference"), DefaultLiveKitImage),
			Replicas:  deref(f.replicas.value(), 1),
			Resources: resources(el, lk.object("resources", resourcesKeys), DefaultLiveKitResources),
		},
		Authorization: RTCAuthorization{Image: deref(auth.str("image", "an image reference"), DefaultRTCAuthorizationImage)},
		Media: RTCMedia{
			ServiceType:     ServiceTypeLoadBalancer,
			ExternalAddress: deref(media.str("externalAddress", `"stun", "hostIP" or an IPv4 address`), AddressSTUN),
			Annotations:     annotations(el, media),
		},
		TURN: RTCTURN{
			Enabled:       deref(turn.bool("enabled"), false),
			Domain:        deref(domain, "turn."+serverName),
			TLSSecretName: deref(turn.str("tlsSecretName", "a Secret name"), ""),
		},
	}
	if t := media.str("serviceType", ServiceTypeLoadBalancer+" or "+ServiceTypeNodePort); t != nil {
		if _, ok := mediaDefaults[*t]; ok {
			r.Media.ServiceType = *t
		} else {
			el.add(media.key+".serviceType", *t, "must be LoadBalancer or NodePort (the media ports need an address outside the cluster; pods stay off the host network)")
		}
	}
	def := mediaDefaults[r.Media.ServiceType]
	for _, p := range []struct {
		obj  *object
		name string
		dst  *int
		def  int
	}{
		{media, "tcpPort", &r.Media.TCPPort, def.tcp},
		{media, "udpPort", &r.Media.UDPPort, def.udp},
		{turn, "udpPort", &r.TURN.UDPPort, def.turnUDP},
	} {
		n := p.obj.int(p.name, 1, 65535, "must be a port number from 1 to 65535")
		*p.dst = deref(n.value(), p.def)
		if n != nil {
			f.ports[n.v.key] = n
		}
	}
	return r, f
}

// checkRTC applies the rules between RTC keys and the rest of the config.
func checkRTC(el *errorList, c *Config, f rtcFacts) {
	r := c.RTC
	checkImage(el, "rtc.livekit.image", r.LiveKit.Image)
	checkImage(el, "rtc.authorization.image", r.Authorization.Image)
	if r.Enabled && !c.Ingress.Enabled {
		el.add("rtc.enabled", "true", "calls need the RTC Ingress on rtc.host (LiveKit's signalling and the authorization service, at the URL the well-known advertises; media then goes through the media Service), and ingress.enabled=false creates no Ingress: turn the Ingress on, or leave calls off")
	}
	if f.host {
		switch {
		case ingressHostProblem(r.Host) != "":
			el.add("rtc.host", r.Host, "must be a lower-case DNS name such as rtc.example.org, not an IP address (it defaults to rtc.<serverName>)")
		}
	}
	if f.turnDomain && ingressHostProblem(r.TURN.Domain) != "" {
		el.add("rtc.turn.domain", r.TURN.Domain, "must be a lower-case DNS name such as turn.example.org that resolves to the media Service's external address (it defaults to turn.<serverName>)")
	}
	for key, name := range map[string]string{"rtc.tlsSecretName": r.TLSSecretName, "rtc.turn.tlsSecretName": r.TURN.TLSSecretName} {
		if name != "" && len(validation.IsDNS1123Subdomain(name)) > 0 {
			el.add(key, name, "must be a Secret name (lower-case DNS name)")
		}
	}
	if r.TURN.TLSSecretName != "" && !r.TURN.Enabled {
		el.add("rtc.turn.tlsSecretName", r.TURN.TLSSecretName, "TURN/TLS is part of the embedded TURN server: set rtc.turn.enabled=true too, or remove the key")
	}
	if r.TURN.TLS() && r.Media.ServiceType != ServiceTypeLoadBalancer {
		el.add("rtc.turn.tlsSecretName", r.TURN.TLSSecretName, "LiveKit advertises TURN/TLS as turns:<rtc.turn.domain>:443, which a NodePort cannot serve: use rtc.media.serviceType=LoadBalancer, or leave TURN/TLS off")
	}
	checkRTCAddress(el, r.Media.ExternalAddress)
	checkRTCPorts(el, r, f)
	checkRTCReplicas(el, r, f)
}

// checkRTCAddress: "stun", "hostIP" or an IPv4 address clients can reach.
// Private ranges stay allowed (an internal load balancer's); addresses
// that never leave a host or a link are not. IPv6 is refused: the media
// Service sets no ipFamilies, so it has the cluster's primary family,
// IPv4 on a default cluster, and nothing would answer on the IPv6
// address LiveKit advertised.
// unroutable4 are IPv4 blocks no packet is routed to (RFC 1122 "this
// network", RFC 1112 reserved); 255.255.255.255 is judged on its own.
var unroutable4 = [2]netip.Prefix{netip.MustParsePrefix("0.0.0.0/8"), netip.MustParsePrefix("240.0.0.0/4")}

func checkRTCAddress(el *errorList, a string) {
	if a == AddressSTUN || a == AddressHostIP {
		return
	}
	const key = "rtc.media.externalAddress"
	const instead = `give the address clients reach the media Service on (the load balancer's), or "stun" or "hostIP"`
	ip, err := netip.ParseAddr(a)
	mapped := err == nil && ip.Is4In6() // judged as its IPv4 form
	ip = ip.Unmap()
	switch {
	case err != nil || ip.IsLoopback() || ip.IsUnspecified() || ip.IsMulticast():
		el.add(key, a, `must be "stun" (ask a STUN server), "hostIP" (the node's address) or the IPv4 address clients reach the media Service on; LiveKit advertises IP addresses only, not host names`)
	case ip.IsLinkLocalUnicast():
		el.add(key, a, "a link-local address (169.254.0.0/16, fe80::/10) never leaves its own network link, so clients cannot reach it; "+instead)
	case ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		el.add(key, a, "the broadcast address is not one a client can connect to; "+instead)
	case ip.Is4() && (unroutable4[0].Contains(ip) || unroutable4[1].Contains(ip)):
		el.add(key, a, "an address of 0.0.0.0/8 (this network) or 240.0.0.0/4 (reserved) is never routed to a host, so clients cannot reach it; "+instead)
	case mapped:
		el.addf(key, a, "an IPv4-mapped IPv6 address: write the IPv4 form, %s", ip)
	case ip.Is6():
		el.add(key, a, "must be an IPv4 address: the media Service sets no ipFamilies, so it has the cluster's primary family (IPv4 on a default cluster) and nothing would answer on an advertised IPv6 address; "+instead)
	}
}

// checkRTCPorts: the ports LiveKit listens on are the ports the Service
// exposes (LiveKit advertises its own), so they must be node ports with a
// NodePort Service, unprivileged with a LoadBalancer (the pods run as non-
// root), and distinct per protocol from each other and from LiveKit's own.
// A written port is judged even while TURN is off; defaults are valid.
func checkRTCPorts(el *errorList, r RTC, f rtcFacts) {
	type port struct {
		key, proto string
		n          int
		in         bool // listened on (TURN's only with TURN on)
	}
	ports := []port{
		{"rtc.media.tcpPort", "TCP", r.Media.TCPPort, true},
		{"rtc.media.udpPort", "UDP", r.Media.UDPPort, true},
		{"rtc.turn.udpPort", "UDP", r.TURN.UDPPort, r.TURN.Enabled},
	}
	taken := map[string]string{
		fmt.Sprintf("TCP/%d", LiveKitHTTPPort):    "LiveKit's HTTP port",
		fmt.Sprintf("TCP/%d", LiveKitTURNTLSPort): "the TURN/TLS listener",
	}
	for _, p := range ports {
		written := f.ports[p.key]
		text := strconv.Itoa(p.n)
		if written != nil {
			text = written.v.text()
		}
		switch {
		case written != nil && r.Media.ServiceType == ServiceTypeNodePort && (p.n < minNodePort || p.n > maxNodePort):
			el.addf(p.key, text, "must be from %d to %d with rtc.media.serviceType=NodePort: the node port is the port LiveKit listens on and advertises", minNodePort, maxNodePort)
			continue
		case written != nil && p.n < 1024:
			el.add(p.key, text, "must be from 1024 to 65535: LiveKit runs as a non-root user and advertises the port it listens on")
			continue
		case !p.in:
			continue
		}
		k := fmt.Sprintf("%s/%d", p.proto, p.n)
		if other, clash := taken[k]; clash {
			key := p.key
			if written == nil && f.ports[other] != nil {
				key, text = other, f.ports[other].v.text() // blame the port the user wrote
			}
			el.addf(key, text, "must differ from %s: both are %s", map[bool]string{true: other, false: p.key}[key == p.key], k)
			continue
		}
		taken[k] = p.key
	}
}

// checkRTCReplicas: several LiveKit replicas share rooms through Redis
// (the program runs one for them), and each must be reachable on its own
// node's address: one load balancer address or one fixed address cannot
// reach the replica that hosts a room.
func checkRTCReplicas(el *errorList, r RTC, f rtcFacts) {
	if f.replicas == nil || f.replicas.n < 2 {
		return
	}
	switch {
	case r.Media.ServiceType != ServiceTypeNodePort:
		el.add(f.replicas.v.key, f.replicas.v.text(), "more than one LiveKit replica needs rtc.media.serviceType=NodePort: a room lives on one replica and its clients must reach that replica's own node address, which one LoadBalancer address cannot do (the replicas share rooms through a Redis the program runs for them)")
	case r.Media.ExternalIP() != "":
		el.add(f.replicas.v.key, f.replicas.v.text(), `more than one LiveKit replica needs rtc.media.externalAddress "stun" or "hostIP": each replica advertises its own node's address, not one fixed address`)
	}
}

// LiveKit's own ports inside its pod (not configurable: nothing outside
// the cluster sees them).
const (
	LiveKitHTTPPort    = 7880 // signalling and the Twirp API, behind the Ingress
	LiveKitTURNTLSPort = 5349 // the TURN/TLS listener; the Service exposes it on 443
)
