package router

import (
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"synapse/config"
	"synapse/plan"
)

// This file holds what both the unit tests (package router) and the live
// tests (package router_test) check: the stacks and the request table.
// Exported names here are visible to router_test only.

// Stack is a plan to route, built from a stack file as the program does.
type Stack struct {
	Name string
	Plan *plan.Plan
	// column picks this stack's column of a request case.
	column func(Want) string
}

// Want is the backend that must serve a request on this stack: MAS's, for
// the login compatibility endpoints when the stack runs MAS.
func (s Stack) Want(w Want) string {
	if _, mas := s.Plan.MAS(); mas && w.MAS != "" {
		return w.MAS
	}
	return s.column(w)
}

// LoadPlan builds the plan of a stack file, after edit (nil: none) changes
// its raw config.
func LoadPlan(t testing.TB, file string, edit func(raw map[string]string)) *plan.Plan {
	t.Helper()
	raw, err := config.ReadStackFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(raw)
	}
	c, err := config.Parse(raw)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return plan.Build(c)
}

// SetPools merges pool overrides into raw["pools"] (a JSON object).
func SetPools(t testing.TB, raw map[string]string, pools map[string]any) {
	t.Helper()
	cur := map[string]any{}
	if s := raw["pools"]; s != "" {
		if err := json.Unmarshal([]byte(s), &cur); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range pools {
		cur[k] = v
	}
	b, err := json.Marshal(cur)
	if err != nil {
		t.Fatal(err)
	}
	raw["pools"] = string(b)
}

func noFederation(raw map[string]string) { raw["federation"] = `{"enabled":false}` }

func noMAS(raw map[string]string) { raw["mas"] = `{"enabled":false}` }

// Stacks are dev, prod, prod with federation off (all three with MAS, the
// default) and prod without MAS.
func Stacks(t testing.TB) []Stack {
	return []Stack{
		{"dev", LoadPlan(t, "../Pulumi.dev.yaml", nil), func(w Want) string { return w.Dev }},
		{"prod", LoadPlan(t, "../Pulumi.prod.yaml", nil), func(w Want) string { return w.Prod }},
		{"prod-nofed", LoadPlan(t, "../Pulumi.prod.yaml", noFederation), func(w Want) string { return w.NoFed }},
		{"prod-nomas", LoadPlan(t, "../Pulumi.prod.yaml", noMAS), func(w Want) string { return w.Prod }},
	}
}

// InitialSyncStack is prod with an initial-sync pool: full syncs (no
// `since`) go to it, incremental ones to the synchrotrons.
func InitialSyncStack(t testing.TB) Stack {
	p := LoadPlan(t, "../Pulumi.prod.yaml", func(raw map[string]string) {
		SetPools(t, raw, map[string]any{"initialSync": map[string]any{"replicas": 2}})
	})
	return Stack{"prod-initialsync", p, func(w Want) string { return w.Prod }}
}

// Want is the backend that must serve a request on each stack, and on
// every stack with MAS when MAS is set (MAS owns the endpoint).
type Want struct{ Dev, Prod, NoFed, MAS string }

// Backend names, as the plan names them (and HAProxy's stats show them).
const (
	bMain     = "main"
	bGeneric  = "generic-worker"
	bRoom     = "generic-worker-room"
	bOrigin   = "generic-worker-origin"
	bSync     = "synchrotron-user"
	bInitial  = "initial-synchrotron-user"
	bMedia    = "media-repository"
	bMedia0   = "media-repository-0"
	bTyping   = "typing-writer"
	bToDevice = "to-device-writer"
	bPresence = "presence-writer"
	bReceipts = "receipts-writer"
	bPushRule = "push-rules-writer"
	bAccount  = "account-data-writer"
	bDevices  = "device-lists-writer"
	bUserDir  = "background-worker"
	bMAS      = "mas"
)

func all(b string) Want { return Want{b, b, b, ""} }

// fed: a federation endpoint; federation is off in dev and prod-nofed.
func fed(b string) Want { return Want{bMain, b, bMain, ""} }

// prodOnly: a pool or writer that prod has and dev has not (dev gets d).
func prodOnly(p, d string) Want { return Want{d, p, p, ""} }

// masDocsRoute is the location MAS's reverse-proxy docs
// (docs/setup/reverse-proxy.md) send to MAS, written here from the docs
// rather than taken from the plan.
var masDocsRoute = regexp.MustCompile(`^/_matrix/client/(.*)/(login|logout|refresh)`)

// compat: a login compatibility endpoint: MAS serves it when it runs
// (its reverse-proxy docs), Synapse's b otherwise.
func compat(b string) Want { w := all(b); w.MAS = bMAS; return w }

// RequestCase is one request and who must serve it.
type RequestCase struct {
	Method, URI string
	Want        Want
}

// Since says whether the request carries a sync `since` token.
func (c RequestCase) Since() bool {
	u, err := url.ParseRequestURI(c.URI)
	if err != nil {
		panic(err)
	}
	return u.Query().Has("since")
}

// Path is the URI without its query, as HAProxy's `path` sees it.
func (c RequestCase) Path() string {
	p, _, _ := strings.Cut(c.URI, "?")
	return p
}

// RequestCases are written from Synapse's docs/workers.md regular
// expressions (and DESIGN.md's main-only traps), not from the plan: the plan
// is what they check.
var RequestCases = []RequestCase{
	// Sync: sticky synchrotrons, every method, (r0|v3) only.
	{"GET", "/_matrix/client/v3/sync", all(bSync)},
	{"GET", "/_matrix/client/r0/sync?since=s72594_4483_1934&timeout=30000", all(bSync)},
	{"POST", "/_matrix/client/v3/sync", all(bSync)},
	{"GET", "/_matrix/client/v3/events?from=s1", all(bSync)},
	{"GET", "/_matrix/client/api/v1/events", all(bSync)},
	{"GET", "/_matrix/client/v3/initialSync", all(bSync)},
	{"GET", "/_matrix/client/r0/rooms/!room:example.org/initialSync", all(bSync)},
	{"GET", "/_matrix/client/unstable/sync", all(bMain)},            // sync$ lists (r0|v3) only
	{"GET", "/_matrix/client/api/v1/sync", all(bMain)},              // idem
	{"GET", "/_matrix/client/v3/sync/extra", all(bMain)},            // sync$ is anchored
	{"GET", "/_matrix/client/v3/rooms/a/b/initialSync", all(bMain)}, // [^/]+: one segment

	// Main only: in no worker list.
	{"POST", "/_matrix/client/v3/logout", compat(bMain)},
	{"POST", "/_matrix/client/v3/logout/all", compat(bMain)},
	{"POST", "/_matrix/client/v3/account/password", all(bMain)},
	{"POST", "/_matrix/client/v3/account/3pid/add", all(bMain)},
	{"GET", "/_synapse/admin/v1/server_version", all(bMain)},
	{"GET", "/_synapse/admin/v2/users/@alice:example.org", all(bGeneric)}, // GET only (v1.157.0)
	{"GET", "/_synapse/admin/v2/users/@alice:example.org/devices", all(bMain)},
	{"GET", "/_synapse/admin/v1/rooms/!room:example.org/members", all(bMain)},
	{"GET", "/_synapse/admin/v1/users/@alice:example.org/media/extra", all(bMain)}, // users/.*/media$ is anchored
	{"GET", "/_matrix/client/v3/auth/m.login.recaptcha/fallback/web?session=abc", all(bMain)},
	{"GET", "/_matrix/client/v3/login/sso/redirect?redirectUrl=https%3A%2F%2Fapp.example.org", compat(bMain)},
	{"GET", "/_synapse/client/pick_idp", all(bMain)},
	{"POST", "/_matrix/client/unstable/org.matrix.msc4140/delayed_events/syd_abcdefghij", all(bMain)},
	{"GET", "/_matrix/client/unstable/org.matrix.msc4140/delayed_events", all(bGeneric)},
	{"POST", "/_matrix/client/unstable/org.matrix.msc4140/delayed_events/syd_abcdefghij/restart", all(bGeneric)},
	{"POST", "/_matrix/client/unstable/org.matrix.msc4140/delayed_events/syd_abcdefghij/cancel", all(bMain)},
	{"GET", "/_synapse/media/anything", all(bMain)}, // no process serves /_synapse/media/
	{"GET", "/_matrix/client/v3/pushers", all(bMain)},
	{"POST", "/_matrix/client/v3/rooms/!room:example.org/upgrade", all(bMain)},
	{"POST", "/_matrix/client/v1/login/get_token", compat(bMain)},
	{"POST", "/_matrix/client/v3/refresh", compat(bMain)},
	{"PUT", "/_matrix/client/v3/directory/list/room/!room:example.org", all(bMain)},
	{"GET", "/_matrix/key/v2/server", all(bMain)},
	{"GET", "/_matrix/federation/v1/openid/userinfo?access_token=abc", all(bMain)},
	{"GET", "/.well-known/matrix/client", all(bMain)},

	// Stream writers: every method; where generic workers take GET only,
	// writes go to main when the writer does not exist (dev).
	{"PUT", "/_matrix/client/v3/rooms/!room:example.org/typing/@alice:example.org", all(bTyping)},
	{"PUT", "/_matrix/client/r0/sendToDevice/m.room.encrypted/txn1", all(bToDevice)},
	{"PUT", "/_matrix/client/v3/presence/@alice:example.org/status", all(bPresence)},
	{"GET", "/_matrix/client/v3/presence/@alice:example.org/status", all(bPresence)},
	{"POST", "/_matrix/client/v3/rooms/!room:example.org/receipt/m.read/$event", all(bReceipts)},
	{"POST", "/_matrix/client/v3/rooms/!room:example.org/read_markers", all(bReceipts)},
	{"GET", "/_matrix/client/v3/pushrules/", prodOnly(bPushRule, bGeneric)},
	{"HEAD", "/_matrix/client/v3/pushrules/", prodOnly(bPushRule, bMain)}, // generic workers: GET only
	{"PUT", "/_matrix/client/v3/pushrules/global/override/my.rule", prodOnly(bPushRule, bMain)},
	{"DELETE", "/_matrix/client/v3/pushrules/global/override/my.rule", prodOnly(bPushRule, bMain)},
	{"PUT", "/_matrix/client/v3/user/@alice:example.org/account_data/m.direct", prodOnly(bAccount, bMain)},
	{"GET", "/_matrix/client/v3/user/@alice:example.org/account_data/m.direct", prodOnly(bAccount, bGeneric)},
	{"PUT", "/_matrix/client/v3/user/@alice:example.org/rooms/!room:example.org/tags/u.work", prodOnly(bAccount, bMain)},
	{"GET", "/_matrix/client/v3/user/@alice:example.org/rooms/!room:example.org/tags", prodOnly(bAccount, bGeneric)},
	{"POST", "/_matrix/client/v3/keys/upload", prodOnly(bDevices, bGeneric)},
	{"POST", "/_matrix/client/v3/keys/device_signing/upload", prodOnly(bDevices, bGeneric)},
	{"POST", "/_matrix/client/v3/keys/signatures/upload", prodOnly(bDevices, bGeneric)},
	{"POST", "/_matrix/client/v3/delete_devices", prodOnly(bDevices, bGeneric)},
	{"GET", "/_matrix/client/v3/devices", prodOnly(bDevices, bGeneric)},
	{"PUT", "/_matrix/client/v3/devices/ABCDEFGHIJ", prodOnly(bDevices, bGeneric)},
	{"PUT", "/_matrix/client/unstable/io.element.msc4306/rooms/!room:example.org/thread/$root/subscription", all(bMain)},

	// Media: the media pool (main runs enable_media_repo: false, no
	// fallback); media admin APIs on media-0 (quarantined_media_changes).
	{"GET", "/_matrix/media/v3/download/example.org/abcdefgh", all(bMedia)},
	{"POST", "/_matrix/media/v3/upload?filename=cat.png", all(bMedia)},
	{"GET", "/_matrix/media/r0/thumbnail/example.org/abcdefgh?width=32&height=32", all(bMedia)},
	{"GET", "/_matrix/client/v1/media/download/example.org/abcdefgh", all(bMedia)},
	{"GET", "/_matrix/client/v1/media/config", all(bMedia)},
	{"GET", "/_matrix/client/v1/media/preview_url?url=https%3A%2F%2Fexample.org", all(bMedia)},
	{"GET", "/_synapse/admin/v1/media/example.org/abcdefgh", all(bMedia0)},
	{"DELETE", "/_synapse/admin/v1/media/example.org/abcdefgh", all(bMedia0)},
	{"POST", "/_synapse/admin/v1/media/quarantine/example.org/abcdefgh", all(bMedia0)},
	{"POST", "/_synapse/admin/v1/purge_media_cache?before_ts=1700000000000", all(bMedia0)},
	{"POST", "/_synapse/admin/v1/room/!room:example.org/media/quarantine", all(bMedia0)},
	{"GET", "/_synapse/admin/v1/room/!room:example.org/media", all(bMedia0)},
	{"POST", "/_synapse/admin/v1/user/@alice:example.org/media/quarantine", all(bMedia0)},
	{"GET", "/_synapse/admin/v1/users/@alice:example.org/media", all(bMedia0)},
	{"POST", "/_synapse/admin/v1/quarantine_media/example.org/abcdefgh", all(bMedia0)},
	{"GET", "/_matrix/federation/v1/media/download/abcdefgh", fed(bMedia)},

	// Federation: generic workers, inbound transactions by origin; main
	// (which serves no federation listener) when federation is off.
	{"PUT", "/_matrix/federation/v1/send/1700000000000", fed(bOrigin)},
	{"GET", "/_matrix/federation/v1/version", fed(bGeneric)},
	{"GET", "/_matrix/federation/v1/event/$event", fed(bGeneric)},
	{"GET", "/_matrix/federation/v1/state_ids/!room:example.org?event_id=$event", fed(bGeneric)},
	{"GET", "/_matrix/federation/v1/make_join/!room:example.org/@bob:other.org", fed(bGeneric)},
	{"PUT", "/_matrix/federation/v2/send_join/!room:example.org/$event", fed(bGeneric)},
	{"PUT", "/_matrix/federation/v2/invite/!room:example.org/$event", fed(bGeneric)},
	{"POST", "/_matrix/key/v2/query", fed(bGeneric)},
	{"GET", "/_matrix/federation/v1/user/devices/@alice:example.org", fed(bGeneric)},
	{"GET", "/_matrix/federation/v1/hierarchy/!room:example.org", fed(bGeneric)},
	{"POST", "/_matrix/federation/v1/get_missing_events/!room:example.org", fed(bGeneric)},
	{"GET", "/_matrix/federation/v1/backfill/!room:example.org?v=$event&limit=10", fed(bGeneric)},
	{"GET", "/_matrix/federation/v1/publicRooms", fed(bGeneric)},

	// Client API on generic workers; pagination sticky per room.
	{"POST", "/_matrix/client/v3/createRoom", all(bGeneric)},
	{"GET", "/_matrix/client/versions", all(bGeneric)},
	{"POST", "/_matrix/client/v3/login", compat(bGeneric)},
	{"GET", "/_matrix/client/r0/login", compat(bGeneric)},
	{"POST", "/_matrix/client/v3/register", all(bGeneric)},
	{"GET", "/_matrix/client/v3/register/available?username=bob", all(bGeneric)},
	{"GET", "/_matrix/client/v1/register/m.login.registration_token/validity?token=abc", all(bGeneric)},
	{"GET", "/_matrix/client/v3/password_policy", all(bGeneric)},
	{"GET", "/_matrix/client/v3/account/whoami", all(bGeneric)},
	{"PUT", "/_matrix/client/v3/rooms/!room:example.org/send/m.room.message/txn1", all(bGeneric)},
	{"PUT", "/_matrix/client/v3/rooms/!room:example.org/state/m.room.name/", all(bGeneric)},
	{"GET", "/_matrix/client/v3/rooms/!room:example.org/state", all(bGeneric)},
	{"PUT", "/_matrix/client/v3/rooms/!room:example.org/redact/$event/txn2", all(bGeneric)},
	{"POST", "/_matrix/client/v3/rooms/!room:example.org/join", all(bGeneric)},
	{"POST", "/_matrix/client/v3/join/%23lobby:example.org", all(bGeneric)},
	{"GET", "/_matrix/client/v3/rooms/!room:example.org/messages?dir=b&limit=20", all(bRoom)},
	{"GET", "/_matrix/client/api/v1/rooms/!room:example.org/messages", all(bRoom)},
	{"GET", "/_matrix/client/v3/rooms/!room:example.org/members", all(bGeneric)},
	{"GET", "/_matrix/client/v3/rooms/!room:example.org/context/$event", all(bGeneric)},
	{"GET", "/_matrix/client/v3/rooms/!room:example.org/event/$event", all(bGeneric)},
	{"GET", "/_matrix/client/v3/rooms/!room:example.org/aliases", all(bGeneric)},
	{"GET", "/_matrix/client/v1/rooms/!room:example.org/relations/$event", all(bGeneric)},
	{"GET", "/_matrix/client/v1/room_summary/!room:example.org?via=example.org", all(bGeneric)},
	{"POST", "/_matrix/client/v3/keys/query", all(bGeneric)},
	{"POST", "/_matrix/client/v3/keys/claim", all(bGeneric)},
	{"GET", "/_matrix/client/v3/keys/changes?from=a&to=b", all(bGeneric)},
	{"PUT", "/_matrix/client/v3/room_keys/keys?version=1", all(bGeneric)},
	{"GET", "/_matrix/client/v3/profile/@alice:example.org/displayname", all(bGeneric)},
	{"POST", "/_matrix/client/v3/user_directory/search", prodOnly(bUserDir, bGeneric)},
	{"GET", "/_matrix/client/v3/capabilities", all(bGeneric)},
	{"POST", "/_matrix/client/v3/user/@alice:example.org/filter", all(bGeneric)},
	{"GET", "/_matrix/client/v3/user/@alice:example.org/filter/1", all(bGeneric)},
	{"GET", "/_matrix/client/v3/directory/room/%23lobby:example.org", all(bGeneric)},
	{"GET", "/_matrix/client/v3/joined_rooms", all(bGeneric)},
	{"GET", "/_matrix/client/v3/notifications", all(bGeneric)},
	{"GET", "/_matrix/client/v3/voip/turnServer", all(bGeneric)},
	{"POST", "/_matrix/client/v3/search", all(bGeneric)},
	{"GET", "/_synapse/admin/v1/rooms/!room:example.org", all(bGeneric)},
	{"DELETE", "/_synapse/admin/v1/rooms/!room:example.org", all(bGeneric)},
}

// InitialSyncCases: with an initial-sync pool, the `since` parameter
// decides between it and the synchrotrons.
var InitialSyncCases = []RequestCase{
	{"GET", "/_matrix/client/v3/sync", all(bInitial)},
	{"GET", "/_matrix/client/v3/sync?filter=0&timeout=0", all(bInitial)},
	{"GET", "/_matrix/client/v3/sync?since=s1_2_3", all(bSync)},
	{"GET", "/_matrix/client/v3/sync?timeout=30000&since=s1_2_3", all(bSync)},
	{"GET", "/_matrix/client/v3/initialSync", all(bInitial)},
	{"GET", "/_matrix/client/v3/pushrules/", all(bPushRule)},
	{"GET", "/_matrix/client/v3/logout", compat(bMain)},
}

// AllCases adds plan.MainOnlyExamples (main on every stack) to the table.
func AllCases() []RequestCase {
	out := append([]RequestCase{}, RequestCases...)
	for _, e := range plan.MainOnlyExamples {
		w := all(bMain)
		if masDocsRoute.MatchString(e.Path) {
			w = compat(bMain)
		}
		out = append(out, RequestCase{e.Method, e.Path, w})
	}
	return out
}
