package router

import (
	"fmt"
	"strconv"

	"synapse/plan"
)

// hashWeight is the weight of every server of a hash-balanced backend. With
// `hash-type consistent` a server owns weight×16 points of the ring; 100
// (1,600 points) keeps both the load spread and the share that moves when a
// server joins close to 1/N (the default weight 1 gives 16 points and shares
// that vary by ±25 %).
const hashWeight = 100

// backupID is the id of the main process's backup server: far above any pool
// ordinal, so that growing a pool never renumbers it.
const backupID = 10000

type backendData struct {
	Name     string
	Comments []string
	// Setup are http-request rules that compute the hash key.
	Setup   []string
	Balance string
	// HashType is set for hash-balanced backends.
	HashType string
	Servers  []string
	// Health is the path HAProxy's checks fetch (Synapse's /health, or
	// the service's own).
	Health string
}

// Hash keys. The user key is the access token's user part; the others are
// documented where they are set.
const (
	varToken  = "txn.mxtoken"
	varUser   = "txn.mxuser"
	varRoom   = "txn.mxroom"
	varOrigin = "txn.mxorigin"
)

// hashType: consistent hashing, so that a joining or leaving server moves
// only the keys of its own share of the ring. sdbm alone maps similar keys
// (user1, user2, …) to neighbouring points; avalanche spreads them.
const hashType = "consistent sdbm avalanche"

func balanceOf(b plan.Backend) (setup []string, balance, hashTypeLine string, comment string, err error) {
	switch b.Balance {
	case plan.BalanceRoundRobin, "":
		return nil, "roundrobin", "", "any instance will do: round robin", nil
	case plan.BalanceUser:
		return []string{
				// The access token comes in the Authorization header or, from
				// older clients, in the access_token query parameter (url_dec
				// without form decoding: '+' in base64 stays '+', as in the header).
				`http-request set-var(` + varToken + `) req.fhdr(authorization),word(2,' ') if { req.fhdr(authorization) -m beg -i "bearer " }`,
				`http-request set-var(` + varToken + `) url_param(access_token),url_dec if !{ var(` + varToken + `) -m found }`,
				// Synapse tokens are syt_<base64 localpart>_<random>_<crc>: hash
				// the localpart, so that every device of a user lands on the same
				// synchrotron. Other tokens (MAS, appservices) carry no user: hash
				// them whole.
				`http-request set-var(` + varUser + `) var(` + varToken + `),field(2,_) if { var(` + varToken + `) -m beg syt_ }`,
				`http-request set-var(` + varUser + `) var(` + varToken + `) if !{ var(` + varUser + `) -m found } { var(` + varToken + `) -m found }`,
			}, "hash var(" + varUser + ")", hashType,
			"sticky per user (Synapse docs, \"Load balancing\"): the user part of the access token, consistent hashing", nil
	case plan.BalanceRoom:
		return []string{
				// The room ID is the path segment after the last /rooms/ (a room
				// ID cannot hold a raw '/'). Greedy .* finds the last one.
				`http-request set-var(` + varRoom + `) path,regsub(^.*/rooms/,),field(1,/)`,
			}, "hash var(" + varRoom + ")", hashType,
			"sticky per room (Synapse docs: all pagination of a room on one instance)", nil
	case plan.BalanceOrigin:
		return []string{
				// The sending server is the origin of the X-Matrix Authorization
				// header. Behind the Ingress the source address is the Ingress
				// pod, and one remote server sends from many addresses, so the
				// origin is the faithful "source". Without one: round robin.
				`http-request set-var(` + varOrigin + `) 'req.fhdr(authorization),regsub("^.*origin=\"?([^\",]*).*$","\1")' if { req.fhdr(authorization) -m beg -i "x-matrix " } { req.fhdr(authorization) -m sub origin= }`,
			}, "hash var(" + varOrigin + ")", hashType,
			"inbound federation balanced by source (Synapse docs): the X-Matrix origin, consistent hashing", nil
	}
	return nil, "", "", "", fmt.Errorf("unknown balance %q", b.Balance)
}

