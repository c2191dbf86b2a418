package config

import (
	"k8s.io/apimachinery/pkg/api/resource"
)

// The Postgres connection budget. Synapse opens up to databasePool.max
// connections per process and never shares them, so Postgres must accept
// every process at its most replicas times cp_max (the seed's formula,
// plus headroom for CNPG's own sessions, replication and an operator's
// psql). A pooler would not lower that: PgBouncer in session mode (the mode
// Synapse can run behind: it relies on session state) holds one server
// connection per client session, and Synapse's sessions live as long as its
// processes. So the budget is a
// validation cap instead: each connection is given connectionMemory of the
// Postgres memory limit, and a config whose processes could open more is
// refused at preview (lower databasePool.max or the pools' ceilings, or
// give Postgres more memory).
const (
	// ConnectionHeadroom is added to the Synapse connections: CNPG's
	// instance manager, streaming replication, monitoring and admin.
	ConnectionHeadroom = 50
	// connectionMemory is the memory limit budgeted per connection: an
	// idle backend costs a few MiB of private memory, an active one
	// work_mem (4MB) per sort or hash on top.
	connectionMemory = 4 << 20
)

// MaxSynapseProcesses is the number of Synapse processes when every pool
// runs at its most replicas: main, every pool (federation senders with
// federation on), every stream writer.
func (c *Config) MaxSynapseProcesses() int {
	n := 0
	for _, p := range Pools {
		if p == PoolStreamWriter { // sizing only: counts are per stream
			continue
		}
		n += c.Pools[p].MaxReplicas()
	}
	for _, w := range c.StreamWriters {
		n += w
	}
	return n
}

// MASDatabasePoolMax is each MAS replica's connection pool
// (database.max_connections, MAS's default).
const MASDatabasePoolMax = 10

// MASConnections is what MAS may open: its replicas times its pool.
func (c *Config) MASConnections() int {
	if !c.MAS.Enabled {
		return 0
	}
	return c.MAS.Replicas * MASDatabasePoolMax
}

// MaxConnections is Postgres max_connections: every Synapse process at its
// most replicas times cp_max, MAS's pools, plus ConnectionHeadroom.
func (c *Config) MaxConnections() int {
	return c.MaxSynapseProcesses()*c.DatabasePool.Max + c.MASConnections() + ConnectionHeadroom
}

// ConnectionLimit is the most connections Postgres' memory limit pays for
// (connectionMemory each).
func (p Postgres) ConnectionLimit() int {
	return int(p.MemoryLimitBytes() / connectionMemory)
}

// MemoryLimitBytes is the Postgres memory limit in bytes (0 if it is not a
// quantity, which validation refuses first).
func (p Postgres) MemoryLimitBytes() int64 {
	q, err := resource.ParseQuantity(p.Resources.Limits.Memory)
	if err != nil {
		return 0
	}
	return q.Value()
}
