package server

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/auth"
	"foxhole.dev/foxhole/internal/call"
	"foxhole.dev/foxhole/internal/clientaddr"
	"foxhole.dev/foxhole/internal/errs"
	"foxhole.dev/foxhole/internal/ratelimit"
)

// rule is a route's policy with what it means in this server's
// configuration worked out once.
type rule struct {
	policy  *foxholev1.Policy
	body    int64         // the most bytes the body may hold; -1: the handler bounds it
	read    time.Duration // the whole request's read deadline; 0: none
	request time.Duration // a stream's request's read deadline, lifted once it arrives; 0: none
	rateKey string        // prefix of the rate limit's key
	// handler serves a procedure: the one the mux picks for its path,
	// found once at start rather than matched again for every call.
	handler http.Handler
}

// enforcer applies every route's declared policy: before authentication
// (the route exists, its body's size and encoding, its deadlines, the
// client's address and the limit per address) and after it (the limit per
// user, the caller's slot and the call's lifetime).
type enforcer struct {
	mux         *http.ServeMux
	procedures  map[string]*rule // by path
	routes      map[string]*rule // plain routes, by mux pattern
	addrs       *clientaddr.Resolver
	perAddr     ratelimit.Limiter                            // nil: no limit
	perUser     func(ctx context.Context, user string) error // nil: no limit
	perUserList ratelimit.Limiter                            // nil: no limit
	// perUserRoom are the limits per user of RATE_LIMIT_ROOM_* and
	// RATE_LIMIT_TYPING, by kind.
	perUserRoom map[foxholev1.RateLimit]userLimit
	register    RegisterLimits
	publicURL   string
	// uploadSlot takes one of a user's upload slots.
	uploadSlot func(user string) (release func(), err error)
	// downloadSlot takes one of a user's download slots.
	downloadSlot func(user string) (release func(), err error)
	probes       chan struct{} // a slot per probe stream open
}

func newEnforcer(r *routes, procedures map[string]*foxholev1.Policy, o Options) *enforcer {
	fileMessage := uploadMessageBytes(o.FileUnaryMaxBytes)
	bodies := map[foxholev1.Body]int64{
		foxholev1.Body_BODY_SMALL: o.MaxRequestBytes + envelopeSlack,
		// JSON may escape a character in up to 12 bytes (a surrogate pair).
		foxholev1.Body_BODY_MESSAGE: o.MaxRequestBytes + 12*int64(o.MessageMaxChars),
		foxholev1.Body_BODY_FILE:    fileMessage + envelopeSlack,
		// Every chunk costs a few bytes of framing; twice the content is
		// room for chunks as small as a few bytes each.
		foxholev1.Body_BODY_FILE_STREAM: 2*o.FileMaxBytes + uploadReadMax(o.FileUnaryMaxBytes),
		foxholev1.Body_BODY_PROBE:       probeStreamBytes,
		foxholev1.Body_BODY_RAW:         -1,
	}
	ruleOf := func(path string, p *foxholev1.Policy) *rule {
		method := path[strings.LastIndexByte(path, '/')+1:]
		return &rule{
			policy:  p,
			body:    bodies[p.GetBody()],
			read:    durationOf(p.GetReadTimeout()),
			request: requestTimeout(durationOf(p.GetRequestTimeout())),
			rateKey: strings.ToLower(method) + ":",
		}
	}
	e := &enforcer{
		mux:         r.mux,
		procedures:  map[string]*rule{},
		routes:      map[string]*rule{},
		addrs:       clientaddr.NewResolver(o.TrustedProxies),
		perAddr:     o.AuthLimiter,
		perUser:     o.AllowPerUser,
		perUserList: o.ListLimiter,
		perUserRoom: map[foxholev1.RateLimit]userLimit{
			foxholev1.RateLimit_RATE_LIMIT_ROOM_CREATE: {o.RoomCreateLimiter, "too many rooms created; retry later"},
			foxholev1.RateLimit_RATE_LIMIT_ROOM_INVITE: {o.RoomInviteLimiter, "too many invitations; retry later"},
			foxholev1.RateLimit_RATE_LIMIT_TYPING:      {o.TypingLimiter, "too many typing notifications; slow down"},
		},
		register:     o.Register,
		publicURL:    o.PublicURL,
		uploadSlot:   o.Files.TakeUploadSlot,
		downloadSlot: o.Files.TakeDownloadSlot,
		probes:       make(chan struct{}, o.MaxProbeStreams),
	}
	for path, p := range procedures {
		ru := ruleOf(path, p)
		ru.handler, _ = r.mux.Handler(&http.Request{Method: http.MethodPost, URL: &url.URL{Path: path}})
		e.procedures[path] = ru
	}
	for _, pattern := range r.plain {
		e.routes[pattern] = ruleOf(pattern, httpRoutes[pattern])
	}
	return e
}

