package main

import (
	"fmt"
	"strings"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

// roomPrefix names the room an event belongs to, unless the listing is of
// that room alone.
func roomPrefix(roomID, listing string) string {
	if roomID == listing {
		return ""
	}
	return "[" + clean(roomID) + "] "
}

// roomEventLine tells people what changed in a room. me is the user's own
// id: a change about the user says "you", and what the user can do next.
func roomEventLine(re *foxholev1.RoomEvent, me string) string {
	actor := clean(re.GetActor().GetScreenName())
	user := fmt.Sprintf("%s (%s)", clean(re.GetUser().GetScreenName()), clean(re.GetUser().GetId()))
	you := re.GetUser().GetId() != "" && re.GetUser().GetId() == me
	if you {
		user = "you"
	}
	switch re.GetKind() {
	case foxholev1.RoomEventKind_ROOM_EVENT_KIND_JOINED:
		if you {
			return "you joined"
		}
		return user + " joined"
	case foxholev1.RoomEventKind_ROOM_EVENT_KIND_LEFT:
		if you {
			return "you left; nothing more of this room reaches you"
		}
		return user + " left"
	case foxholev1.RoomEventKind_ROOM_EVENT_KIND_INVITED:
		if you {
			return fmt.Sprintf("%s invited you; join with: foxholectl rooms join %s", actor, clean(re.GetRoomId()))
		}
		return fmt.Sprintf("%s invited %s", actor, user)
	case foxholev1.RoomEventKind_ROOM_EVENT_KIND_REMOVED:
		if you {
			return actor + " removed you; nothing more of this room reaches you"
		}
		return fmt.Sprintf("%s removed %s", actor, user)
	case foxholev1.RoomEventKind_ROOM_EVENT_KIND_BANNED:
		if you {
			return actor + " banned you; nothing more of this room reaches you"
		}
		return fmt.Sprintf("%s banned %s", actor, user)
	case foxholev1.RoomEventKind_ROOM_EVENT_KIND_UNBANNED:
		return fmt.Sprintf("%s lifted the ban on %s", actor, user)
	case foxholev1.RoomEventKind_ROOM_EVENT_KIND_ROLE_CHANGED:
		return fmt.Sprintf("%s made %s %s", actor, user, roleName(re.GetRole()))
	case foxholev1.RoomEventKind_ROOM_EVENT_KIND_UPDATED:
		r := re.GetRoom()
		parts := []string{fmt.Sprintf("name %q", clean(r.GetName())), visibilityName(r.GetVisibility())}
		if r.GetTopic() != "" {
			parts = append(parts, fmt.Sprintf("topic %q", clean(r.GetTopic())))
		}
		return fmt.Sprintf("%s updated the room: %s", actor, strings.Join(parts, ", "))
	case foxholev1.RoomEventKind_ROOM_EVENT_KIND_DELETED:
		return actor + " deleted the room"
	}
	return "(a room change this version does not know)"
}

// roleName spells a role for people: owner, admin, member.
func roleName(r foxholev1.RoomRole) string {
	switch r {
	case foxholev1.RoomRole_ROOM_ROLE_OWNER:
		return "owner"
	case foxholev1.RoomRole_ROOM_ROLE_ADMIN:
		return "admin"
	case foxholev1.RoomRole_ROOM_ROLE_MEMBER:
		return "member"
	}
	return "-"
}

// visibilityName spells a visibility for people: private, public.
func visibilityName(v foxholev1.RoomVisibility) string {
	if v == foxholev1.RoomVisibility_ROOM_VISIBILITY_PUBLIC {
		return "public"
	}
	return "private"
}

// printRoom prints a room: its JSON with --json, else one line.
func (e *env) printRoom(verb string, r *foxholev1.Room) error {
	if e.json {
		return e.printProto(r)
	}
	_, err := fmt.Fprintf(e.stdout, "%s %s (%s, %s, %s)\n", verb, clean(r.GetName()), clean(r.GetId()), visibilityName(r.GetVisibility()), members(r.GetMemberCount()))
	return err
}

func members(n int32) string {
	if n == 1 {
		return "1 member"
	}
	return fmt.Sprintf("%d members", n)
}

// roomIDs is a flag naming rooms, repeated or separated by commas.
type roomIDs []string

func (r *roomIDs) String() string { return strings.Join(*r, ",") }

func (r *roomIDs) Set(s string) error {
	for id := range strings.SplitSeq(s, ",") {
		if id = strings.TrimSpace(id); id != "" {
			*r = append(*r, id)
		}
	}
	return nil
}
