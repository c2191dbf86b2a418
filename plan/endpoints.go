package plan

// Synapse's documented worker endpoint lists, as typed data.
//
// Source: element-hq/synapse docs/workers.md of the release the program
// deploys, config.SynapseVersion (v1.157.0). Patterns are copied exactly as
// the docs give them; where DESIGN.md calls something main-only, DESIGN wins
// and a comment says why. Anything that matches none of these lists goes to
// main.
//
// The lines newer than docs/workers.md at 047001383d3f (the newest copy the
// project's reference index holds; it has the `device_lists` stream section
// of Synapse 1.135+) each cite the change that put them on workers:
// `room_summary` (the stable MSC3266 endpoint, Matrix 1.15), the MSC4140
// `delayed_events(/.*/restart)?` line (synapse#19207 moved the restart
// servlet to workers), and `GET /_synapse/admin/v2/users/<user>` (also
// routed GET-only to workers by ess-helm#1278). `thread_subscriptions` is a
// stream with writers since synapse#18674 (see StreamWriterEndpoints).

// Balance says how HAProxy spreads an endpoint's requests over a pool.
type Balance string

const (
	BalanceRoundRobin Balance = "roundrobin" // any instance will do
	BalanceUser       Balance = "user"       // sticky per user: hash of the access token's user part, consistent hashing
	BalanceOrigin     Balance = "origin"     // inbound federation transactions: sticky per sending server (source)
	BalanceRoom       Balance = "room"       // sticky per room: hash of the room ID in the path
)

// Endpoint is one line of Synapse's docs/workers.md endpoint lists.
type Endpoint struct {
	Pattern    string   // the regular expression exactly as docs/workers.md gives it (anchored with ^)
	Methods    []string // upper-case HTTP methods the docs restrict it to; nil means every method
	Federation bool     // server-server (or key) endpoint: only routed when federation is on
	Balance    Balance
}

// endpointGET is the method list of the "can be handled for GET requests"
// endpoints. Each Endpoint gets its own copy so that no caller can change
// another list by appending.
func endpointGET() []string { return []string{"GET"} }

// SyncEndpoints: docs/workers.md, "synapse.app.generic_worker", the
// "# Sync requests" block. "Load balancing" asks for all /sync and
// /initialSync requests of a user to reach one instance, "by extracting
// username part from the users access token" (the docs' nginx example hashes
// it with `hash $mxid_localpart consistent`).
var SyncEndpoints = []Endpoint{
	{Pattern: `^/_matrix/client/(r0|v3)/sync$`, Balance: BalanceUser},
	{Pattern: `^/_matrix/client/(api/v1|r0|v3)/events$`, Balance: BalanceUser},
	{Pattern: `^/_matrix/client/(api/v1|r0|v3)/initialSync$`, Balance: BalanceUser},
	{Pattern: `^/_matrix/client/(api/v1|r0|v3)/rooms/[^/]+/initialSync$`, Balance: BalanceUser},
}

