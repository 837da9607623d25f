package clientaddr_test

import (
	"net/http"
	"net/netip"
	"testing"

	"foxhole.dev/foxhole/internal/clientaddr"
)

func TestAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	res := clientaddr.NewResolver(trusted)
	cases := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"untrusted peer ignores the header", "203.0.113.9:5000", []string{"198.51.100.1"}, "203.0.113.9"},
		{"trusted peer, one hop", "10.0.0.2:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"trusted peer, no header", "10.0.0.2:5000", nil, "10.0.0.2"},
		{"spoofed left part is not believed", "10.0.0.2:5000", []string{"1.2.3.4, 198.51.100.1"}, "198.51.100.1"},
		{"trusted hops are skipped", "10.0.0.2:5000", []string{"198.51.100.1, 10.1.1.1, 10.2.2.2"}, "198.51.100.1"},
		{"several header lines", "10.0.0.2:5000", []string{"1.2.3.4", "198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"all trusted: the leftmost", "10.0.0.2:5000", []string{"10.3.3.3, 10.4.4.4"}, "10.3.3.3"},
		{"garbage stops at the proxy that passed it", "10.0.0.2:5000", []string{"198.51.100.1, nonsense"}, "10.0.0.2"},
		{"hop with a port", "10.0.0.2:5000", []string{"198.51.100.1:7000"}, "198.51.100.1"},
		{"IPv6 hop with a port", "10.0.0.2:5000", []string{"[2001:db8::1]:7000"}, "2001:db8::1"},
		{"IPv6 peer", "[::1]:5000", []string{"2001:db8::2"}, "2001:db8::2"},
		{"mapped IPv4 peer", "[::ffff:10.0.0.2]:5000", []string{"198.51.100.1"}, "198.51.100.1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: c.remote, Header: http.Header{}}
			for _, v := range c.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := res.Addr(r); got.String() != c.want {
				t.Errorf("Addr = %s, want %s", got, c.want)
			}
		})
	}
}

// FuzzAddr feeds X-Forwarded-For values to a resolver that trusts every
// peer: whatever the header holds, the answer is the peer or an address
// that appears in the header, and nothing panics.
func FuzzAddr(f *testing.F) {
	for _, s := range []string{"198.51.100.1", "1.2.3.4, 10.0.0.1", "[::1]:80", " , ,", "::ffff:1.2.3.4%eth0", "300.1.1.1"} {
		f.Add(s)
	}
	res := clientaddr.NewResolver([]netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")})
	f.Fuzz(func(t *testing.T, xff string) {
		r := &http.Request{RemoteAddr: "10.0.0.2:5000", Header: http.Header{"X-Forwarded-For": {xff}}}
		got := res.Addr(r)
		if !got.IsValid() {
			t.Fatalf("no address for %q", xff)
		}
		if got.String() != "10.0.0.2" {
			if _, ok := clientaddr.ParseHop(got.String()); !ok {
				t.Fatalf("answer %s does not parse as a hop", got)
			}
		}
	})
}

func TestKeyGroupsIPv6By64(t *testing.T) {
	a := clientaddr.Key(netip.MustParseAddr("2001:db8:1:2:aaaa::1"))
	b := clientaddr.Key(netip.MustParseAddr("2001:db8:1:2:bbbb::9"))
	c := clientaddr.Key(netip.MustParseAddr("2001:db8:1:3::1"))
	if a != b || a == c {
		t.Errorf("keys %s %s %s: want the first two equal, the third apart", a, b, c)
	}
	if k := clientaddr.Key(netip.MustParseAddr("198.51.100.7")); k.String() != "198.51.100.7" {
		t.Errorf("IPv4 key %s", k)
	}
}
