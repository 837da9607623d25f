// Package call holds what the server knows about one request while it runs:
// its id, its caller, its declared policy, and the per-call means that
// handlers need (the client's address, the connection's deadlines, the
// origin clients reach Foxhole at, a slot taken before the body was read).
//
// The server creates one Record per request, before anything else runs,
// and handlers read it with From. A value a handler reads but the
// procedure's policy does not declare is a programming error: it panics,
// so that a test meets it at once instead of a limit silently doing
// nothing in production.
package call

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"time"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

// Record is one request's state. Fields are set by the server as the
// request passes its layers; handlers read them through the methods, which
// check them against the policy.
type Record struct {
	// RequestID is the request's id, echoed in X-Request-Id and logged.
	RequestID string
	// UserID is the authenticated caller; empty on public routes.
	UserID string
	// Response is the request's response, as the access log wraps it.
	Response *StatusWriter
	// Code is the Connect code of the outcome, once known.
	Code string
	// Start is when the request arrived.
	Start time.Time
	// Route is the procedure's path or the plain route's pattern.
	Route string
	// Policy is what the server enforces about the route; nil until the
	// route is known.
	Policy *foxholev1.Policy

	caller     any // what authenticated the call (auth's Identity); nil: none
	clientAddr netip.Addr
	deadlines  Deadlines
	publicURL  string // the configured public URL, or empty
	scheme     string // the request's own, when there is none
	host       string
	slot       func()
	takeSlot   func(owner string) error // a slot taken once the owner is known
	// liftRequest lifts the request's read deadline once the request has
	// arrived (the policy's request_timeout); nil: none to lift.
	liftRequest func()
}

type key struct{}

// With returns a context carrying rec.
func With(ctx context.Context, rec *Record) context.Context {
	return context.WithValue(ctx, key{}, rec)
}

// From returns the request's record. It panics when there is none: the
// request did not come through the server, and whatever the caller meant
// to read from it would silently be missing.
func From(ctx context.Context) *Record {
	rec, ok := ctx.Value(key{}).(*Record)
	if !ok {
		panic("call: no call record in the context: the request did not come through the server's handler")
	}
	return rec
}

// Lookup returns the request's record, if any, for code that runs inside
// and outside requests alike (a log line).
func Lookup(ctx context.Context) (*Record, bool) {
	rec, ok := ctx.Value(key{}).(*Record)
	return rec, ok
}

func (r *Record) undeclared(what string) {
	panic(fmt.Sprintf("call: %s reads %s, which its policy does not declare", r.Route, what))
}

// SetCaller records what authenticated the call, which auth puts here and
// reads back: the request then needs no context of its own to carry it.
func (r *Record) SetCaller(c any) { r.caller = c }

// Caller returns what SetCaller recorded; nil: nothing.
func (r *Record) Caller() any { return r.caller }

// SetClientAddr records the client's address (through trusted proxies).
func (r *Record) SetClientAddr(a netip.Addr) { r.clientAddr = a }

// ClientAddr is the client's address. It panics unless the policy declares
// client_address.
func (r *Record) ClientAddr() netip.Addr {
	if r.Policy == nil || !r.Policy.GetClientAddress() {
		r.undeclared("the client address")
	}
	return r.clientAddr
}

// Deadlines set the read and write deadlines of a request's connection
// (http.ResponseController's; on HTTP/2, of the request's own stream).
// Connect handlers see no ResponseWriter; these let a stream cut off a
// peer that stops sending or stops reading instead of holding a stream, a
// buffer and a file open forever.
type Deadlines struct {
	Read  func(time.Time) error
	Write func(time.Time) error
}

// SetDeadlines records the connection's deadline setters.
func (r *Record) SetDeadlines(d Deadlines) { r.deadlines = d }

// Deadlines returns the connection's deadline setters. It panics unless the
// policy declares stream_deadlines.
func (r *Record) Deadlines() Deadlines {
	if r.Policy == nil || !r.Policy.GetStreamDeadlines() {
		r.undeclared("its stream's deadlines")
	}
	return r.deadlines
}

// SetOrigin records the configured public URL (empty: none) and the
// request's own scheme and host.
func (r *Record) SetOrigin(publicURL, scheme, host string) {
	r.publicURL, r.scheme, r.host = publicURL, scheme, host
}

// BaseURL is the scheme and host clients reach Foxhole at, to make links
// absolute: the configured public URL, else the request's own.
func (r *Record) BaseURL() string {
	if r.publicURL != "" {
		return r.publicURL
	}
	return r.scheme + "://" + r.host
}

// HoldSlot records that the call holds a slot, released by release.
func (r *Record) HoldSlot(release func()) { r.slot = release }

// DeferSlot records how the call takes its slot once the handler knows
// whose it is (a signed link's file owner): for routes with no caller.
func (r *Record) DeferSlot(take func(owner string) error) { r.takeSlot = take }

// TakeSlot takes the call's slot on owner's behalf, before any content is
// sent, or returns why not (errs.Limited past a cap). It panics unless the
// policy declares a slot.
func (r *Record) TakeSlot(owner string) error {
	if r.Policy == nil || r.Policy.GetSlot() == foxholev1.Slot_SLOT_UNSPECIFIED {
		r.undeclared("a slot")
	}
	if r.takeSlot == nil {
		return fmt.Errorf("call: %s takes a slot the server did not offer", r.Route)
	}
	return r.takeSlot(owner)
}

// SetRequestDeadline records how to lift the read deadline set for the
// request to arrive (the policy's request_timeout).
func (r *Record) SetRequestDeadline(lift func()) { r.liftRequest = lift }

// RequestArrived lifts the request's read deadline, once: the rest of the
// call is bounded by its stream's own deadlines.
func (r *Record) RequestArrived() {
	if r.liftRequest != nil {
		r.liftRequest()
		r.liftRequest = nil
	}
}

// HoldsSlot reports whether the server took the call's slot before its
// body was read. It panics unless the policy declares a slot.
func (r *Record) HoldsSlot() bool {
	if r.Policy == nil || r.Policy.GetSlot() == foxholev1.Slot_SLOT_UNSPECIFIED {
		r.undeclared("a slot")
	}
	return r.slot != nil
}

// Detached returns a copy of r for work that outlives the request (a
// WebSocket after the upgrade): its id, caller, route and address, but not
// the connection's deadlines or slot, which reach the request's response.
func (r *Record) Detached() *Record {
	return &Record{
		RequestID:  r.RequestID,
		UserID:     r.UserID,
		caller:     r.caller,
		Start:      r.Start,
		Route:      r.Route,
		Policy:     r.Policy,
		clientAddr: r.clientAddr,
		publicURL:  r.publicURL,
		scheme:     r.scheme,
		host:       r.host,
	}
}

// StatusWriter remembers a response's status. It passes Flush and the
// other optional interfaces through Unwrap, which http.ResponseController
// and Connect's streaming rely on. The server's access log wraps every
// response in one and keeps it in the Record (Response), where route spans
// read the status too.
type StatusWriter struct {
	http.ResponseWriter
	code int
}

func (w *StatusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *StatusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *StatusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Status is the status written so far: 200 once anything was, or before.
func (w *StatusWriter) Status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}