// GenericWorkerEndpoints: docs/workers.md, "synapse.app.generic_worker", every
// list except "# Sync requests" (see SyncEndpoints). "Load balancing": client
// and federation requests round robin; `^/_matrix/federation/v1/send/` by
// source so that one remote server's transactions reach one process;
// pagination (`/messages`) sticky per room, as the docs require.
//
// Left out on purpose (they reach main):
//   - The SSO block (`login/sso/redirect`, `/_synapse/client/pick_idp`,
//     `pick_username`, `new_user_consent`, `sso_register`, `oidc/callback`,
//     `saml2/authn_response`, `login/cas/ticket`): docs say "Ensure that all
//     SSO logins go to a single process" (synapse#7530, #9427). The generic
//     pool scales to N instances, so main is the single process that gets them.
//   - The rest of the MSC3861 admin block (`username_available`,
//     `_allow_cross_signing_replacement_without_uia`, `users/[^/]+/devices$`):
//     docs allow them on workers only "when MSC3861 is enabled
//     (`experimental_features.msc3861.enabled`)"; elsewhere a worker does not
//     serve them. `/_synapse/admin/v2/users/[^/]+$` is on workers for GET
//     (below); PUT (create or modify) and everything else stay on main.
//   - `auth/*/fallback/web`: not in the docs at all (Synapse's own
//     docker/configure_workers_and_start.py routes it to client_reader, which
//     is the trap DESIGN.md names): main-only.
//   - Receipts (`rooms/.*/receipt`, `rooms/.*/read_markers`): the docs' stream
//     section says they "can be handled by any worker", but this version of
//     the generic_worker list no longer names them (older versions did). We
//     follow the list: they go to a receipts writer, else to main.
var GenericWorkerEndpoints = []Endpoint{
	// # Federation requests
	{Pattern: `^/_matrix/federation/v1/version$`, Federation: true, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/federation/v1/event/`, Federation: true, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/federation/v1/state/`, Federation: true, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/federation/v1/state_ids/`, Federation: true, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/federation/v1/backfill/`, Federation: true, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/federation/v1/get_missing_events/`, Federation: true, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/federation/v1/publicRooms`, Federation: true, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/federation/v1/query/`, Federation: true, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/federation/v1/make_join/`, Federation: true, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/federation/v1/make_leave/`, Federation: true, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/federation/(v1|v2)/send_join/`, Federation: true, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/federation/(v1|v2)/send_leave/`, Federation: true, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/federation/v1/make_knock/`, Federation: true, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/federation/v1/send_knock/`, Federation: true, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/federation/(v1|v2)/invite/`, Federation: true, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/federation/v1/event_auth/`, Federation: true, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/federation/v1/timestamp_to_event/`, Federation: true, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/federation/v1/exchange_third_party_invite/`, Federation: true, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/federation/v1/user/devices/`, Federation: true, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/key/v2/query`, Federation: true, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/federation/v1/hierarchy/`, Federation: true, Balance: BalanceRoundRobin},

	// # Inbound federation transaction request: "should be balanced by source".
	{Pattern: `^/_matrix/federation/v1/send/`, Federation: true, Balance: BalanceOrigin},

	// # Client API requests
	{Pattern: `^/_matrix/client/(api/v1|r0|v3|unstable)/createRoom$`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/(api/v1|r0|v3|unstable)/publicRooms$`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/joined_members$`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/context/.*$`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/members$`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/state$`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/v1/rooms/.*/hierarchy$`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/(v1|unstable)/rooms/.*/relations/`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/v1/rooms/.*/threads$`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/unstable/im.nheko.summary/summary/.*$`, Balance: BalanceRoundRobin},
	// The stable MSC3266 room summary (Matrix 1.15).
	{Pattern: `^/_matrix/client/v1/room_summary/.*$`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/(r0|v3|unstable)/account/3pid$`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/(r0|v3|unstable)/account/whoami$`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/(r0|v3|unstable)/account/deactivate$`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/(r0|v3)/delete_devices$`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/(api/v1|r0|v3|unstable)/devices(/|$)`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/versions$`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/(api/v1|r0|v3|unstable)/voip/turnServer$`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/event/`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/(api/v1|r0|v3|unstable)/joined_rooms$`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/v1/rooms/.*/timestamp_to_event$`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/(api/v1|r0|v3|unstable/.*)/rooms/.*/aliases`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/(api/v1|r0|v3|unstable)/search$`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/(r0|v3|unstable)/user/.*/filter(/|$)`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/(api/v1|r0|v3|unstable)/directory/room/.*$`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/(r0|v3|unstable)/capabilities$`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/(r0|v3|unstable)/notifications$`, Balance: BalanceRoundRobin},
	// The one admin API the docs give generic workers: room details (GET) and
	// the v1 room delete, on /rooms/<room_id> itself only.
	{Pattern: `^/_synapse/admin/v1/rooms/[^/]+$`, Balance: BalanceRoundRobin},
	// MSC4140 delayed events: the list (GET) and the `/restart` action
	// (synapse#19207), every method. The other actions, `/send` and
	// `/cancel` and the older POST to `delayed_events/<id>` with the action
	// in its body, are main-only (DESIGN.md).
	{Pattern: `^/_matrix/client/unstable/org.matrix.msc4140/delayed_events(/.*/restart)?$`, Balance: BalanceRoundRobin},

	// # Encryption requests
	{Pattern: `^/_matrix/client/(r0|v3|unstable)/keys/query$`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/(r0|v3|unstable)/keys/changes$`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/(r0|v3|unstable)/keys/claim$`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/(r0|v3|unstable)/room_keys/`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/(r0|v3|unstable)/keys/upload`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/(api/v1|r0|v3|unstable)/keys/device_signing/upload$`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/(api/v1|r0|v3|unstable)/keys/signatures/upload$`, Balance: BalanceRoundRobin},

	// # Registration/login requests
	{Pattern: `^/_matrix/client/(api/v1|r0|v3|unstable)/login$`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/(r0|v3|unstable)/register$`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/(r0|v3|unstable)/register/available$`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/v1/register/m.login.registration_token/validity$`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/(r0|v3|unstable)/password_policy$`, Balance: BalanceRoundRobin},

	// # Event sending requests (docs: by room, full URI "or even just round robin")
	{Pattern: `^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/redact`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/send`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/state/`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/(join|invite|leave|ban|unban|kick)$`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/(api/v1|r0|v3|unstable)/join/`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/(api/v1|r0|v3|unstable)/knock/`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/(api/v1|r0|v3|unstable)/profile/`, Balance: BalanceRoundRobin},

	// # User directory search requests (also UserDirectoryEndpoints)
	{Pattern: `^/_matrix/client/(r0|v3|unstable)/user_directory/search$`, Balance: BalanceRoundRobin},

	// "Additionally, the following REST endpoints can be handled for GET
	// requests". Writes go to the stream writer (push_rules, account_data,
	// presence) or to main. MSC4140 delayed_events: GETs run on workers;
	// POSTs other than `/restart` (above) are main-only.
	{Pattern: `^/_matrix/client/(api/v1|r0|v3|unstable)/pushrules/`, Methods: endpointGET(), Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/unstable/org.matrix.msc4140/delayed_events`, Methods: endpointGET(), Balance: BalanceRoundRobin},
	// Query a user account (admin API); PUT creates or modifies it: main.
	{Pattern: `^/_synapse/admin/v2/users/[^/]+$`, Methods: endpointGET(), Balance: BalanceRoundRobin},
	// # Account data requests
	{Pattern: `^/_matrix/client/(r0|v3|unstable)/.*/tags`, Methods: endpointGET(), Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/(r0|v3|unstable)/.*/account_data`, Methods: endpointGET(), Balance: BalanceRoundRobin},
	// # Presence requests
	{Pattern: `^/_matrix/client/(api/v1|r0|v3|unstable)/presence/`, Methods: endpointGET(), Balance: BalanceRoundRobin},

	// Pagination: "all requests for a given room must be routed to the same
	// instance".
	{Pattern: `^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/messages$`, Balance: BalanceRoom},
}

// MediaRepositoryEndpoints: docs/workers.md, "synapse.app.media_repository".
// The docs give the first ones as prefixes ("all endpoints starting with",
// without ^); we anchor them. `/_synapse/media/` is not routed: no Synapse
// process registers anything under it (the media admin APIs are under
// `/_synapse/admin/`), so such a request gets main's 404. The admin ones are the docs' regular
// expressions. Main runs with `enable_media_repo: false`, which "will prevent
// the main process from being able to handle the above endpoints": no
// fallback to main for these.
//
// Quarantine: since Synapse 1.152 quarantining records a row in the
// `quarantined_media_changes` stream, which only its writers may write
// (synapse#19558). `quarantine_media/...`, and also `room/<id>/media/quarantine`,
// `user/<id>/media/quarantine` and `media/quarantine/<server>/<id>` (matched by
// the room/user/media lines below), must reach a `quarantined_media_changes`
// writer: the media worker must be listed as one (ess-helm writes
// `[master, <media-0>]`; main stays in the list for the background update).
// The docs version read here predates that stream's section.
var MediaRepositoryEndpoints = []Endpoint{
	{Pattern: `^/_matrix/media/`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/client/v1/media/`, Balance: BalanceRoundRobin},
	{Pattern: `^/_matrix/federation/v1/media/`, Federation: true, Balance: BalanceRoundRobin},

	// "... and the following regular expressions matching media-specific
	// administration APIs"
	{Pattern: `^/_synapse/admin/v1/purge_media_cache$`, Balance: BalanceRoundRobin},
	{Pattern: `^/_synapse/admin/v1/room/.*/media.*$`, Balance: BalanceRoundRobin},
	{Pattern: `^/_synapse/admin/v1/user/.*/media.*$`, Balance: BalanceRoundRobin},
	{Pattern: `^/_synapse/admin/v1/media/.*$`, Balance: BalanceRoundRobin},
	{Pattern: `^/_synapse/admin/v1/quarantine_media/.*$`, Balance: BalanceRoundRobin},
	{Pattern: `^/_synapse/admin/v1/users/.*/media$`, Balance: BalanceRoundRobin},
}

