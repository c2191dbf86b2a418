package synapseconfig

import (
	"encoding/json"
	"strings"

	"synapse/config"
)

// ElementWebConfigFile is the file Element Web reads its configuration
// from: the image serves /app (docs/install.md: "-v
// /etc/element-web/config.json:/app/config.json").
const ElementWebConfigFile = "config.json"

// ElementWebConfig is Element Web's config.json (element-web
// docs/config.md), from the validated config: the homeserver is this
// stack's (default_server_config, the same base URL as the
// .well-known/matrix/client answer), guests are off (Synapse's
// allow_guest_access is off) and the room directory lists this server.
// Nothing in it is secret: any visitor can read /config.json.
func ElementWebConfig(c *config.Config) (string, error) {
	doc := map[string]any{
		"default_server_config": map[string]any{
			"m.homeserver": map[string]string{
				"base_url":    strings.TrimSuffix(c.PublicBaseURL, "/"),
				"server_name": c.ServerName,
			},
		},
		// Users may still point Element at another homeserver.
		"disable_custom_urls": false,
		"disable_guests":      true,
		"brand":               "Element",
		"room_directory":      map[string]any{"servers": []string{c.ServerName}},
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return "", err
	}
	return string(out) + "\n", nil
}
