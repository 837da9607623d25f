package auth_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect"
	_ "modernc.org/sqlite"

	"foxhole.dev/foxhole/client"
	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/testutil"
)

func TestRegisterTokenRotate(t *testing.T) {
	t.Parallel()
	srv := testutil.Start(t)
	for _, p := range testutil.Protocols {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			anon := srv.Clients(p, "")

			reg, err := anon.Auth.Register(ctx, connect.NewRequest(&foxholev1.RegisterRequest{ScreenName: "  Ada Lovelace "}))
			if err != nil {
				t.Fatalf("Register: %v", err)
			}
			if got := reg.Msg.GetUser().GetScreenName(); got != "Ada Lovelace" {
				t.Errorf("screen name = %q, want it trimmed to %q", got, "Ada Lovelace")
			}
			secret := reg.Msg.GetUserSecret()
			raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(secret, "fxs_"))
			if err != nil || len(raw) < 32 {
				t.Errorf("secret %q is not at least 256 URL-safe random bits", secret)
			}

			tok, err := anon.Auth.CreateToken(ctx, connect.NewRequest(&foxholev1.CreateTokenRequest{UserSecret: secret}))
			if err != nil {
				t.Fatalf("CreateToken: %v", err)
			}
			if tok.Msg.GetTokenType() != "Bearer" || tok.Msg.GetExpiresAt() == nil {
				t.Errorf("token response = %v, want Bearer with an expiry", tok.Msg)
			}
			oldToken := tok.Msg.GetAccessToken()
			user := srv.Clients(p, oldToken)
			prof, err := user.Profile.GetProfile(ctx, connect.NewRequest(&foxholev1.GetProfileRequest{}))
			if err != nil {
				t.Fatalf("GetProfile: %v", err)
			}
			if prof.Msg.GetUser().GetId() != reg.Msg.GetUser().GetId() {
				t.Errorf("GetProfile id = %q, want %q", prof.Msg.GetUser().GetId(), reg.Msg.GetUser().GetId())
			}

			rot, err := user.Auth.RotateSecret(ctx, connect.NewRequest(&foxholev1.RotateSecretRequest{UserSecret: secret}))
			if err != nil {
				t.Fatalf("RotateSecret: %v", err)
			}
			newSecret := rot.Msg.GetUserSecret()
			if newSecret == "" || newSecret == secret {
				t.Fatalf("RotateSecret gave %q, want a new secret", newSecret)
			}
			if _, err := user.Profile.GetProfile(ctx, connect.NewRequest(&foxholev1.GetProfileRequest{})); connect.CodeOf(err) != connect.CodeUnauthenticated {
				t.Errorf("GetProfile with a token issued before rotation: %v, want unauthenticated", err)
			}
			if _, err := anon.Auth.CreateToken(ctx, connect.NewRequest(&foxholev1.CreateTokenRequest{UserSecret: secret})); connect.CodeOf(err) != connect.CodeUnauthenticated {
				t.Errorf("CreateToken with the old secret: %v, want unauthenticated", err)
			}
			tok, err = anon.Auth.CreateToken(ctx, connect.NewRequest(&foxholev1.CreateTokenRequest{UserSecret: newSecret}))
			if err != nil {
				t.Fatalf("CreateToken with the new secret: %v", err)
			}
			if _, err := srv.Clients(p, tok.Msg.GetAccessToken()).Profile.GetProfile(ctx, connect.NewRequest(&foxholev1.GetProfileRequest{})); err != nil {
				t.Errorf("GetProfile with a token issued after rotation: %v", err)
			}
		})
	}
}

