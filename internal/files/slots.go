package files

import (
	"fmt"
	"sync"
	"time"

	"foxhole.dev/foxhole/internal/errs"
)

// slots bounds the transfers of one kind (uploads, downloads) in progress
// in this process: in all, and per user. Each transfer holds a connection,
// buffers (an upload to S3 of unknown length a whole part) and a file
// descriptor, so neither one user nor many together may hold them all.
type slots struct {
	what    string // "uploads", "downloads"
	perUser int    // 0: no limit
	total   int    // 0: no limit

	mu     sync.Mutex
	n      int
	byUser map[string]int
}

func newSlots(what string, perUser, total int) *slots {
	return &slots{what: what, perUser: perUser, total: total, byUser: map[string]int{}}
}

// slotRetryAfter is what a client refused a slot is told to wait:
// transfers are long, but one may end any moment.
const slotRetryAfter = time.Second

// take takes one of user's slots and one of the process's, or refuses with
// errs.Limited when either is full. release gives them back (once).
func (s *slots) take(user string) (release func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perUser > 0 && s.byUser[user] >= s.perUser {
		return nil, &errs.Limited{
			Msg:        fmt.Sprintf("too many %s in progress: at most %d at once per user; retry when one has finished", s.what, s.perUser),
			RetryAfter: slotRetryAfter,
		}
	}
	if s.total > 0 && s.n >= s.total {
		return nil, &errs.Limited{
			Msg:        fmt.Sprintf("the server has as many %s in progress as it takes (%d); retry shortly", s.what, s.total),
			RetryAfter: slotRetryAfter,
		}
	}
	s.n++
	s.byUser[user]++
	return sync.OnceFunc(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.n--
		if s.byUser[user]--; s.byUser[user] <= 0 {
			delete(s.byUser, user)
		}
	}), nil
}
