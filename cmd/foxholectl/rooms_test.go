package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

func parseRoom(t *testing.T, line string) *foxholev1.Room {
	t.Helper()
	r := &foxholev1.Room{}
	if err := protojson.Unmarshal([]byte(line), r); err != nil {
		t.Fatalf("not the JSON of a Room: %q: %v", line, err)
	}
	return r
}

// TestRoomsCommands runs every rooms command against a real server, with
// another user on the Go client: create, invite, members, ls, the
// directory, send --room, remove --ban, leave.
func TestRoomsCommands(t *testing.T) {
	srv := startServer(t)
	newHome(t)
	ada := registerCLI(t, srv.URL, client.Connect, "ada").GetUser()
	bobUser := srv.Register(t, client.Connect, "bob")
	bob := client.New(srv.URL, client.WithSecret(bobUser.Secret))
	ctx := t.Context()
	cli := func(args ...string) string {
		t.Helper()
		return mustCtl(t, "", append([]string{"--server", srv.URL}, args...)...)
	}

	out := cli("rooms", "create", "the den", "--topic", "quiet please")
	if !regexp.MustCompile(`^created the den \(\S+, private, 1 member\)\n$`).MatchString(out) {
		t.Errorf("rooms create printed %q", out)
	}
	den := parseRoom(t, cli("--json", "rooms", "ls"))
	if den.GetName() != "the den" || den.GetTopic() != "quiet please" || den.GetRole() != foxholev1.RoomRole_ROOM_ROLE_OWNER {
		t.Fatalf("rooms ls --json: %v", den)
	}
	hall := parseRoom(t, cli("--json", "rooms", "create", "Great Hall", "--public"))
	if hall.GetVisibility() != foxholev1.RoomVisibility_ROOM_VISIBILITY_PUBLIC {
		t.Errorf("rooms create --public: %v", hall)
	}

	if out := cli("rooms", "invite", den.GetId(), bobUser.ID); out != fmt.Sprintf("invited %s to %s\n", bobUser.ID, den.GetId()) {
		t.Errorf("rooms invite printed %q", out)
	}
	if _, err := bob.JoinRoom(ctx, den.GetId()); err != nil {
		t.Fatal(err)
	}
	out = cli("rooms", "members", den.GetId())
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "USER_ID") ||
		!regexp.MustCompile(`^`+ada.GetId()+`\s+ada\s+owner\s`).MatchString(lines[1]) ||
		!regexp.MustCompile(`^`+bobUser.ID+`\s+bob\s+member\s`).MatchString(lines[2]) {
		t.Errorf("rooms members printed:\n%s", out)
	}

	out = cli("rooms", "ls")
	if !regexp.MustCompile(`(?m)^` + den.GetId() + `\s+the den\s+owner\s+2\s+0\s+private\s+quiet please$`).MatchString(out) {
		t.Errorf("rooms ls printed:\n%s", out)
	}
	out = cli("rooms", "ls", "--directory", "--query", "HALL")
	if !regexp.MustCompile(`(?m)^`+hall.GetId()+`\s+Great Hall\s+1\s+owner`).MatchString(out) || strings.Contains(out, den.GetId()) {
		t.Errorf("rooms ls --directory --query HALL printed:\n%s", out)
	}
	if out := cli("rooms", "ls", "--directory", "--query", "no such room"); out != "" {
		t.Errorf("an empty directory printed %q", out)
	}

	bobEvents := subscribe(t, bob)
	sent := parseEvent(t, cli("--json", "send", "--room", den.GetId(), "hello", "den"))
	if m := (<-bobEvents).GetChatMessage(); m.GetContent() != "hello den" || m.GetRoomId() != den.GetId() || sent.GetChatMessage().GetRoomId() != den.GetId() {
		t.Errorf("bob received %v for %v, want the room message", m, sent)
	}

	if out := cli("rooms", "remove", den.GetId(), bobUser.ID, "--ban"); out != fmt.Sprintf("banned %s from %s\n", bobUser.ID, den.GetId()) {
		t.Errorf("rooms remove --ban printed %q", out)
	}
	if _, err := bob.JoinRoom(ctx, den.GetId()); err == nil {
		t.Error("a banned user joined again")
	}
	if out := cli("rooms", "leave", hall.GetId()); out != "left "+hall.GetId()+"\n" {
		t.Errorf("rooms leave printed %q", out)
	}
	// ada was the hall's last member: it is gone.
	if _, errOut, code := ctl(t, "", "--server", srv.URL, "rooms", "join", hall.GetId()); code != exitRefused || !strings.HasPrefix(errOut, "foxholectl: not_found: ") {
		t.Errorf("join a deleted room: exit %d, %q", code, errOut)
	}
}