func TestRegisterWithoutNameGeneratesOne(t *testing.T) {
	t.Parallel()
	srv := testutil.Start(t)
	for _, p := range testutil.Protocols {
		reg, err := srv.Clients(p, "").Auth.Register(context.Background(), connect.NewRequest(&foxholev1.RegisterRequest{}))
		if err != nil {
			t.Fatalf("%s: Register: %v", string(p), err)
		}
		if name := reg.Msg.GetUser().GetScreenName(); !strings.HasPrefix(name, "anon-") {
			t.Errorf("%s: generated screen name = %q, want anon-…", string(p), name)
		}
	}
}

func TestCreateTokenRejectsBadSecrets(t *testing.T) {
	t.Parallel()
	srv := testutil.Start(t)
	p := client.ConnectJSON
	u := srv.Register(t, p, "x")
	cases := []struct {
		name   string
		secret string
		want   connect.Code
	}{
		{"wrong", "fxs_" + strings.Repeat("A", 43), connect.CodeUnauthenticated},
		{"truncated", u.Secret[:len(u.Secret)-1], connect.CodeUnauthenticated},
		{"empty", "", connect.CodeInvalidArgument},
		{"too long", strings.Repeat("a", 257), connect.CodeInvalidArgument},
		{"access token instead", u.Token[:200], connect.CodeUnauthenticated},
	}
	for _, tc := range cases {
		_, err := srv.Clients(p, "").Auth.CreateToken(context.Background(), connect.NewRequest(&foxholev1.CreateTokenRequest{UserSecret: tc.secret}))
		if got := connect.CodeOf(err); got != tc.want {
			t.Errorf("%s: code %v (%v), want %v", tc.name, got, err, tc.want)
		}
	}
}

