package router

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"sort"
	"strings"

	"synapse/plan"
)

// How the route table becomes HAProxy config.
//
// plan.Match is the contract: the first route whose method list (if any),
// condition and pattern accept the request names its backend; nothing
// matched means main. HAProxy's map_reg walks a map file's regular
// expressions in file order and returns the first match, so a map file that
// lists the routes a request could meet, in plan order, reproduces plan.Match.
//
// Routes differ by method and by condition, which a map line cannot test, so
// the table is split into one map per request class:
//
//   - method: a class per method that some route is restricted to, plus one
//     for every other method (where only unrestricted routes apply).
//   - since: only when there are InitialSync routes, which apply only to
//     requests without a `since` parameter.
//
// What a request costs is the number of regular expressions HAProxy runs
// for it (each map_reg line is one PCRE call) and the number of rules whose
// conditions it evaluates (each acl costs a pattern lookup, with its cache).
// So there is one rule per class, with one cheap `method` (and `since`)
// test each, and consecutive routes to the same backend are one map line:
// their expressions joined into one alternation, behind their common
// literal prefix (`^/_matrix/client/(?:(r0|v3)/sync$|…)`). A line matches
// exactly when one of its routes would, and the routes of a run share the
// value, so the first matching line is still the backend of the first
// matching route. The prod GET class is 15 lines instead of 71. The rule is
// a dynamic `use_backend %[path,map_reg(<map>,<main>)] if <class>`: the map
// names the backend (a name the renderer checked against the defined
// backends), or main when no line matches, with no variable to set and
// test and no use_backend rule per backend. HAProxy takes the first
// use_backend whose condition holds, and the classes are exclusive.
//
// Measured (README, "HAProxy cost"), the map lookup is not what a request
// pays most for. HAProxy's pattern cache answers a path it has seen with
// one hash lookup; a path it has not runs on average 12 of prod's
// expressions over the request table, 0.4 µs of PCRE JIT time (timed
// outside HAProxy). What the generated config pays for is spreading
// requests over many servers (each request takes a colder idle connection
// than in a one-server config) and, with several threads, taking idle
// connections from other threads' pools (see Threads).
//
// Each acl is a single matcher kind: an acl line mixing kinds keeps only the
// last (ess-helm#631).

// maxLineAlternatives bounds the routes joined into one map line, and
// maxLineBytes its length: HAProxy reads map files a line at a time into a
// buffer of tune.bufsize (16 KiB by default).
const (
	maxLineAlternatives = 64
	maxLineBytes        = 4096
)

type sinceClass int

const (
	sinceAny sinceClass = iota
	sinceWith
	sinceWithout
)

// ruleData is one class of requests and its map file.
type ruleData struct {
	Cond    string // the HAProxy condition ("" = always)
	Map     string // file name
	MapPath string // where HAProxy reads it

	// The same condition as data, for tests that evaluate the rules.
	method     string // "" = any method not in notMethods
	notMethods []string
	since      sinceClass
}

type routing struct {
	rules []*ruleData
	maps  map[string]string
}

type route struct {
	plan.Route
	literal string
}

var methodToken = regexp.MustCompile(`^[A-Z]+$`)

// buildRouting validates the plan's routes and splits them into classes.
func buildRouting(p *plan.Plan, backends map[string]bool) (*routing, error) {
	var routes []route
	for i, r := range p.Routes {
		field := fmt.Sprintf("plan.Routes[%d] (%s)", i, r.Pattern)
		if !backends[r.Backend] {
			return nil, fmt.Errorf("router: %s: backend %q is not defined", field, r.Backend)
		}
		if r.Condition != plan.Always && r.Condition != plan.InitialSync {
			return nil, fmt.Errorf("router: %s: unknown condition %q", field, r.Condition)
		}
		for _, m := range r.Methods {
			if !methodToken.MatchString(m) {
				return nil, fmt.Errorf("router: %s: method %q is not an upper-case token", field, m)
			}
		}
		// A map line is "<key> <value>": the key ends at the first blank,
		// and a leading '#' makes the line a comment. Backslashes are
		// refused too: whether the map loader passes them through untouched
		// is not something these tests prove, and no Synapse pattern needs
		// one ([.] says the same as \.).
		if r.Pattern == "" || strings.ContainsAny(r.Pattern, " \t\r\n\\") || strings.HasPrefix(r.Pattern, "#") {
			return nil, fmt.Errorf("router: %s: a map file cannot carry this pattern (blank, backslash or leading #)", field)
		}
		lit, err := literalPrefix(r.Pattern)
		if err != nil {
			return nil, fmt.Errorf("router: %s: %v", field, err)
		}
		routes = append(routes, route{Route: r, literal: lit})
	}

	rt := &routing{maps: map[string]string{}}
	rt.addClasses(routes)
	return rt, nil
}

