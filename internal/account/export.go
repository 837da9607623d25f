package account

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	foxholev1 "foxhole.dev/foxhole/gen/foxhole/v1"
	"foxhole.dev/foxhole/internal/auth"
	"foxhole.dev/foxhole/internal/call"
	"foxhole.dev/foxhole/internal/errs"
	"foxhole.dev/foxhole/internal/profile"
	"foxhole.dev/foxhole/internal/store"
)

// exportWriteTimeout bounds each write of an export: a client that stops
// reading is cut off.
const exportWriteTimeout = 30 * time.Second

// ExportRoute serves `GET /account/export`: a zip of everything held on
// the caller, streamed as it is read (never held whole in memory).
func ExportRoute(svc *Service, fail func(http.ResponseWriter, *http.Request, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, err := auth.Caller(r.Context())
		if err != nil {
			fail(w, r, err)
			return
		}
		release, err := svc.takeExport(user)
		if err != nil {
			fail(w, r, err)
			return
		}
		defer release()
		setWrite := call.From(r.Context()).Deadlines().Write
		defer func() { _ = setWrite(time.Time{}) }()
		h := w.Header()
		h.Set("Content-Type", "application/zip")
		h.Set("Content-Disposition", `attachment; filename="foxhole-export-`+user+`.zip"`)
		h.Set("Cache-Control", "no-store")
		out := &deadlineWriter{w: w, set: setWrite}
		if err := svc.Export(r.Context(), user, out); err != nil {
			if !out.wrote {
				h.Del("Content-Disposition")
				fail(w, r, err)
				return
			}
			// The status is sent: all that is left is to cut the zip
			// short, which the client sees as a broken download.
			panic(http.ErrAbortHandler)
		}
	})
}

type deadlineWriter struct {
	w     io.Writer
	set   func(time.Time) error
	wrote bool
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	d.wrote = true
	_ = d.set(time.Now().Add(exportWriteTimeout))
	return d.w.Write(p)
}

// takeExport counts an export of user, or refuses one past the limit.
func (s *Service) takeExport(user string) (func(), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.exports[user] >= s.opt.MaxExportsPerUser {
		return nil, &errs.Limited{Msg: "an export of this account is already running", RetryAfter: 10 * time.Second}
	}
	s.exports[user]++
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.exports[user]--; s.exports[user] == 0 {
			delete(s.exports, user)
		}
	}, nil
}

// exportedMessage is a line of messages.jsonl.
type exportedMessage struct {
	ID          int64  `json:"id"`
	CreatedAt   string `json:"createdAt"`
	SenderID    string `json:"senderId"`
	SenderName  string `json:"senderName,omitempty"`
	RecipientID string `json:"recipientId,omitempty"`
	RoomID      string `json:"roomId,omitempty"`
	Content     string `json:"content"`
}

// exportedRoom is an entry of rooms.json.
type exportedRoom struct {
	RoomID string `json:"roomId"`
	Name   string `json:"name"`
	Role   string `json:"role"`
}

// Export writes the zip of everything held on user to w: profile.json,
// files/<id>-<name> with their content, messages.jsonl, rooms.json. Each
// file's content is copied from the store as it is read; memory stays flat
// whatever the size of the files.
func (s *Service) Export(ctx context.Context, user string, w io.Writer) error {
	u, err := s.db.UserByID(ctx, user)
	if err != nil {
		return err
	}
	z := zip.NewWriter(w)
	now := time.Now()
	create := func(name string, method uint16) (io.Writer, error) {
		return z.CreateHeader(&zip.FileHeader{Name: name, Method: method, Modified: now})
	}

	pw, err := create("profile.json", zip.Deflate)
	if err != nil {
		return err
	}
	b, err := protojson.MarshalOptions{Multiline: true}.Marshal(profile.UserProto(ctx, u))
	if err != nil {
		return err
	}
	if _, err := pw.Write(b); err != nil {
		return err
	}

	var after *store.FileCursor
	for {
		fs, err := s.db.ListFiles(ctx, user, after, 100)
		if err != nil {
			return err
		}
		for _, f := range fs {
			// Stored, not deflated: files are mostly compressed already.
			fw, err := create("files/"+f.ID+"-"+safeName(f.Name), zip.Store)
			if err != nil {
				return err
			}
			rc, err := s.files.Content(ctx, &f, 0)
			if err != nil {
				return fmt.Errorf("content of file %s: %w", f.ID, err)
			}
			_, err = io.Copy(fw, rc)
			rc.Close()
			if err != nil {
				return err
			}
		}
		if len(fs) < 100 {
			break
		}
		last := fs[len(fs)-1]
		after = &store.FileCursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}

	mw, err := create("messages.jsonl", zip.Deflate)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(mw)
	err = s.db.MessagesOf(ctx, user, func(e *store.Event) error {
		ev := new(foxholev1.Event)
		if err := proto.Unmarshal(e.Body, ev); err != nil {
			return err
		}
		m := ev.GetChatMessage()
		if m == nil {
			return nil
		}
		return enc.Encode(exportedMessage{
			ID: e.ID, CreatedAt: time.UnixMicro(e.CreatedAt).UTC().Format(time.RFC3339Nano),
			SenderID: e.SenderID, SenderName: m.GetSender().GetScreenName(),
			RecipientID: m.GetRecipientId(), RoomID: m.GetRoomId(), Content: m.GetContent(),
		})
	})
	if err != nil {
		return err
	}

	rooms := []exportedRoom{}
	var cur *store.RoomCursor
	for {
		vs, err := s.db.JoinedRooms(ctx, user, cur, 100)
		if err != nil {
			return err
		}
		for _, v := range vs {
			rooms = append(rooms, exportedRoom{RoomID: v.ID, Name: v.Name, Role: foxholev1.RoomRole(v.Role).String()})
		}
		if len(vs) < 100 {
			break
		}
		cur = &store.RoomCursor{LastEventID: vs[len(vs)-1].LastEventID, ID: vs[len(vs)-1].ID}
	}
	rw, err := create("rooms.json", zip.Deflate)
	if err != nil {
		return err
	}
	re := json.NewEncoder(rw)
	re.SetIndent("", "  ")
	if err := re.Encode(rooms); err != nil {
		return err
	}
	return z.Close()
}

// safeName makes a file name safe as the last part of a path in a zip:
// no separators, no parent references.
func safeName(name string) string {
	name = strings.NewReplacer("/", "_", "\\", "_", "\x00", "_").Replace(name)
	if name == "." || name == ".." {
		name = "_"
	}
	return name
}
