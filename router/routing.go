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
//   - path group: the first two path segments of the route's literal prefix
//     ("/_matrix/client/", "/_synapse/admin/", …), tested with path_beg. A
//     route can only match paths that start with its literal prefix, so a
//     request of one group needs only that group's routes: a federation
//     request never walks the ~80 client expressions. Routes whose literal
//     prefix is shorter than a group are copied into every group they could
//     match, and into the "other" class (paths of no group).
//   - method: a class per method that some route of the group is restricted
//     to, plus one for every other method (where only unrestricted routes
//     apply).
//   - since: only for groups with InitialSync routes, which apply only to
//     requests without a `since` parameter.
//
// Each class's rule is one `http-request set-var(...) path,map_reg(...)` with
// mutually exclusive conditions (each acl a single matcher kind: an acl line
// mixing kinds keeps only the last, ess-helm#631), then static use_backend
// lines that `haproxy -c` checks against the defined backends.

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
	prefix      string   // path_beg; "" with notPrefixes = the "other" class
	notPrefixes []string // paths of no group
	method      string   // "" = any method not in notMethods
	notMethods  []string
	since       sinceClass
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

	// Groups, in order of first appearance.
	var groups []string
	for _, r := range routes {
		if g := groupOf(r.literal); g != "" && !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
	}
	rt := &routing{maps: map[string]string{}}
	for _, g := range groups {
		var in []route
		for _, r := range routes {
			if strings.HasPrefix(r.literal, g) || strings.HasPrefix(g, r.literal) {
				in = append(in, r)
			}
		}
		rt.addClasses(g, nil, in)
	}
	// Paths of no group can only meet routes whose literal prefix starts
	// with no group.
	var other []route
	for _, r := range routes {
		if !startsWithAny(r.literal, groups) {
			other = append(other, r)
		}
	}
	if len(other) > 0 {
		rt.addClasses("", groups, other)
	}
	return rt, nil
}

// addClasses adds the rules and maps of one path group ("" with notGroups:
// the paths of no group).
func (rt *routing) addClasses(group string, notGroups []string, routes []route) {
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
			rule := &ruleData{prefix: group, notPrefixes: notGroups, method: m, since: s}
			if m == "" {
				rule.notMethods = methods
			}
			var lines []string
			for _, r := range routes {
				if len(r.Methods) > 0 && !slices.Contains(r.Methods, m) {
					continue
				}
				if r.Condition == plan.InitialSync && s == sinceWith {
					continue
				}
				lines = append(lines, r.Pattern+" "+r.Backend)
			}
			if len(lines) == 0 {
				continue // nothing matches: main, by default_backend
			}
			rule.Map = mapName(group, m, len(methods) > 0, s)
			rule.Cond = rule.condition()
			rt.rules = append(rt.rules, rule)
			rt.maps[rule.Map] = mapHeader(rule) + strings.Join(lines, "\n") + "\n"
		}
	}
}

func (r *ruleData) condition() string {
	var c []string
	switch {
	case r.prefix != "":
		c = append(c, "{ path_beg "+r.prefix+" }")
	case len(r.notPrefixes) > 0:
		c = append(c, "!{ path_beg "+strings.Join(r.notPrefixes, " ")+" }")
	}
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
		"# no match: the main process.\n"
}

var nonAlnum = regexp.MustCompile(`[^a-z0-9]+`)

func mapName(group, method string, methodSplit bool, s sinceClass) string {
	name := "routes-" + strings.Trim(nonAlnum.ReplaceAllString(strings.ToLower(group), "-"), "-")
	if group == "" {
		name = "routes-other-paths"
	}
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

// groupOf is the first two segments of a literal prefix ("/_matrix/client/"),
// or "" when the prefix is shorter.
func groupOf(literal string) string {
	n := 0
	for i, c := range literal {
		if c == '/' {
			n++
			if n == 3 {
				return literal[:i+1]
			}
		}
	}
	return ""
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

func startsWithAny(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