// requestTimeoutForTest, when set, replaces every declared request_timeout:
// tests of the deadline should not wait the 30 s the protos declare.
var requestTimeoutForTest atomic.Int64

func requestTimeout(declared time.Duration) time.Duration {
	if t := time.Duration(requestTimeoutForTest.Load()); t > 0 && declared > 0 {
		return t
	}
	return declared
}

// isPublic reports whether r's route may be called without an access token.
func isPublic(r *http.Request) bool {
	return call.From(r.Context()).Policy.GetAccess() == foxholev1.Access_ACCESS_PUBLIC
}

// beforeAuth refuses, before authentication and before any body is read, a
// request for a route that does not exist, a compressed body where none is
// accepted, and a call past its limit per address; it bounds the body and
// sets the deadlines the route declares, and records the route's policy.
func (e *enforcer) beforeAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e.admit(w, r) {
			next.ServeHTTP(w, r)
		}
	})
}

// admit is beforeAuth's work, in a function of its own so that a stream's
// goroutine, which stays in beforeAuth for as long as the stream lasts, does
// not hold its frame.
func (e *enforcer) admit(w http.ResponseWriter, r *http.Request) bool {
	rec := call.From(r.Context())
	ru, ok := e.procedures[r.URL.Path]
	if ok {
		rec.Route = r.URL.Path
	} else {
		// Not a procedure: a plain route, or nothing. A service's pattern
		// matches any method name, so it does not count.
		_, pattern := e.mux.Handler(r)
		if ru, ok = e.routes[pattern]; !ok {
			writeUnknown(w, r)
			return false
		}
		rec.Route = pattern
	}
	p := ru.policy
	rec.Policy = p
	if !p.GetCompressed() && compressedBody(r.Header) {
		writeError(w, r, errs.Invalidf("Content-Encoding", "request compression is accepted on uploads only; send this call uncompressed"))
		return false
	}
	if ru.body >= 0 && r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, ru.body)
	}
	if ru.read > 0 || ru.request > 0 || p.GetStreamDeadlines() {
		rc := http.NewResponseController(w)
		if ru.read > 0 {
			_ = rc.SetReadDeadline(time.Now().Add(ru.read))
		}
		if d := ru.request; d > 0 {
			// Lifted once the request has arrived (requestDeadline).
			_ = rc.SetReadDeadline(time.Now().Add(d))
			rec.SetRequestDeadline(func() { _ = rc.SetReadDeadline(time.Time{}) })
		}
		if p.GetStreamDeadlines() {
			rec.SetDeadlines(call.Deadlines{Read: rc.SetReadDeadline, Write: rc.SetWriteDeadline})
		}
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	rec.SetOrigin(e.publicURL, scheme, r.Host)
	if p.GetClientAddress() {
		rec.SetClientAddr(e.addrs.Addr(r))
	}
	if rl := p.GetRateLimit(); rl == foxholev1.RateLimit_RATE_LIMIT_ADDRESS || rl == foxholev1.RateLimit_RATE_LIMIT_REGISTER {
		// Accounts are free, so every limit per user would be worth
		// nothing without a limit per address on the calls that make them.
		if !e.allow(w, r, e.perAddr, ru.rateKey+clientaddr.Key(rec.ClientAddr()).String(), "too many calls from your address; retry later") {
			return false
		}
		if rl == foxholev1.RateLimit_RATE_LIMIT_REGISTER && !e.allowRegister(w, r, ru.rateKey, rec.ClientAddr()) {
			return false
		}
	}
	return true
}

// rateKey is the prefix of the rate limits' keys for route.
func (e *enforcer) rateKey(route string) string {
	if ru, ok := e.procedures[route]; ok {
		return ru.rateKey
	}
	return e.routes[route].rateKey
}

// RegisterLimits bound account creation past the limit per client address
// (an IPv4 address or an IPv6 /64): an IPv6 /48 holds 65,536 /64s, so the
// wider prefixes, and every caller together, have limits of their own.
// A nil limiter is no limit.
type RegisterLimits struct {
	Per56, Per48, Global ratelimit.Limiter
}

// allowRegister counts an account creation against the limits of the
// client's IPv6 /56 and /48, then the global one, narrowest first, so that
// a caller refused by its own prefix spends nothing of anyone else's.
func (e *enforcer) allowRegister(w http.ResponseWriter, r *http.Request, rateKey string, addr netip.Addr) bool {
	if addr.Is6() && !addr.Is4In6() {
		p56, _ := addr.Prefix(56)
		p48, _ := addr.Prefix(48)
		if !e.allow(w, r, e.register.Per56, rateKey+p56.String(), "too many accounts made from your network; retry later") ||
			!e.allow(w, r, e.register.Per48, rateKey+p48.String(), "too many accounts made from your network; retry later") {
			return false
		}
	}
	return e.allow(w, r, e.register.Global, rateKey+"all", "too many accounts are being made; retry later")
}

