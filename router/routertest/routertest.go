// Package routertest runs the rendered HAProxy configuration for real, on
// loopback, with every backend server played by a local HTTP server that
// answers with who it is. Tests and benchmarks use it to see where HAProxy
// actually sends a request.
package routertest

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"synapse/internal/realtools"
	"synapse/plan"
	"synapse/router"
)

// Response headers of the fake upstreams.
const (
	HeaderBackend = "X-Test-Backend" // the HAProxy backend the server line belongs to
	HeaderServer  = "X-Test-Server"  // the instance (pod) name
	HeaderRole    = "X-Test-Role"    // the process role
	HeaderURI     = "X-Test-Uri"     // the request URI as the upstream saw it
	HeaderXFF     = "X-Test-Xff"     // X-Forwarded-For as the upstream saw it
	HeaderXFP     = "X-Test-Xfp"     // X-Forwarded-Proto as the upstream saw it
)

// HAProxy returns the haproxy binary ($HAPROXY, then PATH, then
// /usr/sbin/haproxy). Without one the test is skipped, unless
// REQUIRE_REAL_TOOLS=1 (CI), where it fails.
func HAProxy(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("HAPROXY"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("HAPROXY=%s: %v", p, err)
		}
		return p
	}
	if p, err := exec.LookPath("haproxy"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/haproxy"); err == nil {
		return "/usr/sbin/haproxy"
	}
	realtools.Missing(t, "haproxy not found (apt-get install haproxy)")
	return ""
}

// WriteFiles writes haproxy.cfg and the maps into dir and returns the
// config's path. Render must have been given ConfigDir: dir.
func WriteFiles(dir string, f *router.Files) (string, error) {
	for name, content := range f.Maps {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return "", err
		}
	}
	cfg := filepath.Join(dir, router.ConfigFileName)
	return cfg, os.WriteFile(cfg, []byte(f.Config), 0o644)
}

// Check runs `haproxy -dW -c` (warnings are errors) on a config written by
// WriteFiles and returns its output.
func Check(bin, cfg string) (string, error) {
	out, err := exec.Command(bin, "-dW", "-c", "-f", cfg).CombinedOutput()
	return string(out), err
}

// Options tune StartLocal.
type Options struct {
	// Present says whether an instance exists (its server is up); absent
	// instances are rendered disabled, as absent pods are down. Default:
	// ordinal < proc.Replicas.
	Present func(proc plan.Process, ordinal int) bool
	// WellKnown is passed to router.Options.WellKnown.
	WellKnown map[string]string
	// Logf receives HAProxy's output when the test fails (default t.Logf).
	Logf func(format string, args ...any)
}

// Local is a running HAProxy and its fake upstreams.
type Local struct {
	URL      string // the client frontend, http://127.0.0.1:<port>
	StatsURL string // the stats frontend
	Files    *router.Files
	Client   *http.Client

	ups     *upstreams // nil for StartConfig
	cmd     *exec.Cmd
	out     *tailBuffer
	exited  chan struct{} // closed when haproxy exits
	exitErr error
}

// Answer is who served a request.
type Answer struct {
	Status  int
	Backend string
	Server  string
	Role    plan.Role
	URI     string
	XFF     string
	XFP     string
}

// StartLocal renders p with every server on its own loopback HTTP server,
// starts haproxy on loopback ports and waits until every present server is
// UP. Everything stops at the end of the test.
func StartLocal(t testing.TB, p *plan.Plan, o Options) *Local {
	t.Helper()
	bin := HAProxy(t)
	if o.Present == nil {
		o.Present = func(proc plan.Process, i int) bool { return i < proc.Replicas }
	}
	ups := &upstreams{t: t}
	t.Cleanup(ups.close)
	dir := t.TempDir()
	client, stats := freePort(t), freePort(t)
	files, err := router.Render(p, router.Options{
		ConfigDir: dir,
		WellKnown: o.WellKnown,
		// A test needs few connections, and a CI runner's file limit may
		// not allow the production figure (HAProxy needs 2 per connection).
		MaxConn:    1000,
		ClientBind: client,
		StatsBind:  stats,
		Servers: func(backend string, proc plan.Process, i int) string {
			if !o.Present(proc, i) {
				return ""
			}
			return ups.addr(backend, proc, i)
		},
	})
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	cfg, err := WriteFiles(dir, files)
	if err != nil {
		t.Fatal(err)
	}
	l := run(t, bin, cfg, client, stats, o.Logf)
	l.Files, l.ups = files, ups
	return l
}

