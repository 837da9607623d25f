package client

import (
	"crypto/tls"
	"net/http"
	"sync/atomic"
)

// DefaultConnections is how many connections New's default HTTP client
// spreads calls over. One connection held a 16-core server to about 15,000
// calls per second, the pace of its one loop, whatever the cores; with a
// 2-core server, one busy client made 14% more calls over 4 connections
// than over one, and no more over 8 (docs/benchmarks.md).
const DefaultConnections = 4

// NewHTTPClient returns an HTTP client that speaks every protocol to
// serverURL (see Transport), spreading calls and streams over conns
// connections (see Pool); conns < 2 means one connection, as HTTPSClient(tc)
// or HTTPClient(true). Responses have no overall timeout: streams may last.
func NewHTTPClient(serverURL string, tc *tls.Config, conns int) *http.Client {
	return &http.Client{Transport: Pool(conns, func() http.RoundTripper { return Transport(serverURL, tc) })}
}

// Pool returns a transport that sends each call, and each stream, on the
// next of n transports made by newTransport, in turn. Go's HTTP/2 server
// serves each connection in one loop that reads, schedules and writes
// every frame on it, so the calls of one HTTP/2 connection go at the pace
// of that loop however many cores the server has; n connections (one per
// transport of Transport's) are served by n loops. HTTP/1.1 needs no pool:
// http.Transport already opens a connection for each concurrent call.
// With n < 2, Pool returns newTransport's one transport as it is.
//
// The pool forwards CloseIdleConnections to every transport that has it,
// so that http.Client.CloseIdleConnections works through it.
func Pool(n int, newTransport func() http.RoundTripper) http.RoundTripper {
	if n < 2 {
		return newTransport()
	}
	p := &pool{transports: make([]http.RoundTripper, n)}
	for i := range p.transports {
		p.transports[i] = newTransport()
	}
	return p
}

// pool is Pool's round robin over its transports.
type pool struct {
	transports []http.RoundTripper
	next       atomic.Uint64
}

func (p *pool) RoundTrip(req *http.Request) (*http.Response, error) {
	i := (p.next.Add(1) - 1) % uint64(len(p.transports))
	return p.transports[i].RoundTrip(req)
}

// CloseIdleConnections closes the idle connections of every transport.
func (p *pool) CloseIdleConnections() {
	for _, t := range p.transports {
		if c, ok := t.(interface{ CloseIdleConnections() }); ok {
			c.CloseIdleConnections()
		}
	}
}
