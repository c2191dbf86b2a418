package plan

import (
	"testing"

	"synapse/config"
)

func masPlan(t *testing.T, mas string) *Plan {
	t.Helper()
	c, err := config.Parse(map[string]string{"serverName": "example.org", "tier": "small", "mas": mas,
		"minio": `{"enabled":true}`, "mediaImage": "r.io/s3:1"})
	if err != nil {
		t.Fatal(err)
	}
	return Build(c)
}

// TestMASTakesTheCompatibilityEndpoints: with MAS, the login, logout and
// refresh endpoints of every client API version (and what is under them)
// go to MAS, whichever Synapse list also names them; without MAS, to
// Synapse as before. Nothing else moves.
func TestMASTakesTheCompatibilityEndpoints(t *testing.T) {
	with, without := masPlan(t, `{"enabled":true}`), masPlan(t, `{"enabled":false}`)
	cases := []struct {
		method, path string
		mas          bool
		synapse      string
	}{
		{"POST", "/_matrix/client/v3/login", true, "generic-worker"},
		{"GET", "/_matrix/client/r0/login", true, "generic-worker"},
		{"GET", "/_matrix/client/v3/login/sso/redirect", true, "main"},
		{"POST", "/_matrix/client/v3/logout", true, "main"},
		{"POST", "/_matrix/client/v3/logout/all", true, "main"},
		{"POST", "/_matrix/client/v3/refresh", true, "main"},
		{"POST", "/_matrix/client/v1/refresh", true, "main"},
		{"POST", "/_matrix/client/unstable/login", true, "generic-worker"},
		{"GET", "/_matrix/client/v3/account/whoami", false, "generic-worker"},
		{"GET", "/_matrix/client/v1/auth_metadata", false, "main"},
		{"POST", "/_matrix/client/v3/register", false, "generic-worker"},
		{"GET", "/_matrix/client/v3/loginx", false, "main"},
		{"GET", "/_matrix/client/v3/rooms/!r:x/messages", false, "generic-worker-room"},
	}
	for _, c := range cases {
		want := c.synapse
		if c.mas {
			want = MASName
		}
		if got := with.Match(c.method, c.path, true); got != want {
			t.Errorf("with MAS: %s %s → %s, want %s", c.method, c.path, got, want)
		}
		if got := without.Match(c.method, c.path, true); got != c.synapse {
			t.Errorf("without MAS: %s %s → %s, want %s", c.method, c.path, got, c.synapse)
		}
	}
	if _, ok := without.MAS(); ok {
		t.Error("mas.enabled=false: the plan has a MAS service")
	}
	if _, ok := without.Backend(MASName); ok {
		t.Error("mas.enabled=false: the plan has a MAS backend")
	}
	m, ok := with.MAS()
	if !ok || m.Replicas != 2 || m.Port(PortNameHTTP) != PortMASWeb || m.ServiceURL() != "http://mas.matrix.svc.cluster.local:8080/" {
		t.Errorf("MAS service %+v (%s)", m, m.ServiceURL())
	}
	for _, proc := range with.Processes {
		if proc.Role == RoleMAS {
			t.Error("MAS is among the Synapse processes (it would get a worker file and Synapse connections)")
		}
	}
}