// TestHistoryCommand prints a room's history a page at a time, following
// the command history prints for the next page, back to the room's start.
func TestHistoryCommand(t *testing.T) {
	srv := startServer(t)
	newHome(t)
	ada := registerCLI(t, srv.URL, client.Connect, "ada").GetUser()
	room := parseRoom(t, mustCtl(t, "", "--server", srv.URL, "--json", "rooms", "create", "archive"))
	for i := range 5 {
		mustCtl(t, "", "--server", srv.URL, "send", "--room", room.GetId(), fmt.Sprint("message ", i))
	}

	args := []string{"--server", srv.URL, "history", "--room", room.GetId(), "--limit", "2"}
	var pages []string
	for range 10 {
		out, errOut, code := ctl(t, "", args...)
		if code != exitOK {
			t.Fatalf("history: exit %d: %s", code, errOut)
		}
		pages = append(pages, out)
		cmd, ok := strings.CutPrefix(strings.TrimSpace(errOut), "older: foxholectl ")
		if !ok {
			if errOut != "(the oldest messages kept)\n" {
				t.Errorf("the last page said %q", errOut)
			}
			break
		}
		args = append([]string{"--server", srv.URL}, strings.Fields(cmd)...)
	}
	// Five messages and ada's joining, two a page, oldest first on each.
	want := []string{"ada: message 3\nada: message 4\n", "ada: message 1\nada: message 2\n", "you joined\nada: message 0\n"}
	if len(pages) != len(want) {
		t.Fatalf("%d pages, want %d:\n%s", len(pages), len(want), strings.Join(pages, "--\n"))
	}
	stamp := regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d #\d+ `)
	for i, p := range pages {
		if got := stamp.ReplaceAllString(p, ""); got != want[i] {
			t.Errorf("page %d:\n%s\nwant:\n%s", i, got, want[i])
		}
	}

	// --after pages forward; --json prints the events alone.
	out := mustCtl(t, "", "--server", srv.URL, "--json", "history", "--room", room.GetId(), "--after", "0", "--limit", "1")
	if ev := parseEvent(t, out); ev.GetRoomEvent().GetUser().GetId() != ada.GetId() {
		t.Errorf("the first event: %v, want ada's joining", ev)
	}
	// The lobby, with neither flag.
	if out := mustCtl(t, "", "--server", srv.URL, "history"); out != "" {
		t.Errorf("the lobby's history printed %q, want nothing: every message went to the room", out)
	}
}

