package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"foxhole.dev/foxhole/client"
)

var historyCommand = command{
	name:    "history",
	args:    "[--room ROOM_ID | --peer USER_ID] [--before ID | --after ID] [--limit N]",
	summary: "print a page of a conversation's history, oldest first, and how to get the next",
	setup: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
		room := fs.String("room", "", "the history of room `ROOM_ID` (you must be a member)")
		peer := fs.String("peer", "", "the history of your direct conversation with `USER_ID`")
		before := fs.Int64("before", -1, "the page that ends just before event `ID` (scrolling back)")
		after := fs.Int64("after", -1, "the page that starts just after event `ID` (0: the oldest kept)")
		limit := fs.Int("limit", 50, "the most events on the page, 1 to 200")
		return func(ctx context.Context, e *env, args []string) error {
			switch {
			case len(args) > 0:
				return usagef("history takes no arguments")
			case *room != "" && *peer != "":
				return usagef("history: --room and --peer cannot go together")
			case *before >= 0 && *after >= 0:
				return usagef("history: --before and --after cannot go together")
			case *limit < 1 || *limit > 200:
				return usagef("history: --limit %d: want 1 to 200", *limit)
			}
			p := client.Page{Size: int32(*limit)}
			if *before >= 0 {
				p.BeforeEventID = before
			}
			if *after >= 0 {
				p.AfterEventID = after
			}
			return history(ctx, e, client.Conversation{RoomID: *room, PeerID: *peer}, p)
		}
	},
}

// history prints one page, then, on stderr, the command that prints the
// next one in the same direction, if any.
func history(ctx context.Context, e *env, cv client.Conversation, p client.Page) error {
	c, me, err := e.login(ctx)
	if err != nil {
		return err
	}
	res, err := c.ListMessages(ctx, cv, p)
	if err != nil {
		return err
	}
	events := res.GetEvents()
	for _, ev := range events {
		if err := e.printEventIn(ev, me.UserID, cv.RoomID); err != nil {
			return err
		}
	}
	if e.json {
		return nil
	}
	switch {
	case len(events) == 0:
		_, err = fmt.Fprintln(e.stderr, "no messages")
	case !res.GetHasMore() && p.AfterEventID != nil:
		_, err = fmt.Fprintln(e.stderr, "(the newest messages)")
	case !res.GetHasMore():
		_, err = fmt.Fprintln(e.stderr, "(the oldest messages kept)")
	case p.AfterEventID != nil:
		_, err = fmt.Fprintf(e.stderr, "newer: %s --after %d\n", historyCommandLine(cv, p), events[len(events)-1].GetId())
	default:
		_, err = fmt.Fprintf(e.stderr, "older: %s --before %d\n", historyCommandLine(cv, p), events[0].GetId())
	}
	return err
}

// historyCommandLine spells the history command for cv and p's size.
func historyCommandLine(cv client.Conversation, p client.Page) string {
	words := []string{"foxholectl history"}
	if cv.RoomID != "" {
		words = append(words, "--room", clean(cv.RoomID))
	}
	if cv.PeerID != "" {
		words = append(words, "--peer", clean(cv.PeerID))
	}
	if p.Size != 50 {
		words = append(words, "--limit", fmt.Sprint(p.Size))
	}
	return strings.Join(words, " ")
}
