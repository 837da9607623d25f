package avatar

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"

	"google.golang.org/protobuf/encoding/protojson"

	"foxhole.dev/foxhole/internal/auth"
	"foxhole.dev/foxhole/internal/errs"
	"foxhole.dev/foxhole/internal/profile"
)

// Fail writes an error response.
type Fail func(http.ResponseWriter, *http.Request, error)

// PutRoute serves `PUT /avatar`: the raw body is the caller's new
// avatar. It answers the caller's profile, with its new avatar URL.
func PutRoute(svc *Service, fail Fail) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, err := auth.Caller(r.Context())
		if err != nil {
			fail(w, r, err)
			return
		}
		if r.ContentLength > svc.MaxBytes() {
			fail(w, r, errs.New(errs.ErrResourceExhausted, "avatar is larger than the limit of %d bytes", svc.MaxBytes()))
			return
		}
		err = svc.Set(r.Context(), user, http.MaxBytesReader(w, r.Body, svc.MaxBytes()))
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			err = errs.New(errs.ErrResourceExhausted, "avatar is larger than the limit of %d bytes", svc.MaxBytes())
		}
		if err != nil {
			fail(w, r, err)
			return
		}
		u, err := svc.users.UserByID(r.Context(), user)
		if err != nil {
			fail(w, r, err)
			return
		}
		b, err := protojson.Marshal(profile.UserProto(r.Context(), u))
		if err != nil {
			fail(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	})
}

// DeleteRoute serves `DELETE /avatar`: the caller's avatar goes.
func DeleteRoute(svc *Service, fail Fail) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, err := auth.Caller(r.Context())
		if err == nil {
			err = svc.Remove(r.Context(), user)
		}
		if err != nil {
			fail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// GetRoute serves `GET /avatars/{userId}?size=N`, public: a square
// thumbnail with an ETag. A URL naming the current avatar (`v`, as
// avatarUrl does) may be cached for good; any other for a minute.
func GetRoute(svc *Service, fail Fail) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		n := 0
		if s := q.Get("size"); s != "" {
			var err error
			if n, err = strconv.Atoi(s); err != nil {
				fail(w, r, errs.Invalidf("size", "must be a number of pixels"))
				return
			}
		}
		size, err := SnapSize(n)
		if err != nil {
			fail(w, r, err)
			return
		}
		t, err := svc.Thumb(r.Context(), r.PathValue("userId"), size)
		if err != nil {
			fail(w, r, err)
			return
		}
		h := w.Header()
		h.Set("Content-Type", http.DetectContentType(t.Data))
		h.Set("ETag", `"`+t.ETag+`"`)
		h.Set("X-Content-Type-Options", "nosniff")
		if q.Get("v") == t.Current {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "public, max-age=60")
		}
		http.ServeContent(w, r, "", t.ModTime, bytes.NewReader(t.Data))
	})
}
