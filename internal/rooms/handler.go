package rooms

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/gen/foxhole/v1/foxholev1connect"
	"foxhole.dev/foxhole/internal/auth"
	"foxhole.dev/foxhole/internal/errs"
	"foxhole.dev/foxhole/internal/store"
)

var _ foxholev1connect.RoomServiceHandler = (*Handler)(nil)

// Handler serves foxhole.v1.RoomService from a Service.
type Handler struct{ svc *Service }

// NewHandler returns the RoomService handler for svc.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// Page sizes of ListRooms and ListMembers.
const (
	defaultRoomPage   = 50
	defaultMemberPage = 100
)

// CreateRoom implements foxholev1connect.RoomServiceHandler.
func (h *Handler) CreateRoom(ctx context.Context, req *connect.Request[foxholev1.CreateRoomRequest]) (*connect.Response[foxholev1.CreateRoomResponse], error) {
	user, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	r, err := h.svc.Create(ctx, user, req.Msg.GetName(), req.Msg.GetTopic(), req.Msg.GetVisibility())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&foxholev1.CreateRoomResponse{Room: r}), nil
}

// GetRoom implements foxholev1connect.RoomServiceHandler.
func (h *Handler) GetRoom(ctx context.Context, req *connect.Request[foxholev1.GetRoomRequest]) (*connect.Response[foxholev1.GetRoomResponse], error) {
	user, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	r, err := h.svc.Get(ctx, user, req.Msg.GetRoomId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&foxholev1.GetRoomResponse{Room: r}), nil
}

// ListRooms implements foxholev1connect.RoomServiceHandler.
func (h *Handler) ListRooms(ctx context.Context, req *connect.Request[foxholev1.ListRoomsRequest]) (*connect.Response[foxholev1.ListRoomsResponse], error) {
	user, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	var after *store.RoomCursor
	if err := decodeToken(req.Msg.GetPageToken(), &after); err != nil {
		return nil, err
	}
	n := int(req.Msg.GetPageSize())
	if n == 0 {
		n = defaultRoomPage
	}
	var vs []store.RoomView
	if req.Msg.GetJoined() {
		vs, err = h.svc.db.JoinedRooms(ctx, user, after, n+1)
	} else {
		vs, err = h.svc.db.DirectoryRooms(ctx, user, req.Msg.GetQuery(), after, n+1)
	}
	if err != nil {
		return nil, err
	}
	res := &foxholev1.ListRoomsResponse{}
	if len(vs) > n {
		vs = vs[:n]
		last := vs[n-1]
		res.NextPageToken = encodeToken(&store.RoomCursor{LastEventID: last.LastEventID, Name: last.NameFolded, ID: last.ID})
	}
	for i := range vs {
		res.Rooms = append(res.Rooms, roomProto(&vs[i]))
	}
	return connect.NewResponse(res), nil
}

// JoinRoom implements foxholev1connect.RoomServiceHandler.
func (h *Handler) JoinRoom(ctx context.Context, req *connect.Request[foxholev1.JoinRoomRequest]) (*connect.Response[foxholev1.JoinRoomResponse], error) {
	user, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	r, err := h.svc.Join(ctx, user, req.Msg.GetRoomId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&foxholev1.JoinRoomResponse{Room: r}), nil
}

// LeaveRoom implements foxholev1connect.RoomServiceHandler.
func (h *Handler) LeaveRoom(ctx context.Context, req *connect.Request[foxholev1.LeaveRoomRequest]) (*connect.Response[foxholev1.LeaveRoomResponse], error) {
	user, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := h.svc.Leave(ctx, user, req.Msg.GetRoomId()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&foxholev1.LeaveRoomResponse{}), nil
}

// InviteMember implements foxholev1connect.RoomServiceHandler.
func (h *Handler) InviteMember(ctx context.Context, req *connect.Request[foxholev1.InviteMemberRequest]) (*connect.Response[foxholev1.InviteMemberResponse], error) {
	user, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := h.svc.Invite(ctx, user, req.Msg.GetRoomId(), req.Msg.GetUserId()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&foxholev1.InviteMemberResponse{}), nil
}

// RemoveMember implements foxholev1connect.RoomServiceHandler.
func (h *Handler) RemoveMember(ctx context.Context, req *connect.Request[foxholev1.RemoveMemberRequest]) (*connect.Response[foxholev1.RemoveMemberResponse], error) {
	user, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := h.svc.Remove(ctx, user, req.Msg.GetRoomId(), req.Msg.GetUserId(), req.Msg.GetBan()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&foxholev1.RemoveMemberResponse{}), nil
}

