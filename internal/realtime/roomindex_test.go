package realtime

import (
	"maps"
	"slices"
	"testing"
)

// TestRoomIndexKeepsChangesHeardWhileLoading checks that changes of
// membership heard while a user's rooms are read from the database are
// applied on top of what was read, in order, and that a room event offered
// meanwhile is reported, so that the user's sessions catch up.
func TestRoomIndexKeepsChangesHeardWhileLoading(t *testing.T) {
	var x roomIndex
	x.track("u")
	if x.ready("u") {
		t.Fatal("ready before its rooms were read")
	}
	// Heard while the read runs: removed from a, joined c, deleted d.
	x.apply(roomChange{room: "a", user: "u"})
	x.apply(roomChange{room: "c", user: "u", join: true})
	x.apply(roomChange{room: "d"})
	x.apply(roomChange{room: "b", user: "other", join: true}) // not tracked: ignored
	x.events.Add(1)
	// The read began before all of it: it still has a and d.
	if missed := x.loaded("u", []string{"a", "b", "d"}); !missed {
		t.Error("a room event offered while loading was not reported")
	}
	if got := slices.Sorted(maps.Keys(x.byUser["u"].rooms)); !slices.Equal(got, []string{"b", "c"}) {
		t.Errorf("rooms = %v, want [b c]", got)
	}
	if got := slices.Sorted(maps.Keys(x.byRoom)); !slices.Equal(got, []string{"b", "c"}) {
		t.Errorf("rooms with members here = %v, want [b c]", got)
	}
	// A second load (another session) leaves the known rooms alone.
	if x.loaded("u", []string{"z"}); len(x.byUser["u"].rooms) != 2 {
		t.Error("a second load replaced the rooms kept by events")
	}
	x.apply(roomChange{room: "b", user: "u"})
	if _, ok := x.byRoom["b"]; ok {
		t.Error("room b still lists u after it left")
	}
	x.untrack("u")
	if len(x.byRoom) != 0 || len(x.byUser) != 0 {
		t.Errorf("untracked, the index still holds %v %v", x.byRoom, x.byUser)
	}
}
