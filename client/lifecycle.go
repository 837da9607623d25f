package client

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
)

// EditMessage replaces the content of a message the caller sent, under the
// rules of Send, and returns the message's event as it is now: the new
// content, EditedAt set. There is no edit window; a deleted message cannot
// be edited (failed_precondition). Whoever can read the message receives a
// MessageEdited event.
func (c *Client) EditMessage(ctx context.Context, eventID int64, content string) (*foxholev1.Event, error) {
	res, err := c.Realtime.EditMessage(ctx, connect.NewRequest(&foxholev1.EditMessageRequest{EventId: eventID, Content: content}))
	if err != nil {
		return nil, err
	}
	return res.Msg.GetEvent(), nil
}

// DeleteMessage erases a message's content, leaving a tombstone in history
// (ChatMessage.Deleted). Its sender may delete it, and so may a room's
// owner or admin. Whoever can read the message receives a MessageDeleted
// event; deleting it again answers not_found.
func (c *Client) DeleteMessage(ctx context.Context, eventID int64) error {
	_, err := c.Realtime.DeleteMessage(ctx, connect.NewRequest(&foxholev1.DeleteMessageRequest{EventId: eventID}))
	return err
}

var errTypingInLobby = errors.New("typing goes to a room or a user, not the lobby")

// SendTyping tells a room's members online, or the peer of a direct
// conversation, that the caller is typing; the lobby has no typing. It is
// live only. Clients show it for 5 seconds, so send it at most every 3
// seconds while the user types; the server limits its rate per user.
func (c *Client) SendTyping(ctx context.Context, in Conversation) error {
	if err := in.check(); err != nil {
		return err
	}
	if in == Lobby {
		return errTypingInLobby
	}
	_, err := c.Realtime.SendTyping(ctx, connect.NewRequest(&foxholev1.SendTypingRequest{RoomId: in.RoomID, RecipientId: in.PeerID}))
	return err
}

// BlockUser blocks a user: its direct messages and typing to the caller
// are refused (permission_denied), and none of its messages, edits,
// deletions or typing reach the caller's streams or history. Blocking a
// user again changes nothing.
func (c *Client) BlockUser(ctx context.Context, userID string) error {
	_, err := c.Realtime.BlockUser(ctx, connect.NewRequest(&foxholev1.BlockUserRequest{UserId: userID}))
	return err
}

// UnblockUser lifts a block: the user's messages reach the caller again
// from then on.
func (c *Client) UnblockUser(ctx context.Context, userID string) error {
	_, err := c.Realtime.UnblockUser(ctx, connect.NewRequest(&foxholev1.UnblockUserRequest{UserId: userID}))
	return err
}

// ListBlockedUsers lists the users the caller blocks, in order of id.
func (c *Client) ListBlockedUsers(ctx context.Context) ([]*foxholev1.UserRef, error) {
	res, err := c.Realtime.ListBlockedUsers(ctx, connect.NewRequest(&foxholev1.ListBlockedUsersRequest{}))
	if err != nil {
		return nil, err
	}
	return res.Msg.GetUsers(), nil
}
