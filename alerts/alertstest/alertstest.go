// Package alertstest checks PromQL with Prometheus's own parser, for the
// tests of the alerting rules and the dashboard. Only tests import it, so
// the parser never reaches the Pulumi program.
package alertstest

import (
	"fmt"
	"sort"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// Parse parses expr as Prometheus does with its default (stable) features:
// no experimental functions.
func Parse(expr string) (parser.Expr, error) {
	return parser.NewParser(parser.Options{}).ParseExpr(expr)
}

// Selector is one vector selector of an expression.
type Selector struct {
	Metric   string
	Matchers []*labels.Matcher // without the __name__ matcher
}

// Matches says whether the selector's matchers accept these label values
// (labels it does not constrain are ignored).
func (s Selector) Matches(lbls map[string]string) bool {
	for _, m := range s.Matchers {
		if !m.Matches(lbls[m.Name]) {
			return false
		}
	}
	return true
}

// Matcher returns the selector's matcher of a label, nil if none.
func (s Selector) Matcher(label string) *labels.Matcher {
	for _, m := range s.Matchers {
		if m.Name == label {
			return m
		}
	}
	return nil
}

// Selectors parses expr and returns every vector selector in it (those
// inside range selectors and function calls included), in the order the
// parser's walk meets them. A selector without a metric name is an error:
// every series an alert reads must be named, or the metric table means
// nothing.
func Selectors(expr string) ([]Selector, error) {
	e, err := Parse(expr)
	if err != nil {
		return nil, err
	}
	var out []Selector
	var walkErr error
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		if vs.Name == "" {
			walkErr = fmt.Errorf("selector %s names no metric", vs)
			return nil
		}
		s := Selector{Metric: vs.Name}
		for _, m := range vs.LabelMatchers {
			if m.Name != labels.MetricName {
				s.Matchers = append(s.Matchers, m)
			}
		}
		out = append(out, s)
		return nil
	})
	return out, walkErr
}

// MetricNames are the distinct metric names expr reads, sorted.
func MetricNames(expr string) ([]string, error) {
	sels, err := Selectors(expr)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, s := range sels {
		if !seen[s.Metric] {
			seen[s.Metric] = true
			out = append(out, s.Metric)
		}
	}
	sort.Strings(out)
	return out, nil
}