// StreamWriterEndpoints: docs/workers.md, "Stream writers", one section per
// stream ("should be routed directly to the worker configured as the stream
// writer"). Keyed by the stream's name in `stream_writers`. No Methods: the
// docs route every method to the writer. Several paths are also in
// GenericWorkerEndpoints (GET only for pushrules, tags, account_data and
// presence; every method for the device_lists ones), so these rules must be
// matched first, and only for streams that have a writer. `events` has no
// endpoints (event persisters serve no client HTTP).
var StreamWriterEndpoints = map[string][]Endpoint{
	// "The `typing` stream"
	"typing": {
		{Pattern: `^/_matrix/client/(api/v1|r0|v3|unstable)/rooms/.*/typing`, Balance: BalanceRoundRobin},
	},
	// "The `to_device` stream"
	"to_device": {
		{Pattern: `^/_matrix/client/(r0|v3|unstable)/sendToDevice/`, Balance: BalanceRoundRobin},
	},
	// "The `account_data` stream" (GET also on generic workers)
	"account_data": {
		{Pattern: `^/_matrix/client/(r0|v3|unstable)/.*/tags`, Balance: BalanceRoundRobin},
		{Pattern: `^/_matrix/client/(r0|v3|unstable)/.*/account_data`, Balance: BalanceRoundRobin},
	},
	// "The `receipts` stream" (multiple writers)
	"receipts": {
		{Pattern: `^/_matrix/client/(r0|v3|unstable)/rooms/.*/receipt`, Balance: BalanceRoundRobin},
		{Pattern: `^/_matrix/client/(r0|v3|unstable)/rooms/.*/read_markers`, Balance: BalanceRoundRobin},
	},
	// "The `presence` stream" (GET also on generic workers)
	"presence": {
		{Pattern: `^/_matrix/client/(api/v1|r0|v3|unstable)/presence/`, Balance: BalanceRoundRobin},
	},
	// "The `push_rules` stream": the writer takes every method; generic
	// workers take GET only, so without a writer PUT/DELETE go to main.
	"push_rules": {
		{Pattern: `^/_matrix/client/(api/v1|r0|v3|unstable)/pushrules/`, Balance: BalanceRoundRobin},
	},
	// "The `device_lists` stream" (multiple writers; "can be handled by any
	// worker", and all five are in the generic list too)
	"device_lists": {
		{Pattern: `^/_matrix/client/(r0|v3)/delete_devices$`, Balance: BalanceRoundRobin},
		{Pattern: `^/_matrix/client/(api/v1|r0|v3|unstable)/devices(/|$)`, Balance: BalanceRoundRobin},
		{Pattern: `^/_matrix/client/(r0|v3|unstable)/keys/upload`, Balance: BalanceRoundRobin},
		{Pattern: `^/_matrix/client/(api/v1|r0|v3|unstable)/keys/device_signing/upload$`, Balance: BalanceRoundRobin},
		{Pattern: `^/_matrix/client/(api/v1|r0|v3|unstable)/keys/signatures/upload$`, Balance: BalanceRoundRobin},
	},
	// `thread_subscriptions` (MSC4306, multiple writers): synapse#18674 made
	// it a stream with writers and registered the `thread_subscriptions`
	// worker type in Synapse's docker/configure_workers_and_start.py, which
	// routes this pattern to it; synapse#19746 documents the stream writer
	// in docs/workers.md. It is not in the generic list: without a writer
	// these go to main.
	"thread_subscriptions": {
		{Pattern: `^/_matrix/client/unstable/io.element.msc4306/.*`, Balance: BalanceRoundRobin},
	},
}

