package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Stack config objects are walked one level at a time (JSON objects decoded
// into map[string]json.RawMessage), so that every problem is reported under
// the full dotted key the user wrote (pools.generic.resources.requests.cpu),
// with the value as written (that value only) and what is allowed in plain
// words. Types are checked here, not by encoding/json, whose errors name Go
// types and lose the path.

// JSON kinds, in the words messages use.
const (
	kindNull   = "null"
	kindBool   = "true/false"
	kindNumber = "a number"
	kindString = "a string"
	kindList   = "a list"
	kindObject = "an object"
)

// nullNotAllowed is the explanation for a null at any depth: a null would
// otherwise silently mean "default" (or drop a stream writer).
const nullNotAllowed = "remove the key to take the default, or give a value (null stands for nothing here)"

// value is one JSON value as the user wrote it and the dotted key that leads
// to it (without the "synapse:" namespace).
type value struct {
	key string
	raw json.RawMessage
}

// kind is the JSON type of the value.
func (v value) kind() string {
	t := bytes.TrimSpace(v.raw)
	if len(t) == 0 {
		return kindNull
	}
	switch t[0] {
	case 'n':
		return kindNull
	case 't', 'f':
		return kindBool
	case '"':
		return kindString
	case '[':
		return kindList
	case '{':
		return kindObject
	default:
		return kindNumber
	}
}

// text is the value as written, for messages: a string without its quotes,
// anything else as compact JSON.
func (v value) text() string {
	if v.kind() == kindString {
		var s string
		if json.Unmarshal(v.raw, &s) == nil {
			return s
		}
	}
	var buf bytes.Buffer
	if json.Compact(&buf, v.raw) == nil {
		return buf.String()
	}
	return string(v.raw)
}

// object is one JSON object of the stack config.
type object struct {
	el     *errorList
	key    string
	fields map[string]json.RawMessage
}

// nullValue reports a null and returns true.
func (el *errorList) nullValue(v value) bool {
	if v.kind() == kindNull {
		el.add(v.key, "null", nullNotAllowed)
		return true
	}
	return false
}

// topObject reads a top-level key that holds an object. An absent key, or
// "" (what an empty Pulumi.yaml default hands over), is nil: take the
// defaults. allowed lists the keys the object may hold; nil lets the caller
// judge the names (pools, streams, annotations) and describe them in what.
func (el *errorList) topObject(raw map[string]string, key string, allowed []string, what string) *object {
	s, ok := raw[key]
	if !ok || strings.TrimSpace(s) == "" {
		return nil
	}
	v := value{key: key, raw: json.RawMessage(s)}
	if !json.Valid(v.raw) {
		el.addf(key, s, "must be %s: a YAML map in the stack file (this is not one: it is not valid JSON)", describe(allowed, what))
		return nil
	}
	return el.asObject(v, allowed, what)
}

// asObject checks that v is an object and reports every key not in allowed.
func (el *errorList) asObject(v value, allowed []string, what string) *object {
	if el.nullValue(v) {
		return nil
	}
	want := describe(allowed, what)
	if v.kind() != kindObject {
		el.addf(v.key, v.text(), "must be %s, not %s", want, v.kind())
		return nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(v.raw, &fields); err != nil {
		el.addf(v.key, v.text(), "must be %s", want)
		return nil
	}
	o := &object{el: el, key: v.key, fields: fields}
	if allowed != nil {
		for _, name := range o.names() {
			if !slices.Contains(allowed, name) {
				el.addf(o.key+"."+name, value{raw: fields[name]}.text(), "unknown key under %s; allowed keys: %s", o.key, strings.Join(allowed, ", "))
			}
		}
	}
	return o
}

func describe(allowed []string, what string) string {
	if what != "" {
		return what
	}
	return "an object with the keys " + strings.Join(allowed, ", ")
}

// names returns the object's keys, sorted. A nil object has none.
func (o *object) names() []string {
	if o == nil {
		return nil
	}
	out := make([]string, 0, len(o.fields))
	for k := range o.fields {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// field returns a key of the object; ok is false when it is absent, or null
// (reported), or the object itself is nil.
func (o *object) field(name string) (v value, ok bool) {
	if o == nil {
		return value{}, false
	}
	raw, present := o.fields[name]
	if !present {
		return value{}, false
	}
	v = value{key: o.key + "." + name, raw: raw}
	if o.el.nullValue(v) {
		return value{}, false
	}
	return v, true
}

// object returns a nested object (nil when absent or not an object).
func (o *object) object(name string, allowed []string) *object {
	v, ok := o.field(name)
	if !ok {
		return nil
	}
	return o.el.asObject(v, allowed, "")
}

// bool returns a boolean key (nil when absent or not true/false).
func (o *object) bool(name string) *bool {
	v, ok := o.field(name)
	if !ok {
		return nil
	}
	if v.kind() != kindBool {
		o.el.addf(v.key, v.text(), "must be true or false, not %s", v.kind())
		return nil
	}
	b := v.text() == "true"
	return &b
}

// str returns a string key (nil when absent or not a string); what
// describes the expected value, e.g. "an image reference".
func (o *object) str(name, what string) *string {
	v, ok := o.field(name)
	if !ok {
		return nil
	}
	return o.el.stringValue(v, what)
}

func (el *errorList) stringValue(v value, what string) *string {
	if v.kind() != kindString {
		el.addf(v.key, v.text(), "must be %s (a string; quote it in YAML), not %s", what, v.kind())
		return nil
	}
	s := v.text()
	if s == "" {
		if el.empty == nil {
			el.empty = map[string]bool{}
		}
		el.empty[v.key] = true
	}
	return &s
}

// integer is a whole-number key that was written and accepted.
type integer struct {
	n int
	v value
}

// int returns a whole-number key within lo..hi (nil when absent or
// rejected). allowed explains the range; "" gives "must be a whole number
// from lo to hi".
func (o *object) int(name string, lo, hi int, allowed string) *integer {
	v, ok := o.field(name)
	if !ok {
		return nil
	}
	return o.el.intValue(v, lo, hi, allowed)
}

func (el *errorList) intValue(v value, lo, hi int, allowed string) *integer {
	if allowed == "" {
		allowed = fmt.Sprintf("must be a whole number from %d to %d", lo, hi)
	}
	if v.kind() != kindNumber {
		el.addf(v.key, v.text(), "%s, not %s", allowed, v.kind())
		return nil
	}
	f, err := strconv.ParseFloat(v.text(), 64)
	switch {
	case err != nil || math.IsInf(f, 0) || math.IsNaN(f):
		el.add(v.key, v.text(), allowed)
		return nil
	case f != math.Trunc(f):
		el.addf(v.key, v.text(), "%s; %s has a fraction", allowed, v.text())
		return nil
	case f < float64(lo) || f > float64(hi):
		el.add(v.key, v.text(), allowed)
		return nil
	}
	return &integer{n: int(f), v: v}
}

func (i *integer) value() *int {
	if i == nil {
		return nil
	}
	return &i.n
}

// listValue returns a list's items, each with its indexed key
// (mas.upstreamProviders[0]); ok is false for a null or a non-list
// (reported). what describes the expected list.
func (el *errorList) listValue(v value, what string) (items []value, ok bool) {
	if el.nullValue(v) {
		return nil, false
	}
	var raws []json.RawMessage
	if v.kind() != kindList || json.Unmarshal(v.raw, &raws) != nil {
		el.addf(v.key, v.text(), "must be %s, not %s", what, v.kind())
		return nil, false
	}
	for i, r := range raws {
		items = append(items, value{key: fmt.Sprintf("%s[%d]", v.key, i), raw: r})
	}
	return items, true
}
