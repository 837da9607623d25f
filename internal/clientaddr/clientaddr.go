// Package clientaddr finds the address a request comes from, so that limits
// per client hold behind a load balancer as well as without one.
package clientaddr

import (
	"net/http"
	"net/netip"
	"strings"
)

// Resolver finds the client address of requests.
type Resolver struct {
	trusted []netip.Prefix
}

// NewResolver returns a Resolver that believes X-Forwarded-For only from
// peers inside trusted.
func NewResolver(trusted []netip.Prefix) *Resolver {
	return &Resolver{trusted: trusted}
}

// maxHops bounds how much of X-Forwarded-For is read: a chain of proxies
// longer than this is not a deployment, it is an attack.
const maxHops = 32

// Addr returns the client address of r: the connection's peer, or, when the
// peer is a trusted proxy, the last address in X-Forwarded-For that is not
// itself a trusted proxy. Hops are read from the right, the ones the trusted
// proxies appended; whatever a client wrote to the left of its own address
// is never believed. A hop that does not parse stops the walk at the
// trusted proxy that passed it on.
func (res *Resolver) Addr(r *http.Request) netip.Addr {
	peer := Peer(r.RemoteAddr)
	if !res.isTrusted(peer) {
		return peer
	}
	client := peer
	hops := 0
	values := r.Header.Values("X-Forwarded-For")
	for i := len(values) - 1; i >= 0; i-- {
		list := values[i]
		for list != "" && hops < maxHops {
			var hop string
			if j := strings.LastIndexByte(list, ','); j >= 0 {
				hop, list = list[j+1:], list[:j]
			} else {
				hop, list = list, ""
			}
			hops++
			a, ok := ParseHop(hop)
			if !ok {
				return client
			}
			client = a
			if !res.isTrusted(a) {
				return a
			}
		}
	}
	return client
}

func (res *Resolver) isTrusted(a netip.Addr) bool {
	for _, p := range res.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Peer returns the address of a connection's remote end as net/http gives
// it ("host:port"), IPv4-mapped IPv6 unmapped; the zero Addr if it does not
// parse.
func Peer(remote string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap()
	}
	a, _ := netip.ParseAddr(remote)
	return a.Unmap()
}

// ParseHop reads one X-Forwarded-For entry: an address, optionally with a
// port ("203.0.113.7:4711", "[2001:db8::1]:4711"), surrounded by spaces.
func ParseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if len(s) > 64 {
		return netip.Addr{}, false
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Zone() == "" {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// Key is what limits per client address count by: the address itself for
// IPv4, and its /64 for IPv6 (as the /64's first address), since one host
// commonly holds a whole /64.
func Key(a netip.Addr) netip.Addr {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}
