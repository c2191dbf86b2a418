// Package plan derives every Synapse process, its Kubernetes names, ports,
// listeners, streams and routes from a validated config.Config.
//
// It is pure Go (no Pulumi): the components, the Synapse config renderer, the
// HAProxy renderer, NetworkPolicies and Postgres max_connections all read the
// same Plan, so a backend naming a Service that does not exist, or a port
// that does not match, cannot be written.
package plan

import (
	"strings"

	"synapse/config"
)

// Role is what a Synapse process does.
type Role string

// The roles. Stream writer roles are "<stream>-writer" (see WriterRole).
const (
	RoleMain             Role = "main"
	RoleGenericWorker    Role = "generic-worker"
	RoleSynchrotron      Role = "synchrotron"
	RoleInitialSync      Role = "initial-synchrotron"
	RoleMediaRepository  Role = "media-repository"
	RoleEventPersister   Role = "event-persister"
	RoleFederationSender Role = "federation-sender"
	RolePusher           Role = "pusher"
	RoleBackground       Role = "background-worker"
)

// writerSuffix ends the role of every dedicated stream writer.
const writerSuffix = "-writer"

// WriterRole is the role of the writers of one stream.
func WriterRole(stream string) Role {
	return Role(kebab(stream) + writerSuffix)
}

// IsStreamWriter says whether the role is a dedicated stream writer
// ("<stream>-writer"; event persisters write events but are a pool).
func (r Role) IsStreamWriter() bool { return strings.HasSuffix(string(r), writerSuffix) }

// Synapse applications.
const (
	AppMain    = "synapse.app.homeserver"
	AppGeneric = "synapse.app.generic_worker"
	AppMedia   = "synapse.app.media_repository"
)

// Listener resource names (Synapse config manual, "listeners").
const (
	ResClient      = "client"
	ResFederation  = "federation"
	ResMedia       = "media"
	ResReplication = "replication"
	ResHealth      = "health"
	// ResOpenID serves /_matrix/federation/v1/openid/userinfo alone (the
	// federation resource includes it): how the MatrixRTC authorization
	// service checks a user's OpenID token.
	ResOpenID = "openid"
)

// RoleSpec is one row of the process catalogue (DESIGN.md "The process
// catalogue"). Adding a role is adding a row.
type RoleSpec struct {
	Role Role
	Pool config.Pool // the config pool that sizes it
	App  string
	// HTTPResources are the resources of the process's `http` listener.
	// Empty: the listener serves only /health (probes need one).
	HTTPResources []string
	// FederationResources are added to HTTPResources when federation is on.
	FederationResources []string
	// Replication: an HTTP replication listener and a place in instance_map.
	Replication bool
	// StableNames: a StatefulSet, so that <pod>.<headless service> is a
	// stable host and the pod name a stable worker name. Needed by every role
	// named in shared config, and by hash-balanced pools (per-ordinal HAProxy
	// servers keep the hash ring identical in every HAProxy replica).
	StableNames bool
	// Streams this role writes (stream_writers).
	Streams []string
	// FallbackToMain: when every instance is down, HAProxy may send this
	// role's traffic to main, which can serve it.
	FallbackToMain bool
	// Endpoints are the documented paths it serves, in match order.
	Endpoints func(federation bool) []Endpoint
	// UsesMediaImage: runs the media image (S3 storage provider).
	UsesMediaImage bool
	// Autoscalable: an HPA may add instances without any config naming them.
	Autoscalable bool
}

func endpoints(lists ...[]Endpoint) func(bool) []Endpoint {
	return func(federation bool) []Endpoint {
		var out []Endpoint
		for _, l := range lists {
			for _, e := range l {
				if e.Federation && !federation {
					continue
				}
				out = append(out, e)
			}
		}
		return out
	}
}

func none(bool) []Endpoint { return nil }

// initialSyncEndpoints are the full syncs: /sync without a `since` token and
// the legacy /initialSync endpoints (which never carry one). /events is a
// long poll that paginates with `from`, never an initial sync.
func initialSyncEndpoints() []Endpoint {
	var out []Endpoint
	for _, e := range SyncEndpoints {
		if !strings.HasSuffix(e.Pattern, "/events$") {
			out = append(out, e)
		}
	}
	return out
}

// Catalogue is the process table, in start-up order within each phase.
var Catalogue = []RoleSpec{
	{Role: RoleMain, Pool: config.PoolMain, App: AppMain,
		HTTPResources: []string{ResClient}, FederationResources: []string{ResFederation},
		Replication: true, StableNames: true, Endpoints: none},
	{Role: RoleEventPersister, Pool: config.PoolEventPersister, App: AppGeneric,
		Replication: true, StableNames: true, Streams: []string{"events"}, Endpoints: none},
	{Role: RoleMediaRepository, Pool: config.PoolMedia, App: AppMedia,
		// Media admin APIs are registered under the media resource and
		// /_matrix/client/v1/media under client (synapse generic_worker.py).
		HTTPResources: []string{ResMedia, ResClient}, FederationResources: []string{ResFederation},
		// media-0 writes quarantined_media_changes, so it needs a replication
		// listener and an instance_map entry; all media pods share the template.
		Replication: true, StableNames: true, Streams: []string{"quarantined_media_changes"},
		Endpoints: endpoints(MediaRepositoryEndpoints), UsesMediaImage: true, Autoscalable: true},
	{Role: RoleSynchrotron, Pool: config.PoolSynchrotron, App: AppGeneric,
		HTTPResources: []string{ResClient}, StableNames: true, FallbackToMain: true,
		Endpoints: endpoints(SyncEndpoints), Autoscalable: true},
	{Role: RoleInitialSync, Pool: config.PoolInitialSync, App: AppGeneric,
		HTTPResources: []string{ResClient}, StableNames: true, FallbackToMain: true,
		Endpoints: endpoints(initialSyncEndpoints()), Autoscalable: true},
	// Generic workers serve hash-balanced backends too (/messages sticky per
	// room, as Synapse requires; inbound /send/ per origin): a StatefulSet,
	// so every HAProxy replica has the same per-ordinal hash ring.
	{Role: RoleGenericWorker, Pool: config.PoolGeneric, App: AppGeneric,
		HTTPResources: []string{ResClient}, FederationResources: []string{ResFederation},
		StableNames: true, FallbackToMain: true, Endpoints: endpoints(GenericWorkerEndpoints), Autoscalable: true},
	{Role: RoleFederationSender, Pool: config.PoolFederationSender, App: AppGeneric,
		StableNames: true, Endpoints: none},
	{Role: RolePusher, Pool: config.PoolPusher, App: AppGeneric,
		StableNames: true, Endpoints: none},
	{Role: RoleBackground, Pool: config.PoolBackground, App: AppGeneric,
		HTTPResources: []string{ResClient}, StableNames: true, FallbackToMain: true,
		Endpoints: endpoints(UserDirectoryEndpoints)},
}

// writerSpec is the row shared by every stream writer role.
func writerSpec(s config.Stream) RoleSpec {
	return RoleSpec{Role: WriterRole(s.Name), Pool: config.PoolStreamWriter, App: AppGeneric,
		HTTPResources: []string{ResClient}, Replication: true, StableNames: true,
		Streams: []string{s.Name}, FallbackToMain: true,
		Endpoints: endpoints(StreamWriterEndpoints[s.Name])}
}

func kebab(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '_' {
			b[i] = '-'
		}
	}
	return string(b)
}
