package call_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/call"
)

// panics returns what fn panicked with, or "".
func panics(fn func()) (msg string) {
	defer func() {
		if p := recover(); p != nil {
			msg, _ = p.(string)
		}
	}()
	fn()
	return ""
}

func TestMissingValuesFailLoudly(t *testing.T) {
	if msg := panics(func() { call.From(context.Background()) }); !strings.Contains(msg, "no call record") {
		t.Errorf("From without a record: panic %q", msg)
	}
	rec := &call.Record{Route: "/foxhole.v1.ProfileService/GetProfile", Policy: &foxholev1.Policy{}}
	rec.SetClientAddr(netip.MustParseAddr("192.0.2.1"))
	for name, read := range map[string]func(){
		"the client address":     func() { rec.ClientAddr() },
		"its stream's deadlines": func() { rec.Deadlines() },
		"a slot":                 func() { rec.HoldsSlot() },
	} {
		if msg := panics(read); !strings.Contains(msg, rec.Route+" reads "+name+", which its policy does not declare") {
			t.Errorf("reading %s undeclared: panic %q", name, msg)
		}
	}

	rec.Policy = &foxholev1.Policy{ClientAddress: true, StreamDeadlines: true, Slot: foxholev1.Slot_SLOT_UPLOAD}
	if got := rec.ClientAddr(); got != netip.MustParseAddr("192.0.2.1") {
		t.Errorf("ClientAddr = %v", got)
	}
	if rec.HoldsSlot() {
		t.Error("HoldsSlot before HoldSlot")
	}
	rec.HoldSlot(func() {})
	if !rec.HoldsSlot() {
		t.Error("HoldsSlot after HoldSlot")
	}
	ctx := call.With(context.Background(), rec)
	if call.From(ctx) != rec {
		t.Error("From does not return the record With stored")
	}
}

func TestBaseURL(t *testing.T) {
	var rec call.Record
	rec.SetOrigin("", "http", "127.0.0.1:8080")
	if got := rec.BaseURL(); got != "http://127.0.0.1:8080" {
		t.Errorf("BaseURL = %q", got)
	}
	rec.SetOrigin("https://api.example.com", "http", "127.0.0.1:8080")
	if got := rec.BaseURL(); got != "https://api.example.com" {
		t.Errorf("BaseURL with a public URL = %q", got)
	}
}
