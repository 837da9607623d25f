package client_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"testing"

	"connectrpc.com/connect"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/testutil"
)

// serverURL is a Foxhole started for the examples and tests of this
// package, such as http://127.0.0.1:8080 would be.
var serverURL string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "foxhole-client-")
	if err != nil {
		log.Fatal(err)
	}
	// Every call comes from one address, which the limit per address on
	// Register and CreateToken would soon refuse.
	srv, err := testutil.Serve(dir, func(c *config.Config) { c.AuthRate = 0 })
	if err != nil {
		log.Fatal(err)
	}
	serverURL = srv.URL
	code := m.Run()
	srv.Stop()
	os.RemoveAll(dir)
	os.Exit(code)
}

// A Go service registers a user once, keeps the secret, and from then on
// calls Foxhole with tokens renewed from it.
func Example() {
	ctx := context.Background()
	fox := client.New(serverURL, client.WithProtocol(client.GRPC))
	reg, err := fox.Register(ctx, "robot")
	if err != nil {
		log.Fatal(err)
	}
	// Keep reg.UserSecret; later: client.New(serverURL, client.WithSecret(secret)).
	profile, err := fox.Profile.GetProfile(ctx, connect.NewRequest(&foxholev1.GetProfileRequest{}))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(profile.Msg.GetUser().GetScreenName(), profile.Msg.GetUser().GetId() == reg.GetUser().GetId())
	// Output: robot true
}

// Subscribe delivers every event once, in order, across dropped
// connections, revoked tokens and restarts of the server.
func ExampleClient_Subscribe() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fox := client.New(serverURL)
	if _, err := fox.Register(ctx, "listener"); err != nil {
		log.Fatal(err)
	}
	if _, err := fox.Realtime.SendMessage(ctx, connect.NewRequest(&foxholev1.SendMessageRequest{Content: "hello from the example"})); err != nil {
		log.Fatal(err)
	}
	after := int64(0) // where to resume: 0 replays the retained history
	err := fox.Subscribe(ctx, client.SubscribeOptions{AfterEventID: &after, SkipPresence: true}, func(ev *foxholev1.Event) error {
		if m := ev.GetChatMessage(); m != nil && m.GetContent() == "hello from the example" {
			fmt.Println(m.GetSender().GetScreenName(), "said", m.GetContent())
			cancel() // done
			return nil
		}
		return nil
	})
	_ = err // context.Canceled, once cancel was called
	// Output: listener said hello from the example
}

// A room: create it, invite someone, talk, then read the history back,
// newest first, a page at a time.
func ExampleClient_History() {
	ctx := context.Background()
	fox := client.New(serverURL)
	if _, err := fox.Register(ctx, "host"); err != nil {
		log.Fatal(err)
	}
	guest := client.New(serverURL)
	reg, err := guest.Register(ctx, "guest")
	if err != nil {
		log.Fatal(err)
	}
	room, err := fox.CreateRoom(ctx, "book club", client.RoomOptions{Topic: "one chapter a week"})
	if err != nil {
		log.Fatal(err)
	}
	if err := fox.InviteMember(ctx, room.GetId(), reg.GetUser().GetId()); err != nil {
		log.Fatal(err)
	}
	if _, err := guest.JoinRoom(ctx, room.GetId()); err != nil {
		log.Fatal(err)
	}
	for _, text := range []string{"chapter one?", "loved it", "chapter two next"} {
		if _, err := fox.Send(ctx, client.InRoom(room.GetId()), text); err != nil {
			log.Fatal(err)
		}
	}
	for ev, err := range guest.History(ctx, client.InRoom(room.GetId()), client.Page{Size: 2}) {
		if err != nil {
			log.Fatal(err)
		}
		switch {
		case ev.GetChatMessage() != nil:
			fmt.Println(ev.GetChatMessage().GetSender().GetScreenName()+":", ev.GetChatMessage().GetContent())
		case ev.GetRoomEvent() != nil:
			fmt.Println(ev.GetRoomEvent().GetUser().GetScreenName(), ev.GetRoomEvent().GetKind())
		}
	}
	// Output:
	// host: chapter two next
	// host: loved it
	// host: chapter one?
	// guest ROOM_EVENT_KIND_JOINED
	// guest ROOM_EVENT_KIND_INVITED
	// host ROOM_EVENT_KIND_JOINED
}
