package auth

import (
	"context"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/gen/foxhole/v1/foxholev1connect"
	"foxhole.dev/foxhole/internal/store"
)

var _ foxholev1connect.AuthServiceHandler = (*Handler)(nil)

// Handler serves foxhole.v1.AuthService.
type Handler struct{ svc *Service }

// NewHandler returns the AuthService handler for svc.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// Register implements foxholev1connect.AuthServiceHandler.
func (h *Handler) Register(ctx context.Context, req *connect.Request[foxholev1.RegisterRequest]) (*connect.Response[foxholev1.RegisterResponse], error) {
	u, secret, err := h.svc.Register(ctx, req.Msg.GetScreenName())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&foxholev1.RegisterResponse{User: UserProto(u), UserSecret: secret}), nil
}

// CreateToken implements foxholev1connect.AuthServiceHandler.
func (h *Handler) CreateToken(ctx context.Context, req *connect.Request[foxholev1.CreateTokenRequest]) (*connect.Response[foxholev1.CreateTokenResponse], error) {
	token, exp, err := h.svc.CreateToken(ctx, req.Msg.GetUserSecret())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&foxholev1.CreateTokenResponse{
		AccessToken: token,
		TokenType:   "Bearer",
		ExpiresAt:   timestamppb.New(exp),
	}), nil
}

// RotateSecret implements foxholev1connect.AuthServiceHandler.
func (h *Handler) RotateSecret(ctx context.Context, req *connect.Request[foxholev1.RotateSecretRequest]) (*connect.Response[foxholev1.RotateSecretResponse], error) {
	userID, err := Caller(ctx)
	if err != nil {
		return nil, err
	}
	secret, err := h.svc.RotateSecret(ctx, userID, req.Msg.GetUserSecret())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&foxholev1.RotateSecretResponse{UserSecret: secret}), nil
}

// DeleteAccount implements foxholev1connect.AuthServiceHandler.
func (h *Handler) DeleteAccount(ctx context.Context, req *connect.Request[foxholev1.DeleteAccountRequest]) (*connect.Response[foxholev1.DeleteAccountResponse], error) {
	userID, err := Caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := h.svc.DeleteAccount(ctx, userID, req.Msg.GetUserSecret()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&foxholev1.DeleteAccountResponse{}), nil
}

// UserProto returns the public view of u.
func UserProto(u *store.User) *foxholev1.User {
	return &foxholev1.User{
		Id:         u.ID,
		ScreenName: u.ScreenName,
		CreatedAt:  timestamppb.New(time.UnixMicro(u.CreatedAt)),
		UpdatedAt:  timestamppb.New(time.UnixMicro(u.UpdatedAt)),
		Bio:        u.Bio,
	}
}
