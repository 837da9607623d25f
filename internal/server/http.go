package server

import (
	"net/http"
	"time"
)

// NewHTTPServer returns the server for h on addr: HTTP/1.1 and cleartext
// HTTP/2 on the same port, or HTTP/1.1 and HTTP/2 by ALPN when served
// over TLS, with timeouts that stop slow headers and idle
// connections without cutting long streams.
func NewHTTPServer(addr string, h http.Handler) *http.Server {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	protocols.SetHTTP2(true)
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams: 256,
			// Ping idle HTTP/2 connections and drop those that do not answer.
			SendPingTimeout: 30 * time.Second,
			PingTimeout:     15 * time.Second,
		},
	}
}
