package main

import (
	"context"
	"crypto/tls"
	"flag"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"foxhole.dev/foxhole/client"
)

// env is what every command runs with: the global flags and the standard
// streams.
type env struct {
	server   string // normalised by check
	protocol string
	json     bool
	proto    client.Protocol // set by check
	insecure bool            // allow http:// to a host other than this machine
	caFile   string          // PEM roots trusted for an https:// server in place of the system's
	tls      *tls.Config     // set by check from caFile; nil: the system's roots
	locks    int             // how many times this command holds the credentials lock

	stdin          io.Reader
	stdout, stderr io.Writer
}

// globalFlags declares the global flags on fs, with their values so far
// as defaults, so that they may come before or after the command.
func (e *env) globalFlags(fs *flag.FlagSet) {
	fs.StringVar(&e.server, "server", e.server, "Foxhole's `URL` (default $FOXHOLE_SERVER, else "+defaultServer+")")
	fs.StringVar(&e.protocol, "protocol", e.protocol, "connect, connect-json, grpc or grpcweb")
	fs.BoolVar(&e.json, "json", e.json, "print one JSON object per line")
	fs.StringVar(&e.caFile, "ca-file", e.caFile, "trust the CA certificates in this PEM `file` for an https:// server (a private deployment), in place of the system's (default $FOXHOLE_CA_FILE)")
	fs.BoolVar(&e.insecure, "insecure", e.insecure, "allow an http:// server that is not this machine (the secret and tokens then cross the network in clear)")
}

// check validates the global flags once they are parsed.
func (e *env) check() error {
	server, err := normalizeServer(e.server)
	if err != nil {
		return err
	}
	if err := e.checkPlain(server); err != nil {
		return err
	}
	p, err := client.ParseProtocol(e.protocol)
	if err != nil {
		return usagef("--protocol: %v", err)
	}
	if e.caFile != "" {
		if e.tls, err = client.LoadCA(e.caFile); err != nil {
			return usagef("--ca-file: %v", err)
		}
	}
	e.server, e.proto = server, p
	return nil
}

// newClient returns a client of the server, authenticated with secret
// unless it is empty.
func (e *env) newClient(secret string) *client.Client {
	opts := []client.Option{client.WithProtocol(e.proto), client.WithHTTPClient(httpClient(e.server, e.tls))}
	if secret != "" {
		opts = append(opts, client.WithSecret(secret))
	}
	return client.New(e.server, opts...)
}

// checkPlain refuses an http:// server other than this machine unless
// --insecure is given: the secret and tokens would cross the network in
// clear, and a URL typed without a scheme is taken as http://.
func (e *env) checkPlain(server string) error {
	u, err := url.Parse(server)
	if err != nil || u.Scheme != "http" || e.insecure || isLoopback(u.Hostname()) {
		return nil
	}
	return usagef("--server %s: refusing to send your secret in clear over http:// to a host other than this machine; use https://, or --insecure if the network is trusted", server)
}

// isLoopback reports whether host is this machine: localhost, 127.0.0.0/8
// or ::1.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// login returns a client authenticated with the credentials saved for the
// server. It obtains a token at once, unless the saved one still holds, so
// that a wrong secret or an absent server shows before anything else is
// done, and saves it for the next command, unless the secret saved changed
// meanwhile.
func (e *env) login(ctx context.Context) (*client.Client, credentials, error) {
	saved, err := loadCredentials()
	if err != nil {
		return nil, credentials{}, err
	}
	creds, ok := saved.Servers[e.server]
	if !ok {
		return nil, credentials{}, usagef("not logged in to %s: run foxholectl register, or foxholectl login with your secret", e.server)
	}
	c := e.newClient(creds.Secret)
	c.Tokens.Remember(creds.Token, creds.Expires)
	if _, err := c.Tokens.Token(ctx); err != nil {
		return nil, credentials{}, err
	}
	if token, expires := c.Tokens.Current(); token != creds.Token {
		creds.Token, creds.Expires = token, expires
		err := e.updateCredentials(ctx, func(f *credentialsFile) bool {
			cur, ok := f.Servers[e.server]
			if !ok || cur.Secret != creds.Secret {
				return false // logged out, or another command saved a new secret
			}
			cur.Token, cur.Expires = token, expires
			f.Servers[e.server] = cur
			return true
		})
		if err != nil {
			return nil, credentials{}, err
		}
	}
	return c, creds, nil
}

// saveCredentials saves creds for the server, replacing what was saved for
// it before and leaving the other servers' entries as they are now.
func (e *env) saveCredentials(ctx context.Context, creds credentials) error {
	return e.updateCredentials(ctx, func(f *credentialsFile) bool {
		f.Servers[e.server] = creds
		return true
	})
}

// httpClient returns the HTTP client for server (client.Transport: h2c
// for http URLs, HTTP/2 by ALPN for https, trusting tc's roots), over
// as many connections as the constant below says. A server that does not
// accept a connection within ten seconds counts as unreachable.
func httpClient(server string, tc *tls.Config) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{Transport: client.Pool(connections, func() http.RoundTripper {
		t := client.Transport(server, tc)
		t.DialContext = dialer.DialContext
		return t
	})}
}

// connections is how many connections a command spreads its calls over
// (client.Pool): one, not client.DefaultConnections. A command makes one
// call at a time (chat: a stream and one call beside it), far from what
// one connection carries, and the pool sends each call on the next
// connection in turn, so a larger one would only dial a new connection,
// and shake hands again over TLS, for each of a command's first calls.
const connections = 1