// StartConfig runs haproxy on a configuration the caller writes (a
// baseline for a benchmark, say), on loopback ports it is given: config
// receives the client and stats bind addresses and returns haproxy.cfg. The
// config must answer HealthURI on the client port and serve the stats page
// (StatsURI) on the stats port, as rendered configs do: StartLocal's
// readiness check runs against them. Upstreams are the caller's (e.g.
// another Local's, see Upstream). o.Present is not used.
func StartConfig(t testing.TB, config func(clientBind, statsBind string) string, o Options) *Local {
	t.Helper()
	bin := HAProxy(t)
	client, stats := freePort(t), freePort(t)
	cfg := filepath.Join(t.TempDir(), router.ConfigFileName)
	if err := os.WriteFile(cfg, []byte(config(client, stats)), 0o644); err != nil {
		t.Fatal(err)
	}
	return run(t, bin, cfg, client, stats, o.Logf)
}

// PID is the haproxy process's id (for benchmarks that read its CPU time).
func (l *Local) PID() int { return l.cmd.Process.Pid }

// Upstream returns the loopback address of the fake server playing server
// (an instance name, as in HeaderServer) of backend, or "" when there is
// none (an absent instance, or a Local from StartConfig).
func (l *Local) Upstream(backend, server string) string {
	if l.ups == nil {
		return ""
	}
	l.ups.mu.Lock()
	defer l.ups.mu.Unlock()
	return l.ups.byKey[backend+"/"+server]
}

// run starts haproxy on cfg and waits until it is ready; it stops at the
// end of the test.
func run(t testing.TB, bin, cfg, client, stats string, logf func(string, ...any)) *Local {
	t.Helper()
	l := &Local{
		URL: "http://" + client, StatsURL: "http://" + stats,
		Client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			MaxIdleConnsPerHost: 64, DisableCompression: true,
		}},
		out: &tailBuffer{max: 64 << 10}, exited: make(chan struct{}),
	}
	l.cmd = exec.Command(bin, "-db", "-f", cfg)
	l.cmd.Stdout, l.cmd.Stderr = l.out, l.out
	if err := l.cmd.Start(); err != nil {
		t.Fatalf("start haproxy: %v", err)
	}
	go func() { l.exitErr = l.cmd.Wait(); close(l.exited) }()
	if logf == nil {
		logf = t.Logf
	}
	t.Cleanup(func() {
		l.stop()
		if t.Failed() {
			logf("haproxy output (tail):\n%s", l.out.String())
		}
	})
	if err := l.waitReady(10 * time.Second); err != nil {
		t.Fatalf("haproxy not ready: %v\n%s", err, l.out.String())
	}
	return l
}

// Do sends one request through HAProxy.
func (l *Local) Do(method, uri string, hdr http.Header) (Answer, error) {
	req, err := http.NewRequest(method, l.URL+uri, nil)
	if err != nil {
		return Answer{}, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if h := hdr.Get("Host"); h != "" {
		req.Host = h // net/http sends req.Host, not a Host header
	}
	resp, err := l.Client.Do(req)
	if err != nil {
		return Answer{}, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return Answer{
		Status:  resp.StatusCode,
		Backend: resp.Header.Get(HeaderBackend),
		Server:  resp.Header.Get(HeaderServer),
		Role:    plan.Role(resp.Header.Get(HeaderRole)),
		URI:     resp.Header.Get(HeaderURI),
		XFF:     resp.Header.Get(HeaderXFF),
		XFP:     resp.Header.Get(HeaderXFP),
	}, nil
}

// ServerStatus returns HAProxy's view of every server: "backend/server" →
// status (UP, DOWN, MAINT, …), from the stats page's CSV.
func (l *Local) ServerStatus() (map[string]string, error) {
	resp, err := l.Client.Get(l.StatsURL + router.StatsURI + ";csv")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	r := csv.NewReader(resp.Body)
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("empty stats")
	}
	status := -1
	for i, h := range rows[0] {
		if h == "status" {
			status = i
		}
	}
	if status < 0 {
		return nil, fmt.Errorf("no status column in %v", rows[0])
	}
	out := map[string]string{}
	for _, row := range rows[1:] {
		if len(row) > status && row[1] != "FRONTEND" && row[1] != "BACKEND" {
			out[row[0]+"/"+row[1]] = row[status]
		}
	}
	return out, nil
}

func (l *Local) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-l.exited:
			return fmt.Errorf("haproxy exited: %v", l.exitErr)
		default:
		}
		last = l.ready()
		if last == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return last
}

