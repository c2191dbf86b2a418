package alerts

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// matcher is one PromQL label matcher.
type matcher struct {
	label, op, value string
}

// eq matches a label exactly.
func eq(label, value string) matcher { return matcher{label, "=", value} }

// oneOf matches a label against a set of exact values (an anchored regular
// expression of the quoted values, sorted so that the output is stable).
func oneOf(label string, values ...string) matcher {
	quoted := make([]string, 0, len(values))
	for _, v := range values {
		quoted = append(quoted, regexp.QuoteMeta(v))
	}
	sort.Strings(quoted)
	return matcher{label, "=~", strings.Join(quoted, "|")}
}

// re matches a label against a regular expression (PromQL anchors it).
func re(label, expr string) matcher { return matcher{label, "=~", expr} }

// sel is a vector selector: metric{matchers...}. Values are quoted as
// PromQL string literals (Go escaping, which PromQL shares), so a name can
// never break out of its quotes.
func sel(metric string, ms ...matcher) string {
	var b strings.Builder
	b.WriteString(metric)
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(m.label)
		b.WriteString(m.op)
		b.WriteString(strconv.Quote(m.value))
	}
	b.WriteByte('}')
	return b.String()
}

// rng is a range selector over a vector selector.
func rng(selector, window string) string { return selector + "[" + window + "]" }

// Series is the PromQL regular expression of a numbered series of names,
// prefix-0, prefix-1, ...: the pods of a StatefulSet, the PVCs of one of its
// volume claim templates (<template>-<statefulset>-<ordinal>), the
// instances of a CNPG Cluster (<cluster>-<serial>).
func Series(prefix string) string { return regexp.QuoteMeta(prefix) + "-[0-9]+" }
