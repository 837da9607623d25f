package backends

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// PebbleVersion is the Pebble that CI installs.
const PebbleVersion = "v2.10.3"

// Pebble is Let's Encrypt's ACME test server, running for a test.
type Pebble struct {
	Directory string // the ACME directory URL
	Logs      *LockedBuffer
	mgmt      string
	client    *http.Client
}

// PebbleOptions say how the Pebble validates challenges.
type PebbleOptions struct {
	// TLSPort is the port that TLS-ALPN-01 challenges are checked on.
	TLSPort int
	// CertFile and KeyFile are Pebble's own HTTPS certificate, for
	// localhost and 127.0.0.1; CAFile is what issued it.
	CertFile, KeyFile, CAFile string
}

// StartPebble starts Pebble on loopback ports, validating every domain on
// 127.0.0.1 through a DNS server of its own that answers every name with
// 127.0.0.1, and stops it when the test ends. The binary is the one named
// by FOXHOLE_TEST_PEBBLE, else `pebble` on PATH; without one the test is
// skipped with a message saying how to install it (CI always has it).
func StartPebble(t testing.TB, o PebbleOptions) *Pebble {
	t.Helper()
	bin := os.Getenv("FOXHOLE_TEST_PEBBLE")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("pebble"); err != nil {
			t.Skip("no pebble binary: install one with `go install github.com/letsencrypt/pebble/v2/cmd/pebble@" + PebbleVersion + "` or set FOXHOLE_TEST_PEBBLE")
		}
	}
	dns := startLoopbackDNS(t)
	listen, mgmt := FreeAddr(t), FreeAddr(t)
	_, httpPort, _ := net.SplitHostPort(FreeAddr(t))
	hp, _ := strconv.Atoi(httpPort)
	conf := map[string]any{"pebble": map[string]any{
		"listenAddress":                  listen,
		"managementListenAddress":        mgmt,
		"certificate":                    o.CertFile,
		"privateKey":                     o.KeyFile,
		"httpPort":                       hp,
		"tlsPort":                        o.TLSPort,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
		"retryAfter":                     map[string]int{"authz": 1, "order": 1},
		"keyAlgorithm":                   "ecdsa",
		"profiles": map[string]any{
			"default": map[string]any{"description": "default", "validityPeriod": 7776000},
		},
	}}
	dir := t.TempDir()
	confFile := filepath.Join(dir, "pebble.json")
	b, _ := json.Marshal(conf)
	if err := os.WriteFile(confFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-config", confFile, "-dnsserver", dns)
	// No random pause before validating, and no nonces refused on purpose.
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0")
	logs := &LockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start pebble: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("pebble's output:\n%s", logs)
		}
	})
	pem, err := os.ReadFile(o.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	p := &Pebble{
		Logs:      logs,
		Directory: "https://" + listen + "/dir",
		mgmt:      "https://" + mgmt,
		client:    &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}},
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := p.client.Get(p.Directory)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble not up after 60s: %v; output:\n%s", err, logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Roots returns the PEM root certificate that Pebble issues under.
func (p *Pebble) Roots(t testing.TB) []byte {
	t.Helper()
	res, err := p.client.Get(p.mgmt + "/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("pebble roots: %s %v", res.Status, err)
	}
	return b
}

// startLoopbackDNS answers every A query with 127.0.0.1 and every other
// query with no records, on a loopback port over UDP and TCP (Pebble asks
// over TCP), until the test ends.
func startLoopbackDNS(t testing.TB) string {
	t.Helper()
	var ln net.Listener
	var pc net.PacketConn
	for range 20 {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if pc, err = net.ListenPacket("udp", ln.Addr().String()); err == nil {
			break
		}
		ln.Close()
	}
	if pc == nil {
		t.Fatal("no loopback port free for both UDP and TCP")
	}
	t.Cleanup(func() { pc.Close(); ln.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if out := dnsAnswer(buf[:n]); out != nil {
				pc.WriteTo(out, from)
			}
		}
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(30 * time.Second))
				for {
					var size [2]byte
					if _, err := io.ReadFull(c, size[:]); err != nil {
						return
					}
					q := make([]byte, binary.BigEndian.Uint16(size[:]))
					if _, err := io.ReadFull(c, q); err != nil {
						return
					}
					out := dnsAnswer(q)
					if out == nil {
						return
					}
					c.Write(binary.BigEndian.AppendUint16(nil, uint16(len(out))))
					c.Write(out)
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// dnsAnswer is the answer to the query q, or nil when q is not one.
func dnsAnswer(q []byte) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(q)
	if err != nil {
		return nil
	}
	question, err := p.Question()
	if err != nil {
		return nil
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true})
	b.EnableCompression()
	b.StartQuestions()
	b.Question(question)
	b.StartAnswers()
	if question.Type == dnsmessage.TypeA {
		b.AResource(dnsmessage.ResourceHeader{Name: question.Name, Class: dnsmessage.ClassINET, TTL: 60}, dnsmessage.AResource{A: [4]byte{127, 0, 0, 1}})
	}
	out, err := b.Finish()
	if err != nil {
		panic(fmt.Sprint("dns answer: ", err))
	}
	return out
}