// ready: the health URI answers and every enabled server is UP. Servers
// start UP ("UP 1/3" until their first check, which may come a whole check
// interval later); a failed check would show as DOWN.
func (l *Local) ready() error {
	resp, err := l.Client.Get(l.URL + router.HealthURI)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", router.HealthURI, resp.Status)
	}
	st, err := l.ServerStatus()
	if err != nil {
		return err
	}
	for s, v := range st {
		if !strings.HasPrefix(v, "UP") && v != "MAINT" && v != "no check" {
			return fmt.Errorf("server %s is %s", s, v)
		}
	}
	return nil
}

func (l *Local) stop() {
	if l.cmd.Process == nil {
		return
	}
	_ = l.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-l.exited:
	case <-time.After(5 * time.Second):
		_ = l.cmd.Process.Kill()
		<-l.exited
	}
	l.Client.CloseIdleConnections()
}

// upstreams are the fake pods: one loopback HTTP server per server line.
type upstreams struct {
	t       testing.TB
	mu      sync.Mutex
	byKey   map[string]string
	servers []*http.Server
}

func (u *upstreams) addr(backend string, proc plan.Process, i int) string {
	u.mu.Lock()
	defer u.mu.Unlock()
	key := backend + "/" + proc.InstanceName(i)
	if a, ok := u.byKey[key]; ok {
		return a
	}
	ln, err := listenUpstream()
	if err != nil {
		u.t.Fatalf("listen: %v", err)
	}
	name, role := proc.InstanceName(i), string(proc.Role)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set(HeaderBackend, backend)
		h.Set(HeaderServer, name)
		h.Set(HeaderRole, role)
		h.Set(HeaderURI, r.RequestURI)
		h.Set(HeaderXFF, strings.Join(r.Header.Values("X-Forwarded-For"), ", "))
		h.Set(HeaderXFP, r.Header.Get("X-Forwarded-Proto"))
		w.WriteHeader(http.StatusOK)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	if u.byKey == nil {
		u.byKey = map[string]string{}
	}
	u.byKey[key] = ln.Addr().String()
	u.servers = append(u.servers, srv)
	return ln.Addr().String()
}

func (u *upstreams) close() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, s := range u.servers {
		_ = s.Close()
	}
}

// reserved holds the addresses freePort handed out for haproxy to bind
// ("127.0.0.1:port" → true), never reused in this process: an upstream
// listener opened between freePort and haproxy's bind (the kernel may offer
// the port again once freePort closes it) must not take one.
var reserved sync.Map

// freePort returns a loopback address whose port was free a moment ago
// (HAProxy cannot report a port it picked itself) and that no other Local
// of this process was given.
func freePort(t testing.TB) string {
	ln, err := listenLoopback(true)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// listenUpstream opens a loopback listener on a port freePort has not
// handed out.
func listenUpstream() (net.Listener, error) { return listenLoopback(false) }

// listenLoopback opens a listener on a loopback port that is not reserved;
// with reserve, it reserves that port for haproxy. Rejected listeners stay
// open until it returns, so the kernel offers another port meanwhile.
func listenLoopback(reserve bool) (net.Listener, error) {
	var held []net.Listener
	defer func() {
		for _, ln := range held {
			ln.Close()
		}
	}()
	for i := 0; i < 100; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		var taken bool
		if reserve {
			_, taken = reserved.LoadOrStore(ln.Addr().String(), true)
		} else {
			_, taken = reserved.Load(ln.Addr().String())
		}
		if !taken {
			return ln, nil
		}
		held = append(held, ln)
	}
	return nil, fmt.Errorf("no loopback port outside the reserved ones in 100 tries")
}

// tailBuffer keeps the last max bytes written (HAProxy logs every request).
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   bytes.Buffer
}

func (w *tailBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
	if over := w.b.Len() - w.max; over > 0 {
		w.b.Next(over)
	}
	return len(p), nil
}

func (w *tailBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
