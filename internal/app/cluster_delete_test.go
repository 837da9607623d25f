package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

// TestDeleteAccountEndsSessionsEverywhere deletes an account through the
// first of two processes, whose every PUBLISH is swallowed on its way to
// Valkey: the second still ends the user's stream within five seconds (its
// recheck finds the user gone), refuses the token, and answers GetUser
// with not_found.
func TestDeleteAccountEndsSessionsEverywhere(t *testing.T) {
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
	bob := b.Register(t, p, "bob")
	onB := b.Clients(p, ada.Token)
	adaOnB, ended := events(t, onB, nil)
	next(t, adaOnB, "the stream's first event", func(*foxholev1.Event) bool { return true })

	if err := a.Clients(p, ada.Token).DeleteAccount(ctx, ada.Secret); err != nil {
		t.Fatal(err)
	}
	deleted := time.Now()
	timeout := time.After(time.Minute) // only keeps a broken build from hanging
	for open := true; open; {
		select {
		case _, open = <-adaOnB:
		case <-timeout:
			t.Fatal("B's stream of the deleted user did not end")
		}
	}
	if took := time.Since(deleted); took > 5*time.Second {
		t.Errorf("B's stream of the deleted user ended %v after the deletion, want within 5s", took)
	}
	if code := connect.CodeOf(*ended); code != connect.CodeUnauthenticated {
		t.Errorf("B's stream ended with %v, want unauthenticated", *ended)
	}
	if _, err := onB.Profile.GetProfile(ctx, connect.NewRequest(&foxholev1.GetProfileRequest{})); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Errorf("B answers the deleted user's token: %v", err)
	}
	_, err := b.Clients(p, bob.Token).Profile.GetUser(ctx, connect.NewRequest(&foxholev1.GetUserRequest{Id: ada.ID}))
	if connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("GetUser of the deleted user on B: %v, want not_found", err)
	}
}
