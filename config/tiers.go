package config

// Tier is a named size: replicas, autoscaling and resources for every pool.
// The four CCU tiers reproduce the "Scaling Guidelines" of the user's
// synapse-workers README exactly; "laptop" is ours, for a single-node dev
// cluster (4 CPUs, 8 GB): one replica per pool and small requests.
type Tier struct {
	Name        string
	Description string
	Pools       map[Pool]PoolSize
	// Postgres is the resources of each Postgres instance.
	Postgres Resources
}

// Seed HPA targets (README "Horizontal Pod Autoscaling"): the seed's ranges
// are the floors of the smallest CCU tier up to these ceilings.
const (
	genericMaxReplicas     = 16
	mediaMaxReplicas       = 8
	synchrotronMaxReplicas = 16
)

func res(reqCPU, reqMem, limCPU, limMem string) Resources {
	return Resources{Requests: ResourceList{CPU: reqCPU, Memory: reqMem}, Limits: ResourceList{CPU: limCPU, Memory: limMem}}
}

// Per-pod resources from the seed ("Resources: 512Mi-1Gi memory, 250-500m
// CPU"): the lower figure is the request, the higher the limit. The seed has
// no figure for main; it runs pushers, background jobs and admin, so it gets
// the largest worker's.
var (
	genericResources    = res("250m", "512Mi", "500m", "1Gi")
	persisterResources  = res("500m", "1Gi", "1000m", "2Gi")
	fedSenderResources  = res("250m", "512Mi", "500m", "1Gi")
	mediaResources      = res("500m", "1Gi", "1000m", "2Gi")
	syncResources       = res("500m", "1Gi", "1000m", "2Gi")
	writerResources     = res("100m", "256Mi", "250m", "512Mi")
	mainResources       = res("500m", "1Gi", "2000m", "2Gi")
	laptopResources     = res("50m", "128Mi", "500m", "512Mi")
	laptopMainResources = res("100m", "256Mi", "1000m", "1Gi")
)

// Postgres instance resources per tier. The seed has no figure; these
// follow from the connection budget (ConnectionBudget: 4Mi of memory limit
// per connection) with room for shared_buffers (a quarter of the memory)
// and the page cache. Memory request = limit: CNPG recommends Guaranteed
// memory for Postgres, whose shared memory the kernel must not reclaim.
var (
	laptopPostgres = res("100m", "1Gi", "1", "1Gi")
	smallPostgres  = res("1", "4Gi", "2", "4Gi")
	mediumPostgres = res("2", "8Gi", "4", "8Gi")
	largePostgres  = res("4", "16Gi", "8", "16Gi")
	xlargePostgres = res("8", "32Gi", "16", "32Gi")
)

func fixed(n int, r Resources) PoolSize { return PoolSize{Replicas: n, Resources: r} }

func scaled(n, max, cpu, mem int, r Resources) PoolSize {
	if max < n {
		max = n
	}
	return PoolSize{Replicas: n, Autoscale: &Autoscale{Min: n, Max: max, CPUPercent: cpu, MemoryPercent: mem}, Resources: r}
}

// ccuTier builds a seed tier from its row of the scaling table.
func ccuTier(name, desc string, postgres Resources, generic, persisters, media, sync, fedSenders int) Tier {
	return Tier{Name: name, Description: desc, Postgres: postgres, Pools: map[Pool]PoolSize{
		PoolMain:             fixed(1, mainResources),
		PoolGeneric:          scaled(generic, genericMaxReplicas, 70, 80, genericResources),
		PoolSynchrotron:      scaled(sync, synchrotronMaxReplicas, 60, 70, syncResources),
		PoolInitialSync:      fixed(0, syncResources),
		PoolMedia:            scaled(media, mediaMaxReplicas, 70, 80, mediaResources),
		PoolEventPersister:   fixed(persisters, persisterResources),
		PoolFederationSender: fixed(fedSenders, fedSenderResources),
		PoolPusher:           fixed(0, genericResources),
		PoolBackground:       fixed(0, genericResources),
		PoolStreamWriter:     fixed(1, writerResources),
	}}
}

// Tiers in increasing size. The CCU rows are the seed's table verbatim.
var Tiers = []Tier{
	{Name: "laptop", Description: "dev on a single-node cluster, < 100 CCU", Postgres: laptopPostgres, Pools: map[Pool]PoolSize{
		PoolMain:             fixed(1, laptopMainResources),
		PoolGeneric:          fixed(1, laptopResources),
		PoolSynchrotron:      fixed(1, laptopResources),
		PoolInitialSync:      fixed(0, laptopResources),
		PoolMedia:            fixed(1, laptopResources),
		PoolEventPersister:   fixed(1, laptopResources),
		PoolFederationSender: fixed(1, laptopResources),
		PoolPusher:           fixed(0, laptopResources),
		PoolBackground:       fixed(0, laptopResources),
		PoolStreamWriter:     fixed(1, laptopResources),
	}},
	ccuTier("small", "100–1,000 CCU", smallPostgres, 2, 2, 2, 4, 1),
	ccuTier("medium", "1,000–5,000 CCU", mediumPostgres, 4, 4, 4, 8, 2),
	ccuTier("large", "5,000–10,000 CCU", largePostgres, 8, 6, 6, 12, 4),
	ccuTier("xlarge", "10,000–20,000 CCU", xlargePostgres, 12, 8, 8, 16, 6),
}

// TierByName returns the named tier.
func TierByName(name string) (Tier, bool) {
	for _, t := range Tiers {
		if t.Name == name {
			return t, true
		}
	}
	return Tier{}, false
}

func tierNames() string {
	s := ""
	for i, t := range Tiers {
		if i > 0 {
			s += ", "
		}
		s += t.Name + " (" + t.Description + ")"
	}
	return s
}
