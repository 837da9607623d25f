package app_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

// TestRevocationSurvivesALostPublish runs two processes on one Valkey, the
// first reaching it through a proxy that swallows every PUBLISH: Valkey
// answers it as it would any PUBLISH, so the first process believes the
// revocation went out. A rotation on the first still ends, within the five
// seconds API.md promises, the second's stream of the old token (its
// periodic recheck of the sessions' token versions), and the old token is
// refused there too.
func TestRevocationSurvivesALostPublish(t *testing.T) {
	var proxy *swallowingProxy
	c := startCluster(t, clusterOptions{processes: 2, envOf: func(c *cluster, i int) []string {
		if i != 0 {
			return nil
		}
		proxy = startSwallowingProxy(t, strings.TrimSuffix(strings.TrimPrefix(c.valkey.URL, "redis://"), "/0"))
		return []string{"FOXHOLE_VALKEY_URL=redis://" + proxy.addr + "/0"}
	}})
	a, b := c.procs[0], c.procs[1]
	p := client.Connect
	ctx := context.Background()

	ada := a.Register(t, p, "ada")
	onB := b.Clients(p, ada.Token)
	adaOnB, ended := events(t, onB, nil)
	// The stream is open on B once it answers with ada's own join.
	next(t, adaOnB, "the stream's first event", func(*foxholev1.Event) bool { return true })

	before := proxy.swallowed.Load()
	if _, err := a.Clients(p, ada.Token).RotateSecretWith(ctx, ada.Secret); err != nil {
		t.Fatal(err)
	}
	rotated := time.Now()
	if proxy.swallowed.Load() == before {
		t.Fatal("the proxy swallowed no PUBLISH of the rotation's revocation")
	}
	timeout := time.After(time.Minute) // only keeps a broken build from hanging
	for open := true; open; {
		select {
		case _, open = <-adaOnB:
		case <-timeout:
			t.Fatal("B's stream of the revoked token did not end")
		}
	}
	if took := time.Since(rotated); took > 5*time.Second {
		t.Errorf("B's stream of the revoked token ended %v after the rotation, want within 5s", took)
	}
	if code := connect.CodeOf(*ended); code != connect.CodeUnauthenticated {
		t.Fatalf("B's stream ended with %v, want unauthenticated", *ended)
	}
	for {
		_, err := onB.Profile.GetProfile(ctx, connect.NewRequest(&foxholev1.GetProfileRequest{}))
		if connect.CodeOf(err) == connect.CodeUnauthenticated {
			break
		}
		if time.Since(rotated) > 5*time.Second {
			t.Fatalf("B still answers the revoked token %v after the rotation: %v", time.Since(rotated), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// swallowingProxy forwards connections to Valkey, rewriting each PUBLISH
// to a channel nobody subscribes to: Valkey answers it in its place in the
// pipeline (with 0 receivers), and the message reaches no one.
type swallowingProxy struct {
	addr      string
	swallowed atomic.Int64
}

func startSwallowingProxy(t *testing.T, target string) *swallowingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &swallowingProxy{addr: ln.Addr().String()}
	var conns sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		conns.Wait()
	})
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", target)
			if err != nil {
				client.Close()
				continue
			}
			mu.Lock()
			open = append(open, client, server)
			mu.Unlock()
			conns.Go(func() {
				io.Copy(client, server)
				client.Close()
			})
			conns.Go(func() {
				p.forward(server, client)
				server.Close()
			})
		}
	}()
	return p
}

// forward copies RESP commands (arrays of bulk strings, as clients send
// them) from client to server, rewriting PUBLISH's channel.
func (p *swallowingProxy) forward(server io.Writer, client io.Reader) {
	r := bufio.NewReader(client)
	w := bufio.NewWriter(server)
	for {
		args, err := readCommand(r)
		if err != nil {
			return
		}
		if len(args) == 3 && strings.EqualFold(args[0], "PUBLISH") {
			args[1] = "foxhole-test-swallowed"
			p.swallowed.Add(1)
		}
		fmt.Fprintf(w, "*%d\r\n", len(args))
		for _, a := range args {
			fmt.Fprintf(w, "$%d\r\n%s\r\n", len(a), a)
		}
		// Flush when the client has sent all it had: a pipeline stays one.
		if r.Buffered() == 0 {
			if w.Flush() != nil {
				return
			}
		}
	}
}

func readCommand(r *bufio.Reader) ([]string, error) {
	n, err := readLength(r, '*')
	if err != nil {
		return nil, err
	}
	args := make([]string, n)
	for i := range args {
		size, err := readLength(r, '$')
		if err != nil {
			return nil, err
		}
		b := make([]byte, size+2)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		args[i] = string(b[:size])
	}
	return args, nil
}

func readLength(r *bufio.Reader, kind byte) (int, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 3 || line[0] != kind {
		return 0, errors.New("not a RESP command as clients send them: " + strconv.Quote(line))
	}
	return strconv.Atoi(strings.TrimSuffix(line[1:], "\r\n"))
}