// allow counts a call against l under key, and answers the call when that
// refuses it. A nil l allows everything.
func (e *enforcer) allow(w http.ResponseWriter, r *http.Request, l ratelimit.Limiter, key, msg string) bool {
	if l == nil {
		return true
	}
	allowed, retry, err := l.Allow(r.Context(), key)
	if err != nil {
		writeError(w, r, err)
		return false
	}
	if !allowed {
		writeError(w, r, &errs.Limited{Msg: msg, RetryAfter: retry})
		return false
	}
	return true
}

// afterAuth records the caller and counts the call against its rate per
// user, then serves it within the slot and the lifetime its route declares:
// a procedure by its own handler, a plain route by next (the mux).
func (e *enforcer) afterAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := call.From(r.Context())
		if id, ok := auth.UserFrom(r.Context()); ok {
			rec.UserID = id
		}
		if rec.Policy.GetRateLimit() == foxholev1.RateLimit_RATE_LIMIT_USER && e.perUser != nil {
			if err := e.perUser(r.Context(), rec.UserID); err != nil {
				writeError(w, r, err)
				return
			}
		}
		if rec.Policy.GetRateLimit() == foxholev1.RateLimit_RATE_LIMIT_USER_LIST &&
			!e.allow(w, r, e.perUserList, e.rateKey(rec.Route)+rec.UserID, "too many calls listing; retry later") {
			return
		}
		if l, ok := e.perUserRoom[rec.Policy.GetRateLimit()]; ok && !e.allow(w, r, l.limiter, rec.UserID, l.msg) {
			return
		}
		h := next
		if ru, ok := e.procedures[rec.Route]; ok {
			h = ru.handler
		}
		if rec.Policy.GetSlot() == foxholev1.Slot_SLOT_UNSPECIFIED && rec.Policy.GetMaxDuration() == nil {
			h.ServeHTTP(w, r)
			return
		}
		e.serveBounded(h, w, r, rec)
	})
}

// serveBounded serves a call within its slot and its lifetime. An upload's
// slot is taken before the body is read: an RPC's message is decoded into
// memory before its handler runs, so a slot taken by the handler alone
// would not bound that memory.
func (e *enforcer) serveBounded(next http.Handler, w http.ResponseWriter, r *http.Request, rec *call.Record) {
	switch slot := rec.Policy.GetSlot(); slot {
	case foxholev1.Slot_SLOT_UPLOAD, foxholev1.Slot_SLOT_DOWNLOAD:
		take := e.uploadSlot
		if slot == foxholev1.Slot_SLOT_DOWNLOAD {
			take = e.downloadSlot
		}
		if rec.Policy.GetAccess() == foxholev1.Access_ACCESS_PUBLIC {
			// A signed link has no caller: the handler takes the slot on
			// the file owner's behalf once it has checked the signature.
			var release func()
			defer func() {
				if release != nil {
					release()
				}
			}()
			rec.DeferSlot(func(owner string) error {
				r, err := take(owner)
				if err == nil {
					release = r
					rec.HoldSlot(r)
				}
				return err
			})
			break
		}
		release, err := take(rec.UserID)
		if err != nil {
			refuseUnread(w, r, err)
			return
		}
		defer release()
		rec.HoldSlot(release)
	case foxholev1.Slot_SLOT_PROBE_STREAM:
		select {
		case e.probes <- struct{}{}:
			release := func() { <-e.probes }
			defer release()
			rec.HoldSlot(release)
		default:
			writeError(w, r, &errs.Limited{Msg: "too many health and reflection streams are open; try again later", RetryAfter: time.Second})
			return
		}
	}
	if d := durationOf(rec.Policy.GetMaxDuration()); d > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		r = r.WithContext(ctx)
	}
	next.ServeHTTP(w, r)
}

// refuseUnread answers a call refused before its body was read. On
// HTTP/1.1 the connection then closes: net/http would otherwise read what
// is left of the body before it answers, to keep the connection, and a
// client that sends nothing more would hold the refusal, and its slot's
// worth of connection, as long as it liked.
func refuseUnread(w http.ResponseWriter, r *http.Request, err error) {
	if r.ProtoMajor == 1 {
		w.Header().Set("Connection", "close")
	}
	writeError(w, r, err)
}

// userLimit is a limit per user, and what a call refused by it is told.
type userLimit struct {
	limiter ratelimit.Limiter // nil: no limit
	msg     string
}