// UnbanMember implements foxholev1connect.RoomServiceHandler.
func (h *Handler) UnbanMember(ctx context.Context, req *connect.Request[foxholev1.UnbanMemberRequest]) (*connect.Response[foxholev1.UnbanMemberResponse], error) {
	user, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := h.svc.Unban(ctx, user, req.Msg.GetRoomId(), req.Msg.GetUserId()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&foxholev1.UnbanMemberResponse{}), nil
}

// UpdateMember implements foxholev1connect.RoomServiceHandler.
func (h *Handler) UpdateMember(ctx context.Context, req *connect.Request[foxholev1.UpdateMemberRequest]) (*connect.Response[foxholev1.UpdateMemberResponse], error) {
	user, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	m, err := h.svc.UpdateMember(ctx, user, req.Msg.GetRoomId(), req.Msg.GetUserId(), req.Msg.GetRole())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&foxholev1.UpdateMemberResponse{Member: m}), nil
}

// UpdateRoom implements foxholev1connect.RoomServiceHandler.
func (h *Handler) UpdateRoom(ctx context.Context, req *connect.Request[foxholev1.UpdateRoomRequest]) (*connect.Response[foxholev1.UpdateRoomResponse], error) {
	user, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	r, err := h.svc.Update(ctx, user, req.Msg.GetRoomId(), req.Msg.Name, req.Msg.Topic, req.Msg.GetVisibility())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&foxholev1.UpdateRoomResponse{Room: r}), nil
}

// ListMembers implements foxholev1connect.RoomServiceHandler.
func (h *Handler) ListMembers(ctx context.Context, req *connect.Request[foxholev1.ListMembersRequest]) (*connect.Response[foxholev1.ListMembersResponse], error) {
	user, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := h.svc.db.RoomFor(ctx, req.Msg.GetRoomId(), user); err != nil {
		return nil, err
	}
	var after *store.MemberCursor
	if err := decodeToken(req.Msg.GetPageToken(), &after); err != nil {
		return nil, err
	}
	n := int(req.Msg.GetPageSize())
	if n == 0 {
		n = defaultMemberPage
	}
	ms, err := h.svc.db.Members(ctx, req.Msg.GetRoomId(), after, n+1)
	if err != nil {
		return nil, err
	}
	res := &foxholev1.ListMembersResponse{}
	if len(ms) > n {
		ms = ms[:n]
		res.NextPageToken = encodeToken(&store.MemberCursor{JoinedAt: ms[n-1].JoinedAt, UserID: ms[n-1].UserID})
	}
	for _, m := range ms {
		res.Members = append(res.Members, &foxholev1.RoomMember{
			User:     &foxholev1.UserRef{Id: m.UserID, ScreenName: m.ScreenName},
			Role:     foxholev1.RoomRole(m.Role),
			JoinedAt: timestamppb.New(time.UnixMicro(m.JoinedAt)),
		})
	}
	return connect.NewResponse(res), nil
}

// DeleteRoom implements foxholev1connect.RoomServiceHandler.
func (h *Handler) DeleteRoom(ctx context.Context, req *connect.Request[foxholev1.DeleteRoomRequest]) (*connect.Response[foxholev1.DeleteRoomResponse], error) {
	user, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := h.svc.Delete(ctx, user, req.Msg.GetRoomId()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&foxholev1.DeleteRoomResponse{}), nil
}

// MarkRead implements foxholev1connect.RoomServiceHandler.
func (h *Handler) MarkRead(ctx context.Context, req *connect.Request[foxholev1.MarkReadRequest]) (*connect.Response[foxholev1.MarkReadResponse], error) {
	user, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := h.svc.MarkRead(ctx, user, req.Msg.GetRoomId(), req.Msg.GetEventId()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&foxholev1.MarkReadResponse{}), nil
}

// encodeToken is a page token: the cursor as JSON, in base64. Tokens are
// opaque to clients.
func encodeToken(cursor any) string {
	b, _ := json.Marshal(cursor)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeToken reads a page token into *into; an empty token leaves it nil.
func decodeToken[T any](token string, into **T) error {
	if token == "" {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	c := new(T)
	if err != nil || json.Unmarshal(b, c) != nil {
		return errs.Invalidf("page_token", "is not a token this call returned")
	}
	*into = c
	return nil
}
