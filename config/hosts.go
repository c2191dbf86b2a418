package config

import "fmt"

// namedHost is one DNS name the stack serves: the Matrix host, and each
// service's own host.
type namedHost struct {
	key, host string
	// written: the user wrote key; origin says where an unwritten host
	// comes from ("the default auth.<serverName>").
	written bool
	origin  string
	// ownIngress: served at the root of its own Ingress (or, without an
	// Ingress, by an HAProxy host route), so it must not be serverName,
	// whose /.well-known/matrix must reach HAProxy.
	ownIngress bool
}

// label is how a message names the host's key.
func (h namedHost) label() string {
	if h.written {
		return h.key
	}
	return fmt.Sprintf("%s (%s)", h.key, h.origin)
}

// stackHosts are the hosts in play: the Matrix host always, a service's
// host when the service is on or the user wrote it (a written host is
// judged before the service is turned on, like ingress.host).
func stackHosts(c *Config, f facts, rf rtcFacts) []namedHost {
	ingress := namedHost{key: "ingress.host", host: c.Ingress.Host, written: f.ingressHost, origin: "the host of publicBaseUrl"}
	all := []struct {
		on bool
		h  namedHost
	}{
		{true, ingress},
		{c.ElementWeb.Enabled, namedHost{key: "elementWeb.host", host: c.ElementWeb.Host, written: f.elementHost, origin: "the default element.<serverName>", ownIngress: true}},
		{c.MAS.Enabled, namedHost{key: "mas.host", host: c.MAS.Host, written: f.masHost, origin: "the default auth.<serverName>", ownIngress: true}},
		{c.MAS.Enabled && c.Admin.Console, namedHost{key: "admin.host", host: c.Admin.Host, written: f.adminHost, origin: "the default admin.<serverName>", ownIngress: true}},
		{c.RTC.Enabled, namedHost{key: "rtc.host", host: c.RTC.Host, written: rf.host, origin: "the default rtc.<serverName>", ownIngress: true}},
		// TURN's name points at the media Service's address, not at the
		// ingress controller: it can share a name with nothing.
		{c.RTC.Enabled && c.RTC.TURN.Enabled, namedHost{key: "rtc.turn.domain", host: c.RTC.TURN.Domain, written: rf.turnDomain, origin: "the default turn.<serverName>", ownIngress: true}},
	}
	var out []namedHost
	for _, x := range all {
		if x.on || x.h.written {
			out = append(out, x.h)
		}
	}
	return out
}

// checkHosts refuses two services on one host (each has its own Ingress,
// or HAProxy host route, at the root of its host: one of them would be
// unreachable, or the ingress controller refuses the second) and a
// service on serverName's own host, whose /.well-known/matrix must reach
// HAProxy (federation delegation, client discovery). The error names a
// key the user wrote: the later of two written ones, else the written one.
func checkHosts(el *errorList, c *Config, f facts, rf rtcFacts) {
	hosts := stackHosts(c, f, rf)
	for i, h := range hosts {
		if h.ownIngress && h.host == c.ServerName && c.Ingress.Host != c.ServerName {
			el.addf(h.key, h.host, "must differ from serverName (%s): https://%s/.well-known/matrix/ must reach HAProxy (federation delegation and client discovery), and a service of its own at the root of that host would take those paths", c.ServerName, c.ServerName)
		}
		for _, other := range hosts[:i] {
			if h.host != other.host {
				continue
			}
			blame, with := h, other
			if !h.written && other.written {
				blame, with = other, h
			}
			el.addf(blame.key, blame.host, "must differ from %s: each service is served at the root of its own host (its own Ingress, or an HAProxy host route), and two on one host would leave one of them unreachable", with.label())
		}
	}
}
