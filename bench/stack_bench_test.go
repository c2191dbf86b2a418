package bench

import (
	"sync"
	"testing"

	"synapse/config"
	"synapse/internal/mockstack"
	"synapse/stack"
)

// prepared is a Case ready to run: validated options and what one run of
// the program registers.
type prepared struct {
	name       string
	opts       mockstack.Options
	resources  int // recorded resources (components included)
	inputBytes int // JSON size of all recorded inputs
}

var (
	prepareOnce sync.Once
	preparedAll []prepared
	prepareErr  error
)

// prepare runs every case once (outside any timing) and caches the result
// for the whole test binary: the floor needs the stack's resource count.
func prepare(tb testing.TB) []prepared {
	tb.Helper()
	prepareOnce.Do(func() {
		for _, c := range Cases {
			raw, err := c.Raw("..")
			if err != nil {
				prepareErr = err
				return
			}
			opts, err := Options(c.Name, raw)
			if err != nil {
				prepareErr = err
				return
			}
			s, err := mockstack.Run(stack.Deploy, opts)
			if err != nil {
				prepareErr = err
				return
			}
			in, err := InputBytes(s)
			if err != nil {
				prepareErr = err
				return
			}
			preparedAll = append(preparedAll, prepared{name: c.Name, opts: opts, resources: len(s.Resources), inputBytes: in})
		}
	})
	if prepareErr != nil {
		tb.Fatal(prepareErr)
	}
	return preparedAll
}

// reportPerResource adds the custom metrics shared by both benchmarks.
func reportPerResource(b *testing.B, resources, iters int) {
	b.ReportMetric(float64(resources), "resources")
	if resources > 0 && iters > 0 {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(resources*iters), "ns/resource")
	}
}

// BenchmarkStack evaluates the whole program under mocks: config parse,
// plan, every component and every registration through the SDK.
func BenchmarkStack(b *testing.B) {
	for _, c := range prepare(b) {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			n, iters := 0, 0
			for b.Loop() {
				got, err := RunStack(c.opts)
				if err != nil {
					b.Fatal(err)
				}
				n = got
				iters++
			}
			reportPerResource(b, n, iters)
			b.ReportMetric(float64(c.inputBytes), "input-B")
		})
	}
}

// BenchmarkEngineFloor registers the same number of trivial ConfigMaps
// through the same harness: BenchmarkStack/x ÷ BenchmarkEngineFloor/x is
// what the program costs beyond the SDK's and the mocks' per-resource cost.
func BenchmarkEngineFloor(b *testing.B) {
	for _, c := range prepare(b) {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			n, iters := 0, 0
			for b.Loop() {
				got, err := RunFloor(c.resources, c.opts)
				if err != nil {
					b.Fatal(err)
				}
				n = got
				iters++
			}
			reportPerResource(b, n, iters)
		})
	}
}

// TestStackResourceCounts guards the benchmarks' inputs: every case is a
// valid config that deploys, the sizes are in order, and the floor really
// registers as many resources as the stack it is compared with.
//
// The resource count is per role, not per replica (one StatefulSet or
// Deployment per pool, however many pods), so it grows from dev to prod
// (more roles: MinIO, HPAs, PDBs, ServiceMonitors, federation) but not
// from prod to xlarge to 100k; what grows there is the inputs (instance_map,
// HAProxy servers, worker files), which must strictly increase.
func TestStackResourceCounts(t *testing.T) {
	cases := prepare(t)
	byName := map[string]prepared{}
	for _, c := range cases {
		byName[c.name] = c
		if c.resources < 20 {
			t.Errorf("%s: %d resources registered; a whole stack registers dozens", c.name, c.resources)
		}
		floor, err := RunFloor(c.resources, c.opts)
		if err != nil {
			t.Fatalf("%s floor: %v", c.name, err)
		}
		if floor != c.resources {
			t.Errorf("%s: floor registered %d resources, stack %d", c.name, floor, c.resources)
		}
		t.Logf("%-6s %4d resources, %7d input bytes", c.name, c.resources, c.inputBytes)
	}
	order := []string{"dev", "prod", "xlarge", "100k"}
	for i, name := range order {
		if _, ok := byName[name]; !ok {
			t.Fatalf("missing case %s", name)
		}
		if i == 0 {
			continue
		}
		prev, cur := byName[order[i-1]], byName[name]
		if cur.resources < prev.resources {
			t.Errorf("%s registers %d resources, fewer than %s (%d)", name, cur.resources, prev.name, prev.resources)
		}
		if cur.inputBytes <= prev.inputBytes {
			t.Errorf("%s inputs are %d bytes, not more than %s (%d)", name, cur.inputBytes, prev.name, prev.inputBytes)
		}
	}
	if d, p := byName["dev"], byName["prod"]; d.resources >= p.resources {
		t.Errorf("dev registers %d resources, prod %d: prod has more roles", d.resources, p.resources)
	}

	// The synthetic 100K stack is what it claims to be.
	raw, err := Cases[len(Cases)-1].Raw("..")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := map[config.Pool]int{
		config.PoolGeneric: 64, config.PoolSynchrotron: 64, config.PoolMedia: 40,
		config.PoolEventPersister: 32, config.PoolFederationSender: 32, config.PoolPusher: 8,
	}
	for p, n := range want {
		if got := cfg.Pools[p].MaxReplicas(); got != n {
			t.Errorf("100k: pools.%s max replicas = %d, want %d", p, got, n)
		}
	}
	for _, s := range []string{"receipts", "device_lists"} {
		if got := cfg.StreamWriters[s]; got != config.MaxMultiWriters {
			t.Errorf("100k: streamWriters.%s = %d, want %d", s, got, config.MaxMultiWriters)
		}
	}
}