func TestRejectsBadTokens(t *testing.T) {
	t.Parallel()
	srv := testutil.Start(t)
	other := testutil.Start(t) // a server with another signing key
	p := client.Connect
	u := srv.Register(t, p, "x")
	foreign := other.Register(t, p, "y")
	parts := strings.Split(u.Token, ".")
	cases := map[string]string{
		"garbage":              "not-a-token",
		"other server's token": foreign.Token,
		"alg none":             base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + ".",
		"tampered payload":     parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"someone-else","ver":1,"iss":"foxhole","exp":4102444800,"iat":1}`)) + "." + parts[2],
		"bad signature":        parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2])),
	}
	for name, token := range cases {
		_, err := srv.Clients(p, token).Profile.GetProfile(context.Background(), connect.NewRequest(&foxholev1.GetProfileRequest{}))
		if connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Errorf("%s: %v, want unauthenticated", name, err)
		}
	}
	_, err := srv.Clients(p, "").Profile.GetProfile(context.Background(), connect.NewRequest(&foxholev1.GetProfileRequest{}))
	if connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Errorf("no token: %v, want unauthenticated", err)
	}
}

func TestTokenSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := client.GRPC
	first := testutil.StartIn(t, dir)
	u := first.Register(t, p, "persistent")
	first.Stop()

	info, err := os.Stat(filepath.Join(dir, "jwt.key"))
	if err != nil {
		t.Fatalf("signing key not kept in the data dir: %v", err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("signing key mode = %o, want 600", mode)
	}

	second := testutil.StartIn(t, dir)
	res, err := second.Clients(p, u.Token).Profile.GetProfile(context.Background(), connect.NewRequest(&foxholev1.GetProfileRequest{}))
	if err != nil {
		t.Fatalf("GetProfile after restart: %v", err)
	}
	if res.Msg.GetUser().GetScreenName() != "persistent" {
		t.Errorf("screen name after restart = %q", res.Msg.GetUser().GetScreenName())
	}
}

func TestStoresOnlyTheSecretHash(t *testing.T) {
	t.Parallel()
	// On SQLite whatever the test database: it reads the database file.
	srv := testutil.Start(t, func(c *config.Config) { c.DatabaseURL = "" })
	u := srv.Register(t, client.ConnectJSON, "hashed")
	srv.Stop()

	db, err := sql.Open("sqlite", filepath.Join(srv.DataDir, "foxhole.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	want := sha256.Sum256([]byte(u.Secret))
	var id string
	if err := db.QueryRow("SELECT id FROM users WHERE secret_hash = ?", want[:]).Scan(&id); err != nil || id != u.ID {
		t.Fatalf("user not found by the SHA-256 of its secret: id %q, err %v", id, err)
	}
	files, _ := filepath.Glob(filepath.Join(srv.DataDir, "foxhole.db*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if strings.Contains(string(b), u.Secret) || strings.Contains(string(b), strings.TrimPrefix(u.Secret, "fxs_")) {
			t.Errorf("%s holds the plain secret", filepath.Base(f))
		}
	}
	for _, s := range []string{u.Secret, u.Token} {
		if strings.Contains(srv.Logs.String(), s) {
			t.Errorf("logs hold a secret or token")
		}
	}
}

// TestRotateSecretNeedsTheSecret: a token alone cannot replace the secret.
// A missing secret is invalid_argument, a wrong one (another user's, or one
// rotated out) unauthenticated, and neither changes anything.
func TestRotateSecretNeedsTheSecret(t *testing.T) {
	t.Parallel()
	srv := testutil.Start(t)
	ctx := context.Background()
	for _, p := range testutil.Protocols {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			ada, eve := srv.Register(t, p, "ada"), srv.Register(t, p, "eve")
			withToken := srv.Clients(p, ada.Token)
			for _, c := range []struct {
				secret string
				want   connect.Code
			}{
				{"", connect.CodeInvalidArgument},
				{eve.Secret, connect.CodeUnauthenticated},
				{"fxs_" + strings.Repeat("A", 43), connect.CodeUnauthenticated},
				{strings.Repeat("x", 257), connect.CodeInvalidArgument},
			} {
				_, err := withToken.Auth.RotateSecret(ctx, connect.NewRequest(&foxholev1.RotateSecretRequest{UserSecret: c.secret}))
				if connect.CodeOf(err) != c.want {
					t.Errorf("RotateSecret(%.12q…) = %v, want %v", c.secret, err, c.want)
				}
			}
			// Nothing changed: the token and the secret still work.
			if _, err := withToken.Profile.GetProfile(ctx, connect.NewRequest(&foxholev1.GetProfileRequest{})); err != nil {
				t.Fatalf("the token after refused rotations: %v", err)
			}
			if _, err := srv.Clients(p, "").Auth.CreateToken(ctx, connect.NewRequest(&foxholev1.CreateTokenRequest{UserSecret: ada.Secret})); err != nil {
				t.Fatalf("the secret after refused rotations: %v", err)
			}
			// The Go client made with a token only holds no secret to send.
			if _, err := withToken.RotateSecret(ctx); err == nil || connect.CodeOf(err) != connect.CodeUnknown {
				t.Fatalf("client.RotateSecret without a secret held: %v, want a local error", err)
			}
			rotated, err := withToken.RotateSecretWith(ctx, ada.Secret)
			if err != nil || rotated == "" {
				t.Fatalf("RotateSecretWith(the secret) = %q, %v", rotated, err)
			}
			// The rotated-out secret proves nothing any more.
			fresh, _, err := createToken(ctx, srv, p, rotated)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := srv.Clients(p, fresh).RotateSecretWith(ctx, ada.Secret); connect.CodeOf(err) != connect.CodeUnauthenticated {
				t.Fatalf("RotateSecret with the rotated-out secret: %v, want unauthenticated", err)
			}
		})
	}
}

func createToken(ctx context.Context, srv *testutil.Server, p client.Protocol, secret string) (string, *foxholev1.CreateTokenResponse, error) {
	res, err := srv.Clients(p, "").Auth.CreateToken(ctx, connect.NewRequest(&foxholev1.CreateTokenRequest{UserSecret: secret}))
	if err != nil {
		return "", nil, err
	}
	return res.Msg.GetAccessToken(), res.Msg, nil
}
