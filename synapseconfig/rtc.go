package synapseconfig

import (
	"strings"

	"synapse/config"
)

// Matrix RTC settings of homeserver.yaml and of the discovery answer. They
// exist exactly when rtc.enabled: turning RTC off removes them and nothing
// else.

// RTCServiceURL is the MatrixRTC authorization service's public base URL
// (the livekit_service_url of an rtc_foci / matrix_rtc transport): the
// root of rtc.host, where the RTC Ingress sends the service's endpoints.
// Like MAS's URL it takes publicBaseUrl's scheme and port
// (config.SiblingURL), without the trailing slash: clients append
// "/sfu/get" and "/get_token" to it.
func RTCServiceURL(c *config.Config) string {
	return strings.TrimSuffix(config.SiblingURL(c.PublicBaseURL, c.RTC.Host), "/")
}

// LiveKitURL is LiveKit's public websocket URL (the root of rtc.host, at
// publicBaseUrl's port): the authorization service hands it to clients
// with their token. wss behind https, ws behind plain http.
func LiveKitURL(c *config.Config) string {
	u := RTCServiceURL(c)
	if rest, ok := strings.CutPrefix(u, "http://"); ok {
		return "ws://" + rest
	}
	return "wss://" + strings.TrimPrefix(u, "https://")
}

// rtcFoci is the MSC4143 transport list: the one LiveKit backend.
func rtcFoci(c *config.Config) []any {
	return []any{map[string]any{"type": "livekit", "livekit_service_url": RTCServiceURL(c)}}
}

// WellKnownRTCFoci is the key of the transports in /.well-known/matrix/client.
const WellKnownRTCFoci = "org.matrix.msc4143.rtc_foci"

// addRTCWellKnown adds the transports to the /.well-known/matrix/client
// answer, where Element Call and Element X look for them.
func addRTCWellKnown(client map[string]any, c *config.Config) {
	if c.RTC.Enabled {
		client[WellKnownRTCFoci] = rtcFoci(c)
	}
}

// RTCExperimentalFeatures are the experimental_features MatrixRTC needs,
// as Element Call's self-hosting guide and ess-helm's matrix-rtc values
// set them: MSC3266 (room summary: knocking into a call), MSC4143 (the
// rtc/transports endpoint serving matrix_rtc.transports) and MSC4222
// (state_after in /sync: clients track call membership correctly).
var RTCExperimentalFeatures = []string{"msc3266_enabled", "msc4143_enabled", "msc4222_enabled"}

// addRTC adds MatrixRTC's settings to homeserver.yaml, merging into an
// experimental_features map that other features may have started.
//   - max_event_delay_duration: MSC4140 delayed events, off in Synapse by
//     default; a call member schedules its own leave event with it, so a
//     client that vanishes leaves the call (24h as Element Call's guide).
//   - rc_message 0.5/s, burst 30: in-call encryption key sharing sends
//     room messages in bursts that Synapse's default (0.2/s, 10) limits.
//   - rc_delayed_event_mgmt 1/s, burst 20: each member restarts its
//     delayed leave every few seconds (Synapse's default burst is 5).
//   - matrix_rtc.transports: what GET rtc/transports answers (MSC4143).
func addRTC(hs map[string]any, c *config.Config) {
	if !c.RTC.Enabled {
		return
	}
	exp, _ := hs["experimental_features"].(map[string]any)
	if exp == nil {
		exp = map[string]any{}
	}
	for _, f := range RTCExperimentalFeatures {
		exp[f] = true
	}
	hs["experimental_features"] = exp
	hs["max_event_delay_duration"] = "24h"
	hs["rc_message"] = map[string]any{"per_second": 0.5, "burst_count": 30}
	hs["rc_delayed_event_mgmt"] = map[string]any{"per_second": 1, "burst_count": 20}
	hs["matrix_rtc"] = map[string]any{"transports": rtcFoci(c)}
}
