package synapseconfig

import (
	"reflect"
	"testing"
)

// TestHomeserverMAS: with MAS, homeserver.yaml points Synapse at MAS's
// Service with the shared secret as a file of the Synapse Secret, turns
// Synapse's password login off, and keeps MAS's experimental feature next
// to RTC's; without MAS, none of it.
func TestHomeserverMAS(t *testing.T) {
	c, p, files := load(t, "prod", nil)
	hs := parse(t, files[SharedFile])
	mas, ok := p.MAS()
	if !ok {
		t.Fatal("prod runs MAS")
	}
	want := map[string]any{"enabled": true, "endpoint": mas.ServiceURL(), "secret_path": SecretsDir + "/" + SecretMAS}
	if !reflect.DeepEqual(hs["matrix_authentication_service"], want) {
		t.Errorf("matrix_authentication_service = %v, want %v", hs["matrix_authentication_service"], want)
	}
	if !reflect.DeepEqual(hs["password_config"], map[string]any{"enabled": false, "localdb_enabled": false}) {
		t.Errorf("password_config = %v", hs["password_config"])
	}
	exp, _ := hs["experimental_features"].(map[string]any)
	if exp["msc4108_enabled"] != true || !c.RTC.Enabled || exp["msc4143_enabled"] != true {
		t.Errorf("experimental_features = %v: MAS's and RTC's flags must both be there", exp)
	}
	if hs["enable_registration"] != false {
		t.Errorf("enable_registration = %v: Synapse refuses it with MAS", hs["enable_registration"])
	}

	_, _, off := load(t, "prod", map[string]string{"mas": `{"enabled":false}`})
	hsOff := parse(t, off[SharedFile])
	for _, k := range []string{"matrix_authentication_service", "password_config"} {
		if _, ok := hsOff[k]; ok {
			t.Errorf("mas.enabled=false: homeserver.yaml has %s", k)
		}
	}
	if e, _ := hsOff["experimental_features"].(map[string]any); e["msc4108_enabled"] != nil {
		t.Errorf("mas.enabled=false: msc4108 is on")
	}
}
