package client

import (
	"context"

	"connectrpc.com/connect"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

// RoomOptions shape a room at its creation.
type RoomOptions struct {
	Topic string
	// Public lists the room in the directory, where anyone not banned may
	// join it; otherwise it is private: members join by invitation, and
	// the room is invisible to everyone else.
	Public bool
}

// CreateRoom creates a room whose only member is the caller, as its owner.
func (c *Client) CreateRoom(ctx context.Context, name string, o RoomOptions) (*foxholev1.Room, error) {
	req := &foxholev1.CreateRoomRequest{Name: name, Topic: o.Topic, Visibility: foxholev1.RoomVisibility_ROOM_VISIBILITY_PRIVATE}
	if o.Public {
		req.Visibility = foxholev1.RoomVisibility_ROOM_VISIBILITY_PUBLIC
	}
	res, err := c.Rooms.CreateRoom(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, err
	}
	return res.Msg.GetRoom(), nil
}

// GetRoom returns a room as the caller sees it: its role, its unread count,
// whether it is invited. A private room the caller neither belongs nor is
// invited to answers not_found.
func (c *Client) GetRoom(ctx context.Context, roomID string) (*foxholev1.Room, error) {
	res, err := c.Rooms.GetRoom(ctx, connect.NewRequest(&foxholev1.GetRoomRequest{RoomId: roomID}))
	if err != nil {
		return nil, err
	}
	return res.Msg.GetRoom(), nil
}

// JoinedRooms lists every room the caller belongs to, latest activity
// first, paging ListRooms.
func (c *Client) JoinedRooms(ctx context.Context) ([]*foxholev1.Room, error) {
	return c.listRooms(ctx, &foxholev1.ListRoomsRequest{Joined: true})
}

// PublicRooms lists the directory of public rooms, by name, those whose
// name contains query (ignoring case) when it is not empty, paging
// ListRooms.
func (c *Client) PublicRooms(ctx context.Context, query string) ([]*foxholev1.Room, error) {
	return c.listRooms(ctx, &foxholev1.ListRoomsRequest{Query: query})
}

// roomsPageSize is how many rooms or members each list call asks for: the
// most ListRooms returns.
const roomsPageSize = 200

func (c *Client) listRooms(ctx context.Context, req *foxholev1.ListRoomsRequest) ([]*foxholev1.Room, error) {
	req.PageSize = roomsPageSize
	var rooms []*foxholev1.Room
	for {
		res, err := c.Rooms.ListRooms(ctx, connect.NewRequest(req))
		if err != nil {
			return nil, err
		}
		rooms = append(rooms, res.Msg.GetRooms()...)
		if req.PageToken = res.Msg.GetNextPageToken(); req.PageToken == "" {
			return rooms, nil
		}
	}
}

// JoinRoom makes the caller a member of a public room, or of a private one
// it is invited to, and returns the room. Joining a room again changes
// nothing.
func (c *Client) JoinRoom(ctx context.Context, roomID string) (*foxholev1.Room, error) {
	res, err := c.Rooms.JoinRoom(ctx, connect.NewRequest(&foxholev1.JoinRoomRequest{RoomId: roomID}))
	if err != nil {
		return nil, err
	}
	return res.Msg.GetRoom(), nil
}

// LeaveRoom ends the caller's membership, or declines its invitation. The
// caller's streams receive the LEFT event, then nothing more of the room.
func (c *Client) LeaveRoom(ctx context.Context, roomID string) error {
	_, err := c.Rooms.LeaveRoom(ctx, connect.NewRequest(&foxholev1.LeaveRoomRequest{RoomId: roomID}))
	return err
}

// InviteMember invites a user to the room (owner or admin). The invitee's
// streams receive the INVITED event; it may then join.
func (c *Client) InviteMember(ctx context.Context, roomID, userID string) error {
	_, err := c.Rooms.InviteMember(ctx, connect.NewRequest(&foxholev1.InviteMemberRequest{RoomId: roomID, UserId: userID}))
	return err
}

// RemoveMember removes a member or withdraws an invitation (owner or
// admin); with ban, the user cannot join again until UnbanMember. The
// user's streams receive the REMOVED or BANNED event, then nothing more of
// the room.
func (c *Client) RemoveMember(ctx context.Context, roomID, userID string, ban bool) error {
	_, err := c.Rooms.RemoveMember(ctx, connect.NewRequest(&foxholev1.RemoveMemberRequest{RoomId: roomID, UserId: userID, Ban: ban}))
	return err
}

// UnbanMember lifts a ban (owner or admin).
func (c *Client) UnbanMember(ctx context.Context, roomID, userID string) error {
	_, err := c.Rooms.UnbanMember(ctx, connect.NewRequest(&foxholev1.UnbanMemberRequest{RoomId: roomID, UserId: userID}))
	return err
}

// UpdateMember changes a member's role (owner).
func (c *Client) UpdateMember(ctx context.Context, roomID, userID string, role foxholev1.RoomRole) (*foxholev1.RoomMember, error) {
	res, err := c.Rooms.UpdateMember(ctx, connect.NewRequest(&foxholev1.UpdateMemberRequest{RoomId: roomID, UserId: userID, Role: role}))
	if err != nil {
		return nil, err
	}
	return res.Msg.GetMember(), nil
}

// RoomUpdate is a change to a room: the fields set change.
type RoomUpdate struct {
	Name       *string
	Topic      *string // "" clears the topic
	Visibility foxholev1.RoomVisibility
}

// UpdateRoom changes a room's name, topic or visibility (owner or admin)
// and returns the room.
func (c *Client) UpdateRoom(ctx context.Context, roomID string, u RoomUpdate) (*foxholev1.Room, error) {
	res, err := c.Rooms.UpdateRoom(ctx, connect.NewRequest(&foxholev1.UpdateRoomRequest{
		RoomId: roomID, Name: u.Name, Topic: u.Topic, Visibility: u.Visibility,
	}))
	if err != nil {
		return nil, err
	}
	return res.Msg.GetRoom(), nil
}

// ListMembers lists every member of a room, in order of joining, paging
// the call.
func (c *Client) ListMembers(ctx context.Context, roomID string) ([]*foxholev1.RoomMember, error) {
	req := &foxholev1.ListMembersRequest{RoomId: roomID, PageSize: roomsPageSize}
	var members []*foxholev1.RoomMember
	for {
		res, err := c.Rooms.ListMembers(ctx, connect.NewRequest(req))
		if err != nil {
			return nil, err
		}
		members = append(members, res.Msg.GetMembers()...)
		if req.PageToken = res.Msg.GetNextPageToken(); req.PageToken == "" {
			return members, nil
		}
	}
}

// DeleteRoom deletes a room and its history (owner).
func (c *Client) DeleteRoom(ctx context.Context, roomID string) error {
	_, err := c.Rooms.DeleteRoom(ctx, connect.NewRequest(&foxholev1.DeleteRoomRequest{RoomId: roomID}))
	return err
}

// MarkRead moves the caller's read marker in the room forward to eventID;
// it never moves back.
func (c *Client) MarkRead(ctx context.Context, roomID string, eventID int64) error {
	_, err := c.Rooms.MarkRead(ctx, connect.NewRequest(&foxholev1.MarkReadRequest{RoomId: roomID, EventId: eventID}))
	return err
}

// ListRoomOnline lists the members of a room online now, paging
// ListPresence. The caller must be a member.
func (c *Client) ListRoomOnline(ctx context.Context, roomID string) ([]*foxholev1.UserRef, error) {
	return c.listPresence(ctx, roomID)
}