// addClasses adds the rules and maps of every request class.
func (rt *routing) addClasses(routes []route) {
	var methods []string
	split := false
	for _, r := range routes {
		for _, m := range r.Methods {
			if !slices.Contains(methods, m) {
				methods = append(methods, m)
			}
		}
		if r.Condition == plan.InitialSync {
			split = true
		}
	}
	sort.Strings(methods)
	sinces := []sinceClass{sinceAny}
	if split {
		sinces = []sinceClass{sinceWithout, sinceWith}
	}
	classes := append(append([]string{}, methods...), "") // "" = every other method
	for _, m := range classes {
		for _, s := range sinces {
			rule := &ruleData{method: m, since: s}
			if m == "" {
				rule.notMethods = methods
			}
			var in []route
			for _, r := range routes {
				if len(r.Methods) > 0 && !slices.Contains(r.Methods, m) {
					continue
				}
				if r.Condition == plan.InitialSync && s == sinceWith {
					continue
				}
				in = append(in, r)
			}
			if len(in) == 0 {
				continue // nothing matches: main, by default_backend
			}
			lines := mapLines(in)
			rule.Map = mapName(m, len(methods) > 0, s)
			rule.Cond = rule.condition()
			rt.rules = append(rt.rules, rule)
			rt.maps[rule.Map] = mapHeader(rule) + strings.Join(lines, "\n") + "\n"
		}
	}
}

func (r *ruleData) condition() string {
	var c []string
	switch {
	case r.method != "":
		c = append(c, "{ method "+r.method+" }")
	case len(r.notMethods) > 0:
		c = append(c, "!{ method "+strings.Join(r.notMethods, " ")+" }")
	}
	switch r.since {
	case sinceWith:
		c = append(c, "{ url_param(since) -m found }")
	case sinceWithout:
		c = append(c, "!{ url_param(since) -m found }")
	}
	return strings.Join(c, " ")
}

func mapHeader(r *ruleData) string {
	return "# Generated by synapse/router from the plan's route table. Do not edit.\n" +
		"# Requests matching: " + r.Cond + "\n" +
		"# map_reg returns the first line that matches, in file order (the plan's order);\n" +
		"# each line joins consecutive routes to one backend; no match: the main process.\n"
}

var nonAlnum = regexp.MustCompile(`[^a-z0-9]+`)

func mapName(method string, methodSplit bool, s sinceClass) string {
	name := "routes"
	if methodSplit {
		if method == "" {
			name += "-other-methods"
		} else {
			name += "-" + strings.ToLower(method)
		}
	}
	switch s {
	case sinceWith:
		name += "-since"
	case sinceWithout:
		name += "-no-since"
	}
	return name + ".map"
}

// mapLines renders routes, in order, as map lines: each run of consecutive
// routes to one backend is one line (see the top of this file).
func mapLines(routes []route) []string {
	var lines []string
	for i := 0; i < len(routes); {
		j := i + 1
		size := len(routes[i].Pattern)
		for j < len(routes) && routes[j].Backend == routes[i].Backend && j-i < maxLineAlternatives &&
			size+len(routes[j].Pattern)+8 <= maxLineBytes {
			size += len(routes[j].Pattern) + 8
			j++
		}
		lines = append(lines, joinPatterns(routes[i:j])+" "+routes[i].Backend)
		i = j
	}
	return lines
}

// joinPatterns is one expression that matches exactly what one of the
// routes' patterns matches: ^<common literal prefix>(?:<rest 1>|<rest 2>|…),
// or (?:<p1>)|(?:<p2>)|… when the patterns share no prefix written as such.
func joinPatterns(routes []route) string {
	if len(routes) == 1 {
		return routes[0].Pattern
	}
	prefix := routes[0].literal
	for _, r := range routes[1:] {
		prefix = commonPrefix(prefix, r.literal)
	}
	for _, r := range routes {
		// The literal prefix is read from the parsed expression; strip it
		// only where the pattern spells it out as such.
		if !strings.HasPrefix(r.Pattern, "^"+prefix) {
			prefix = ""
		}
	}
	alts := make([]string, len(routes))
	for i, r := range routes {
		if prefix == "" {
			alts[i] = "(?:" + r.Pattern + ")"
		} else {
			alts[i] = strings.TrimPrefix(r.Pattern, "^"+prefix)
		}
	}
	if prefix == "" {
		return strings.Join(alts, "|")
	}
	return "^" + prefix + "(?:" + strings.Join(alts, "|") + ")"
}

func commonPrefix(a, b string) string {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return a[:n]
}

// literalPrefix is the literal text every match of an anchored pattern
// starts with ("" for unanchored patterns). It reads the parsed expression,
// so quantified, case-folded or alternated parts never count.
func literalPrefix(pattern string) (string, error) {
	if _, err := regexp.Compile(pattern); err != nil {
		return "", err
	}
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return "", err
	}
	subs := []*syntax.Regexp{re}
	if re.Op == syntax.OpConcat {
		subs = re.Sub
	}
	if len(subs) == 0 || subs[0].Op != syntax.OpBeginText {
		return "", nil
	}
	var b strings.Builder
	for _, s := range subs[1:] {
		if s.Op != syntax.OpLiteral || s.Flags&syntax.FoldCase != 0 {
			break
		}
		b.WriteString(string(s.Rune))
	}
	return b.String(), nil
}