// TestWatchRooms watches one room of two: its messages and the lobby's
// print, the other room's do not; when the user is removed from the
// room, watch says so.
func TestWatchRooms(t *testing.T) {
	srv := startServer(t)
	newHome(t)
	me := registerCLI(t, srv.URL, client.Connect, "ada").GetUser()
	bobUser := srv.Register(t, client.Connect, "bob")
	bob := client.New(srv.URL, client.WithSecret(bobUser.Secret))
	ctx := t.Context()
	one, err := bob.CreateRoom(ctx, "one", client.RoomOptions{Public: true})
	if err != nil {
		t.Fatal(err)
	}
	two, err := bob.CreateRoom(ctx, "two", client.RoomOptions{Public: true})
	if err != nil {
		t.Fatal(err)
	}
	three, err := bob.CreateRoom(ctx, "three", client.RoomOptions{Public: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*foxholev1.Room{one, two, three} {
		mustCtl(t, "", "--server", srv.URL, "rooms", "join", r.GetId())
	}

	w := startCtl(t, "--server", srv.URL, "watch", "--no-presence", "--room", one.GetId()+","+three.GetId())
	waitOnline(t, bob, me.GetId())
	for _, s := range []struct {
		room, text string
	}{{two.GetId(), "in two"}, {one.GetId(), "in one"}, {three.GetId(), "in three"}, {"", "in the lobby"}} {
		if _, err := bob.Send(ctx, client.InRoom(s.room), s.text); err != nil {
			t.Fatal(err)
		}
	}
	w.stdout.waitLine(t, "["+one.GetId()+"] bob: in one")
	w.stdout.waitLine(t, "["+three.GetId()+"] bob: in three")
	w.stdout.waitLine(t, "bob: in the lobby")
	if strings.Contains(w.stdout.String(), "in two") {
		t.Errorf("watch --room printed another room's message:\n%s", w.stdout)
	}

	if err := bob.RemoveMember(ctx, one.GetId(), me.GetId(), false); err != nil {
		t.Fatal(err)
	}
	w.stdout.waitLine(t, "["+one.GetId()+"] bob removed you; nothing more of this room reaches you")
	if _, err := bob.Send(ctx, client.InRoom(one.GetId()), "after the removal"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Send(ctx, client.Lobby, "lobby after the removal"); err != nil {
		t.Fatal(err)
	}
	w.stdout.waitLine(t, "bob: lobby after the removal")
	if strings.Contains(w.stdout.String(), "bob: after the removal") {
		t.Errorf("watch printed a message of a room after the user's removal:\n%s", w.stdout)
	}
	// Sending to the room is refused: permission_denied, as the room is
	// public (a private one answers not_found).
	if _, errOut, code := ctl(t, "", "--server", srv.URL, "send", "--room", one.GetId(), "hi"); code != exitRefused || !strings.HasPrefix(errOut, "foxholectl: permission_denied: ") {
		t.Errorf("send to a public room after removal: exit %d, %q", code, errOut)
	}
}

// TestRoomsUsage checks the mistakes foxholectl catches before asking the
// server, and a refusal by it.
func TestRoomsUsage(t *testing.T) {
	srv := startServer(t)
	newHome(t)
	registerCLI(t, srv.URL, client.Connect, "ada")
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"rooms"}, exitUsage, "foxholectl: rooms needs a subcommand: ls, create, join, leave, invite, remove, members"},
		{[]string{"rooms", "create"}, exitUsage, "foxholectl: usage: foxholectl rooms create NAME"},
		{[]string{"rooms", "invite", "a-room"}, exitUsage, "foxholectl: usage: foxholectl rooms invite ROOM_ID USER_ID"},
		{[]string{"rooms", "ls", "--query", "x"}, exitUsage, "foxholectl: --query searches the directory"},
		{[]string{"send", "--to", "u", "--room", "r", "hi"}, exitUsage, "foxholectl: send: --to and --room cannot go together"},
		{[]string{"history", "--room", "r", "--peer", "u"}, exitUsage, "foxholectl: history: --room and --peer cannot go together"},
		{[]string{"history", "--before", "5", "--after", "1"}, exitUsage, "foxholectl: history: --before and --after cannot go together"},
		{[]string{"history", "--limit", "0"}, exitUsage, "foxholectl: history: --limit 0: want 1 to 200"},
		{[]string{"rooms", "join", "no-such-room"}, exitRefused, "foxholectl: not_found: "},
		{[]string{"history", "--room", "no-such-room"}, exitRefused, "foxholectl: not_found: "},
		{[]string{"send", "--room", "no-such-room", "hi"}, exitRefused, "foxholectl: not_found: "},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, errOut, code := ctl(t, "", append([]string{"--server", srv.URL}, tc.args...)...)
			if code != tc.code || !strings.HasPrefix(errOut, tc.stderr) {
				t.Errorf("exit %d, stderr %q: want %d, %q...", code, errOut, tc.code, tc.stderr)
			}
		})
	}
}
