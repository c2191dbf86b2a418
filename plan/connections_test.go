package plan

import (
	"testing"

	"synapse/config"
)

// config refuses a stack by its connection count before the plan exists;
// the plan emits max_connections from its processes. Both must agree, or
// a stack could pass validation and still exhaust Postgres.
func TestConnectionBudgetAgreesWithPlan(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  map[string]string
	}{
		{"laptop", map[string]string{"serverName": "example.org"}},
		{"small federating", map[string]string{"serverName": "example.org", "tier": "small", "federation": `{"enabled":true}`,
			"minio": `{"enabled":true}`, "mediaImage": "r.io/s3:1"}},
		{"xlarge with every option", map[string]string{"serverName": "example.org", "tier": "xlarge", "federation": `{"enabled":true,"senders":8}`,
			"minio": `{"enabled":true,"replicas":4}`, "mediaImage": "r.io/s3:1",
			"streamWriters": `{"account_data":1,"push_rules":1,"receipts":4,"device_lists":4,"thread_subscriptions":2}`,
			"pools":         `{"pusher":{"replicas":3},"background":{"replicas":1},"initialSync":{"replicas":2}}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Parse(tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			p := Build(c)
			n := 0
			for _, proc := range p.Processes {
				n += proc.MaxReplicas()
			}
			if n != c.MaxSynapseProcesses() {
				t.Errorf("plan has %d processes at most, config counts %d", n, c.MaxSynapseProcesses())
			}
			if p.MaxConnections() != c.MaxConnections() {
				t.Errorf("plan max_connections %d, config %d", p.MaxConnections(), c.MaxConnections())
			}
			if p.MaxConnections() > c.Postgres.ConnectionLimit() {
				t.Errorf("accepted config needs %d connections, its Postgres pays for %d", p.MaxConnections(), c.Postgres.ConnectionLimit())
			}
		})
	}
}

func TestPostgresParameters(t *testing.T) {
	got := PostgresParameters(16<<30, 680)
	want := map[string]string{"max_connections": "680", "shared_buffers": "4096MB", "effective_cache_size": "12288MB", "maintenance_work_mem": "1024MB"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if got := PostgresParameters(64<<30, 1)["maintenance_work_mem"]; got != "2048MB" {
		t.Errorf("maintenance_work_mem is capped at 2GB: %s", got)
	}
}
