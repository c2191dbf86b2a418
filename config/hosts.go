package config

import "fmt"

// namedHost is one DNS name the stack serves: the Matrix host, and each
// service's own host.
type namedHost struct {
	key, host string
	// on: the service is on.
	on bool
	// written: the user wrote key; origin says where an unwritten host
	// comes from ("the default auth.<serverName>").
	written bool
	origin  string
	// ownIngress: served at the root of its own Ingress (or, without an
	// Ingress, by an HAProxy host route), so it must not be serverName,
	// whose /.well-known/matrix must reach HAProxy.
	ownIngress bool
	// tlsKey names the host's TLS Secret key (tlsSecret its value) for the
	// hosts the stack's Ingresses serve besides ingress.host.
	tlsKey, tlsSecret string
}

// label is how a message names the host's key.
func (h namedHost) label() string {
	if h.written {
		return h.key
	}
	return fmt.Sprintf("%s (%s)", h.key, h.origin)
}

// allHosts are the Matrix host and every service's own host, on or off.
func allHosts(c *Config, f facts, rf rtcFacts) []namedHost {
	return []namedHost{
		{key: "ingress.host", host: c.Ingress.Host, on: true, written: f.ingressHost, origin: "the host of publicBaseUrl"},
		{key: "elementWeb.host", host: c.ElementWeb.Host, on: c.ElementWeb.Enabled, written: f.elementHost, origin: "the default element.<serverName>", ownIngress: true,
			tlsKey: "elementWeb.tlsSecretName", tlsSecret: c.ElementWeb.TLSSecretName},
		{key: "mas.host", host: c.MAS.Host, on: c.MAS.Enabled, written: f.masHost, origin: "the default auth.<serverName>", ownIngress: true,
			tlsKey: "mas.tlsSecretName", tlsSecret: c.MAS.TLSSecretName},
		{key: "admin.host", host: c.Admin.Host, on: c.MAS.Enabled && c.Admin.Console, written: f.adminHost, origin: "the default admin.<serverName>", ownIngress: true,
			tlsKey: "admin.tlsSecretName", tlsSecret: c.Admin.TLSSecretName},
		{key: "rtc.host", host: c.RTC.Host, on: c.RTC.Enabled, written: rf.host, origin: "the default rtc.<serverName>", ownIngress: true,
			tlsKey: "rtc.tlsSecretName", tlsSecret: c.RTC.TLSSecretName},
		// TURN's name points at the media Service's address, not at the
		// ingress controller: it can share a name with nothing.
		{key: "rtc.turn.domain", host: c.RTC.TURN.Domain, on: c.RTC.Enabled && c.RTC.TURN.Enabled, written: rf.turnDomain, origin: "the default turn.<serverName>", ownIngress: true},
	}
}

// checkHosts refuses two services on one host (each has its own Ingress,
// or HAProxy host route, at the root of its host: one of them would be
// unreachable, or the ingress controller refuses the second) and a
// service on serverName's own host, whose /.well-known/matrix must reach
// HAProxy (federation delegation, client discovery). The error names a
// key the user wrote: the later of two written ones, else the written one.
func checkHosts(el *errorList, c *Config, f facts, rf rtcFacts) {
	// The hosts in play: the Matrix host always, a service's host when the
	// service is on or the user wrote it (a written host is judged before
	// the service is turned on, like ingress.host).
	var hosts []namedHost
	for _, h := range allHosts(c, f, rf) {
		if h.on || h.written {
			hosts = append(hosts, h)
		}
	}
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

// checkSiblingTLS: when the Ingress serves ingress.host with a TLS
// Secret, every other host it serves (Element Web, MAS, the admin
// console, calls) needs one too. Without it the Ingress has no TLS section
// for that host, and the controller answers https on it with its default
// certificate (ingress-nginx's is a self-signed "Fake Certificate"), which
// browsers and Element X refuse: sign-in would break with no error at
// `pulumi up`. A wildcard certificate's Secret may be given for several.
func checkSiblingTLS(el *errorList, c *Config, f facts, rf rtcFacts) {
	if !c.Ingress.Enabled || c.Ingress.TLSSecretName == "" {
		return
	}
	for _, h := range allHosts(c, f, rf) {
		if h.on && h.tlsKey != "" && h.tlsSecret == "" {
			el.addf(h.tlsKey, "", "ingress.tlsSecretName is set, so the Ingress serves https, and %s needs a certificate of its own (the one for %s does not cover it): name its TLS Secret (a wildcard certificate's may serve several hosts)", h.host, c.Ingress.Host)
		}
	}
}