// buildBackends renders main's backend and one per plan backend, in plan
// order. Names, hosts and ports come only from the plan's processes.
func buildBackends(p *plan.Plan, opts Options) ([]*backendData, error) {
	main, ok := p.Process(plan.RoleMain)
	if !ok {
		return nil, fmt.Errorf("router: plan has no %s process", plan.RoleMain)
	}
	if !main.HasPort(plan.PortNameHTTP) {
		return nil, fmt.Errorf("router: main process %s has no %q port", main.Name, plan.PortNameHTTP)
	}
	if main.Kind != plan.StatefulSet {
		// Main is every fallback backend's backup server, named by its
		// stable pod name.
		return nil, fmt.Errorf("router: main process %s is a %s, want a StatefulSet (stable name for the backup servers)", main.Name, main.Kind)
	}
	if !haproxyName.MatchString(p.MainBackend) {
		return nil, fmt.Errorf("router: plan.MainBackend %q is not a valid HAProxy backend name", p.MainBackend)
	}
	procs := map[string]plan.Process{}
	for _, proc := range p.Targets() {
		procs[proc.Name] = proc
	}

	mainBE := &backendData{Name: p.MainBackend, Balance: "roundrobin", Health: main.Health(),
		Comments: []string{fmt.Sprintf("%s (%s): everything no worker list names", main.Role, main.Name)}}
	mainBE.Servers = serverLines(mainBE.Name, main, -1, false, opts)
	out := []*backendData{mainBE}
	seen := map[string]bool{p.MainBackend: true}

	for i, b := range p.Backends {
		field := fmt.Sprintf("plan.Backends[%d] (%s)", i, b.Name)
		if !haproxyName.MatchString(b.Name) {
			return nil, fmt.Errorf("router: %s: not a valid HAProxy backend name", field)
		}
		if seen[b.Name] {
			return nil, fmt.Errorf("router: %s: duplicate backend name", field)
		}
		seen[b.Name] = true
		proc, ok := procs[b.Process]
		switch {
		case !ok:
			return nil, fmt.Errorf("router: %s: process %q is not in the plan", field, b.Process)
		case !proc.ServesHTTP:
			return nil, fmt.Errorf("router: %s: process %q serves no HTTP", field, b.Process)
		case !proc.HasPort(plan.PortNameHTTP):
			return nil, fmt.Errorf("router: %s: process %q has no %q port", field, b.Process, plan.PortNameHTTP)
		case proc.MaxReplicas() < 1:
			return nil, fmt.Errorf("router: %s: process %q has no replicas", field, b.Process)
		case b.Ordinal >= proc.MaxReplicas():
			return nil, fmt.Errorf("router: %s: ordinal %d, but process %q has at most %d replicas", field, b.Ordinal, b.Process, proc.MaxReplicas())
		case b.Ordinal >= 0 && proc.Kind != plan.StatefulSet:
			return nil, fmt.Errorf("router: %s: pinned to ordinal %d, but process %q is a %s (no stable pod names)", field, b.Ordinal, b.Process, proc.Kind)
		}
		setup, balance, ht, why, err := balanceOf(b)
		if err != nil {
			return nil, fmt.Errorf("router: %s: %v", field, err)
		}
		if b.Ordinal >= 0 {
			setup, balance, ht = nil, "roundrobin", ""
			why = fmt.Sprintf("pinned to instance %d", b.Ordinal)
		}
		be := &backendData{Name: b.Name, Setup: setup, Balance: balance, HashType: ht, Health: proc.Health(),
			Comments: []string{fmt.Sprintf("%s (%s): %s", proc.Role, proc.Name, why)}}
		if ht != "" && proc.Kind != plan.StatefulSet && opts.Servers == nil {
			be.Comments = append(be.Comments,
				"a Deployment: server-template slots fill in DNS answer order, so HAProxy replicas may disagree on the ring (best effort)")
		}
		be.Servers = serverLines(b.Name, proc, b.Ordinal, ht != "", opts)
		if b.FallbackToMain {
			be.Comments = append(be.Comments, "main serves these paths too: it is the backup when no instance is up")
			be.Servers = append(be.Servers, backupLine(b.Name, main, opts))
		}
		out = append(out, be)
	}
	return out, nil
}

// serverLines lists a pool's servers. StatefulSets (and every pool under
// static addressing) get one line per ordinal up to MaxReplicas, at the pod's
// stable name: absent pods do not resolve and are simply down, and every
// HAProxy replica builds the same consistent-hash ring from the same lines,
// on any HAProxy version (hash-key addr needs >= 2.8). Explicit ids pin each
// ordinal's ring points whatever else the backend lists. Deployments have no
// stable pod names: a server-template filled from the headless Service's SRV
// records. ordinal >= 0 renders that instance only.
func serverLines(backend string, proc plan.Process, ordinal int, hashed bool, opts Options) []string {
	weight := ""
	if hashed {
		weight = " weight " + strconv.Itoa(hashWeight)
	}
	if proc.ViaService {
		addr, tail := serverTarget(backend, proc, 0, opts)
		return []string{fmt.Sprintf("server %s %s%s", proc.Name, addr, tail)}
	}
	if opts.Servers == nil && proc.Kind != plan.StatefulSet {
		return []string{fmt.Sprintf("server-template %s- %d %s%s%s",
			proc.Name, proc.MaxReplicas(), proc.SRV(), weight, dnsTail)}
	}
	from, to := 0, proc.MaxReplicas()
	if ordinal >= 0 {
		from, to = ordinal, ordinal+1
	}
	var lines []string
	for i := from; i < to; i++ {
		addr, tail := serverTarget(backend, proc, i, opts)
		lines = append(lines, fmt.Sprintf("server %s %s id %d%s%s", proc.InstanceName(i), addr, i+1, weight, tail))
	}
	return lines
}

func backupLine(backend string, main plan.Process, opts Options) string {
	addr, tail := serverTarget(backend, main, 0, opts)
	return fmt.Sprintf("server %s %s id %d backup%s", main.InstanceName(0), addr, backupID, tail)
}

// absentAddr is the address of an instance that static addressing says does
// not exist: the server is disabled, and keeps its place and id in the ring
// like an absent pod.
const absentAddr = "127.0.0.1:9"

// serverTarget is where ordinal i of proc is and how it is checked: the
// pod's stable DNS name and the plan's HTTP port, resolved through kube-dns
// (init-addr none: HAProxy starts while pods are absent), or the static
// address. Health checks always.
func serverTarget(backend string, proc plan.Process, i int, opts Options) (addr, tail string) {
	if opts.Servers == nil {
		host := proc.Host(i)
		if proc.ViaService {
			host = proc.ServiceHost()
		}
		return host + ":" + strconv.Itoa(proc.Port(plan.PortNameHTTP)), dnsTail
	}
	if a := opts.Servers(backend, proc, i); a != "" {
		return a, " check"
	}
	return absentAddr, " check disabled"
}

const dnsTail = " check resolvers " + ResolversName + " resolve-prefer ipv4 init-addr none"
