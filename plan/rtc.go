package plan

import "synapse/config"

// Matrix RTC names, shared by the components that create these objects and
// everything that connects to them (config/rtc.go has the ports).
const (
	LiveKitName = "livekit"
	// LiveKitMediaName is the Service of type rtc.media.serviceType that
	// carries media (and TURN) from outside the cluster.
	LiveKitMediaName      = "livekit-media"
	LiveKitConfigMapName  = "livekit-config" // content-named (a hash of the data is added)
	LiveKitSecretName     = "livekit-keys"   // content-named: the API secret, in LiveKit's and the authorization service's forms
	LiveKitRedisName      = "livekit-redis"  // only with more than one LiveKit replica
	LiveKitRedisSecret    = "livekit-redis-credentials"
	RTCAuthorizationName  = "rtc-authorization"
	RTCIngressName        = "rtc"
	RTCAuthorizationPort  = 8080 // lk-jwt-service's default bind (:8080)
	LiveKitRedisSecretKey = RedisSecretPass
)

// LiveKit is the SFU's in-cluster signalling Service (the RTC Ingress
// sends "/" there).
func (p *Plan) LiveKit() Service {
	return Service{Name: LiveKitName, PortName: "http", Port: config.LiveKitHTTPPort, Namespace: p.Namespace}
}

// LiveKitRedis is the Redis LiveKit replicas share rooms through.
func (p *Plan) LiveKitRedis() Service {
	return Service{Name: LiveKitRedisName, PortName: "redis", Port: 6379, Namespace: p.Namespace}
}

// RTCAuthorization is the MatrixRTC authorization service's Service.
func (p *Plan) RTCAuthorization() Service {
	return Service{Name: RTCAuthorizationName, PortName: "http", Port: RTCAuthorizationPort, Namespace: p.Namespace}
}

// LiveKitNeedsRedis: several replicas share rooms through Redis; one
// keeps its state in memory.
func LiveKitNeedsRedis(c *config.Config) bool { return c.RTC.Enabled && c.RTC.LiveKit.Replicas > 1 }

// openIDWithoutFederation: the MatrixRTC authorization service checks
// OpenID tokens on the federation API's /openid/userinfo (Element Call's
// self-hosting guide: "either a federation or openid listener"). With
// federation on, main's federation resource serves it; with federation
// off, main gets the openid resource alone (no other federation
// endpoint, and federation_domain_whitelist stays empty).
func openIDWithoutFederation(c *config.Config) bool { return c.RTC.Enabled && !c.Federation.Enabled }
