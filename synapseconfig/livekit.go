package synapseconfig

import (
	"fmt"

	"gopkg.in/yaml.v3"

	"synapse/config"
	"synapse/plan"
)

// LiveKit's configuration and the MatrixRTC authorization service's
// environment, from the validated config. Keys are LiveKit's config.yaml
// keys (livekit/livekit pkg/config/config.go and mediatransportutil's
// rtcconfig); LiveKit parses its file strictly (unknown keys fail).

// Where the LiveKit and authorization pods find their files.
const (
	LiveKitConfigDir  = "/etc/livekit"
	LiveKitConfigFile = "livekit.yaml"
	// RTCSecretsDir holds the LiveKit Secret (plan.LiveKitSecretName).
	RTCSecretsDir = "/secrets"
	// LiveKitKeysFile is LiveKit's key_file ("<key>: <secret>"); LiveKit
	// refuses it unless others have no permission on it.
	LiveKitKeysFile = "keys.yaml"
	// LiveKitAPISecretFile is the bare secret, for the authorization
	// service's LIVEKIT_SECRET_FROM_FILE.
	LiveKitAPISecretFile = "api-secret"
	// TURNTLSDir holds rtc.turn.tlsSecretName (tls.crt, tls.key).
	TURNTLSDir = "/turn-tls"

	// LiveKitAPIKey names the API secret. It is not a secret: LiveKit
	// writes it into every token it accepts (the JWT's "iss"), and clients
	// receive those tokens. The secret is generated and lives only in the
	// LiveKit Secret.
	LiveKitAPIKey = "matrix-rtc"
)

// LiveKitSecretFiles are the keys of the LiveKit Secret.
var LiveKitSecretFiles = []string{LiveKitKeysFile, LiveKitAPISecretFile}

// LiveKitSecretData is the LiveKit Secret's data for an API secret.
func LiveKitSecretData(apiSecret string) map[string]string {
	return map[string]string{
		LiveKitKeysFile:      LiveKitAPIKey + ": " + apiSecret + "\n",
		LiveKitAPISecretFile: apiSecret,
	}
}

// LiveKitConfig is LiveKit's config.yaml:
//   - the HTTP port (signalling, Twirp API) behind the RTC Ingress;
//   - media on one UDP port (the mux) and ICE over TCP as the fallback,
//     the ports the media Service exposes, advertised with the address of
//     rtc.media.externalAddress (STUN discovery, NODE_IP from the pod's
//     hostIP, or node_ip);
//   - the API key from key_file (the Secret), never from this file;
//   - rooms created only by the authorization service (auto_create off,
//     as lk-jwt-service's README requires), which LiveKit tells about
//     participants leaving through its webhook (delegated MSC4140 leave);
//   - Redis only with several replicas (they share rooms through it);
//   - the embedded TURN server with rtc.turn.enabled.
func LiveKitConfig(c *config.Config, p *plan.Plan) (string, error) {
	r := c.RTC
	rtc := map[string]any{
		"tcp_port":        r.Media.TCPPort,
		"udp_port":        r.Media.UDPPort,
		"use_external_ip": r.Media.ExternalAddress == config.AddressSTUN,
	}
	if ip := r.Media.ExternalIP(); ip != "" {
		rtc["node_ip"] = ip
	}
	auth := p.RTCAuthorization()
	doc := map[string]any{
		"port":     config.LiveKitHTTPPort,
		"rtc":      rtc,
		"key_file": RTCSecretsDir + "/" + LiveKitKeysFile,
		"room":     map[string]any{"auto_create": false},
		"webhook": map[string]any{
			"api_key": LiveKitAPIKey,
			"urls":    []string{fmt.Sprintf("http://%s:%d/sfu_webhook", auth.Host(), auth.Port)},
		},
		"logging": map[string]any{"level": "info", "pion_level": "error", "json": true},
	}
	if plan.LiveKitNeedsRedis(c) {
		redis := p.LiveKitRedis()
		// The password comes from REDIS_PASSWORD (a Secret), never this file.
		doc["redis"] = map[string]any{"address": fmt.Sprintf("%s:%d", redis.Host(), redis.Port)}
	}
	if r.TURN.Enabled {
		turn := map[string]any{"enabled": true, "udp_port": r.TURN.UDPPort}
		if r.TURN.TLS() {
			turn["tls_port"] = config.LiveKitTURNTLSPort
			turn["domain"] = r.TURN.Domain
			turn["cert_file"] = TURNTLSDir + "/tls.crt"
			turn["key_file"] = TURNTLSDir + "/tls.key"
		}
		doc["turn"] = turn
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("synapseconfig: LiveKit config: %w", err)
	}
	return string(out), nil
}

// EnvVar is a plain environment variable of a container.
type EnvVar struct{ Name, Value string }

// RTCAuthorizationEnv is lk-jwt-service's environment (its README):
//   - LIVEKIT_URL: LiveKit's public websocket URL, which it hands to
//     clients and calls to create rooms;
//   - the API key (not secret, see LiveKitAPIKey) and the secret's file;
//   - LIVEKIT_FULL_ACCESS_HOMESERVERS: only this server's users may
//     create rooms on our SFU (others may join existing ones);
//   - LIVEKIT_CS_API_URL_OVERRIDES: this server's client API in-cluster
//     (HAProxy), for the delayed leave events it sends on a member's
//     behalf, instead of a round trip through the Ingress.
//
// It binds its default :8080 (plan.RTCAuthorizationPort).
func RTCAuthorizationEnv(c *config.Config, p *plan.Plan) []EnvVar {
	hp := p.HAProxy()
	return []EnvVar{
		{"LIVEKIT_URL", LiveKitURL(c)},
		{"LIVEKIT_KEY", LiveKitAPIKey},
		{"LIVEKIT_SECRET_FROM_FILE", RTCSecretsDir + "/" + LiveKitAPISecretFile},
		{"LIVEKIT_FULL_ACCESS_HOMESERVERS", c.ServerName},
		{"LIVEKIT_CS_API_URL_OVERRIDES", fmt.Sprintf("%s=http://%s:%d", c.ServerName, hp.Host(), hp.Port)},
	}
}