// UserDirectoryEndpoints: docs/workers.md, "Updating the User Directory"
// (`update_user_directory_from_worker`). The docs add: "The above endpoints
// can be routed to any worker, though you may choose to route it to the
// chosen user directory worker" (it is in the generic list as well).
var UserDirectoryEndpoints = []Endpoint{
	{Pattern: `^/_matrix/client/(r0|v3|unstable)/user_directory/search$`, Balance: BalanceRoundRobin},
}

// MainOnlyExamples are concrete requests that match none of the lists above
// (even with every stream writer present) and so must reach the main process.
var MainOnlyExamples = []struct{ Method, Path, Why string }{
	{"POST", "/_matrix/client/v3/logout", "logout is in no worker list"},
	{"POST", "/_matrix/client/v3/logout/all", "logout is in no worker list"},
	{"POST", "/_matrix/client/v3/account/password", "only account/3pid, whoami and deactivate are listed for workers"},
	{"POST", "/_matrix/client/v3/account/3pid/add", "account/3pid$ is anchored: its sub-paths are not listed"},
	{"GET", "/_synapse/admin/v1/server_version", "admin APIs are main-only except the documented media and /rooms/<id> ones"},
	{"PUT", "/_synapse/admin/v2/users/@alice:example.org", "creating or modifying a user is main-only: workers take GET only"},
	{"POST", "/_synapse/admin/v2/users/@alice:example.org", "workers take GET only on admin v2 users"},
	{"GET", "/_synapse/admin/v1/username_available?username=bob", "workers serve it only with MSC3861 enabled; we do not route it"},
	{"POST", "/_synapse/admin/v1/register", "admin registration is main-only"},
	{"GET", "/_synapse/admin/v1/rooms/!abc:example.org/members", "only /_synapse/admin/v1/rooms/<room_id> itself is listed"},
	{"POST", "/_synapse/admin/v1/purge_history/!abc:example.org", "purge history admin API is main-only"},
	{"GET", "/_matrix/client/v3/auth/m.login.recaptcha/fallback/web", "auth fallback pages are main-only (Synapse's docker script wrongly sends them to client_reader)"},
	{"GET", "/_matrix/client/r0/auth/m.login.terms/fallback/web", "auth fallback pages are main-only"},
	{"POST", "/_matrix/client/unstable/org.matrix.msc4140/delayed_events/syd_abcdefghij", "MSC4140: the action-in-body POST is main-only"},
	{"POST", "/_matrix/client/unstable/org.matrix.msc4140/delayed_events/syd_abcdefghij/send", "MSC4140: only /restart runs on workers; send is main-only"},
	{"PUT", "/_matrix/client/unstable/org.matrix.msc4140/delayed_events/syd_abcdefghij/cancel", "MSC4140: only /restart runs on workers; cancel is main-only"},
	{"PUT", "/_matrix/client/unstable/org.matrix.msc4140/delayed_events/syd_abcdefghij", "MSC4140: writes to a delayed event other than /restart are main-only"},
	{"POST", "/_matrix/client/v3/pushers/set", "pushers are in no worker list"},
	{"GET", "/_matrix/client/v3/pushers", "pushers are in no worker list"},
	{"POST", "/_matrix/client/v3/rooms/!abc:example.org/upgrade", "room upgrade is in no worker list"},
	{"POST", "/_matrix/client/v3/user/@alice:example.org/openid/request_token", "openid token is in no worker list"},
	{"POST", "/_matrix/client/v1/login/get_token", "login$ is anchored: login/get_token is not listed"},
	{"POST", "/_matrix/client/v3/refresh", "token refresh is in no worker list"},
	{"PUT", "/_matrix/client/v3/directory/list/room/!abc:example.org", "only directory/room/ is listed, not directory/list/room/"},
	{"GET", "/_matrix/key/v2/server", "only key/v2/query is listed; the server's own keys come from main"},
}
