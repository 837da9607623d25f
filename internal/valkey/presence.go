package valkey

import (
	"context"
	"strconv"
	"sync"
	"time"

	valkeygo "github.com/valkey-io/valkey-go"
)

// Presence across processes.
//
// Each process names itself with a random id and keeps, in Valkey:
//   - its entry in one sorted set of live processes, scored with the time
//     (server clock, ms) at which it counts as dead unless it beats again;
//   - one hash of its own users, user → open sessions in this process.
//
// A heartbeat every presenceHeartbeat pushes the process's expiry
// presenceExpiry ahead, and the hash's key expiry with it. A process that
// dies without Close therefore leaves presence at most presenceExpiry after
// its last beat: every reader ignores processes whose score has passed, and
// the hash then expires by itself.
//
// Join and Leave each run one script, so that "first" and "last" are decided
// atomically against every live process: a user is new when this process
// had no session of it and no other live process has the user; gone when
// this process has none left and no other live process has it. They cost a
// look-up per live process (few, by design), and the heartbeat costs O(1)
// however many users a process has.
const (
	presenceHeartbeat = 5 * time.Second
	presenceFactor    = 3 // expiry = presenceFactor heartbeats: one late beat is no death
	// maxOnline bounds the users Online returns. Online reads every live
	// process's user hash, onlineScan users per command, so that Valkey
	// serves other clients between them; it is a reconciliation, run by
	// each process every 30 seconds, not a hot path.
	maxOnline  = 100_000
	onlineScan = 1000
	// restoreBatch bounds the users sent in one restoring script call, and
	// amongBatch in one OnlineAmong call.
	restoreBatch = 1000
	amongBatch   = 1000
)

// presenceLib is shared by the presence scripts: the server's clock in ms,
// and whether a live process other than this one has the user.
const presenceLib = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function elsewhere(procs, self, hashprefix, user, now)
  for _, p in ipairs(redis.call('ZRANGE', procs, '(' .. now, '+inf', 'BYSCORE')) do
    if p ~= self and redis.call('HEXISTS', hashprefix .. p, user) == 1 then
      return true
    end
  end
  return false
end
`

// KEYS: procs, own hash. ARGV: own id, user, expiry ms, hash prefix.
// Returns 1 when the user is new to presence.
var joinScript = valkeygo.NewLuaScript(presenceLib + `
local now = now_ms()
local n = redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
local window = tonumber(ARGV[3])
-- Join also registers the process, which may have no beat yet, or have
-- been forgotten while the server was out of reach.
redis.call('ZADD', KEYS[1], now + window, ARGV[1])
redis.call('PEXPIRE', KEYS[1], window)
redis.call('PEXPIRE', KEYS[2], window)
if n > 1 or elsewhere(KEYS[1], ARGV[1], ARGV[4], ARGV[2], now) then
  return 0
end
return 1
`)

// KEYS: procs, own hash. ARGV: own id, user, hash prefix.
// Returns 1 when the user has left presence.
var leaveScript = valkeygo.NewLuaScript(presenceLib + `
local n = redis.call('HINCRBY', KEYS[2], ARGV[2], -1)
if n > 0 then
  return 0
end
-- Below zero, the session was counted before the server lost its data;
-- either way no session of the user is left here.
redis.call('HDEL', KEYS[2], ARGV[2])
if elsewhere(KEYS[1], ARGV[1], ARGV[3], ARGV[2], now_ms()) then
  return 0
end
return 1
`)

// KEYS: procs, own hash. ARGV: own id, expiry ms.
// Returns whether the own hash exists (it may have been lost).
var beatScript = valkeygo.NewLuaScript(presenceLib + `
local now = now_ms()
local window = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + window, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('PEXPIRE', KEYS[1], window)
return redis.call('PEXPIRE', KEYS[2], window)
`)

// KEYS: own hash. ARGV: expiry ms, then user, count pairs. Restores the
// counts of users the hash lacks, after the server lost it.
var restoreScript = valkeygo.NewLuaScript(`
for i = 2, #ARGV, 2 do
  redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
`)

// KEYS: procs. Returns the live processes.
var liveScript = valkeygo.NewLuaScript(presenceLib + `
return redis.call('ZRANGE', KEYS[1], '(' .. now_ms(), '+inf', 'BYSCORE')
`)

// KEYS: procs. ARGV: hash prefix, then user ids. Returns those of the
// users whom a live process has.
var amongScript = valkeygo.NewLuaScript(presenceLib + `
local procs = redis.call('ZRANGE', KEYS[1], '(' .. now_ms(), '+inf', 'BYSCORE')
local out = {}
for i = 2, #ARGV do
  for _, p in ipairs(procs) do
    if redis.call('HEXISTS', ARGV[1] .. p, ARGV[i]) == 1 then
      out[#out + 1] = ARGV[i]
      break
    end
  end
end
return out
`)

// KEYS: procs, own hash. ARGV: own id.
var removeScript = valkeygo.NewLuaScript(`
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
`)

type presence struct {
	c          *Client
	id         string
	every      time.Duration
	window     string // expiry in ms
	procs      string // key of the live processes
	hashPrefix string // + a process id: key of its users
	own        string // this process's users

	// local mirrors this process's counts, to restore them after the server
	// loses them; it is updated only after the server applied a change.
	mu    sync.Mutex
	local map[string]int

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

func newPresence(c *Client, id string, every time.Duration) *presence {
	if every <= 0 {
		every = presenceHeartbeat
	}
	// One hash tag for every presence key keeps them in one slot.
	tag := "{" + c.prefix + "presence}:"
	p := &presence{
		c:          c,
		id:         id,
		every:      every,
		window:     strconv.FormatInt((presenceFactor * every).Milliseconds(), 10),
		procs:      tag + "procs",
		hashPrefix: tag + "proc:",
		own:        tag + "proc:" + id,
		local:      map[string]int{},
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	go p.heartbeat()
	return p
}

// Join implements pubsub.Hub.
func (c *Client) Join(ctx context.Context, userID string) (bool, error) {
	p := c.presence
	var first bool
	err := c.call(ctx, func(ctx context.Context) error {
		var err error
		first, err = joinScript.Exec(ctx, c.c, []string{p.procs, p.own}, []string{p.id, userID, p.window, p.hashPrefix}).AsBool()
		return err
	})
	if err != nil {
		return false, err
	}
	p.mu.Lock()
	p.local[userID]++
	p.mu.Unlock()
	return first, nil
}

// Leave implements pubsub.Hub.
func (c *Client) Leave(ctx context.Context, userID string) (bool, error) {
	p := c.presence
	var last bool
	err := c.call(ctx, func(ctx context.Context) error {
		var err error
		last, err = leaveScript.Exec(ctx, c.c, []string{p.procs, p.own}, []string{p.id, userID, p.hashPrefix}).AsBool()
		return err
	})
	if err != nil {
		return false, err
	}
	p.mu.Lock()
	if p.local[userID]--; p.local[userID] <= 0 {
		delete(p.local, userID)
	}
	p.mu.Unlock()
	return last, nil
}

// Online implements pubsub.Hub. It lists at most maxOnline users: it reads
// which processes are live, then each one's users with HSCAN, onlineScan at
// a time. A user present throughout is listed; one that comes or goes
// meanwhile may or may not be, as with any look that is not atomic.
func (c *Client) Online(ctx context.Context) ([]string, error) {
	p := c.presence
	var procs []string
	err := c.call(ctx, func(ctx context.Context) error {
		var err error
		procs, err = liveScript.Exec(ctx, c.c, []string{p.procs}, nil).AsStrSlice()
		return err
	})
	if valkeygo.IsValkeyNil(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	seen := map[string]struct{}{}
	var users []string
	for _, proc := range procs {
		for cursor := uint64(0); ; {
			var e valkeygo.ScanEntry
			err := c.call(ctx, func(ctx context.Context) error {
				var err error
				e, err = c.c.Do(ctx, c.c.B().Hscan().Key(p.hashPrefix+proc).Cursor(cursor).Count(onlineScan).Build()).AsScanEntry()
				return err
			})
			if err != nil && !valkeygo.IsValkeyNil(err) {
				return nil, err
			}
			// Field, value pairs: the user, its session count.
			for i := 0; i+1 < len(e.Elements); i += 2 {
				if _, dup := seen[e.Elements[i]]; !dup {
					seen[e.Elements[i]] = struct{}{}
					users = append(users, e.Elements[i])
					if len(users) >= maxOnline {
						return users, nil
					}
				}
			}
			if cursor = e.Cursor; cursor == 0 {
				break
			}
		}
	}
	return users, nil
}

// OnlineAmong implements pubsub.Hub, with one script call per amongBatch
// users, each costing a look-up per live process.
func (c *Client) OnlineAmong(ctx context.Context, userIDs []string) ([]string, error) {
	p := c.presence
	var online []string
	for len(userIDs) > 0 {
		batch := userIDs[:min(len(userIDs), amongBatch)]
		userIDs = userIDs[len(batch):]
		var found []string
		err := c.call(ctx, func(ctx context.Context) error {
			var err error
			found, err = amongScript.Exec(ctx, c.c, []string{p.procs}, append([]string{p.hashPrefix}, batch...)).AsStrSlice()
			return err
		})
		if err != nil && !valkeygo.IsValkeyNil(err) {
			return nil, err
		}
		online = append(online, found...)
	}
	return online, nil
}

func (p *presence) heartbeat() {
	defer close(p.done)
	t := time.NewTicker(p.every)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		// A beat that fails is retried at the next tick; the expiry
		// leaves room for presenceFactor-1 of them.
		ctx, cancel := context.WithTimeout(context.Background(), p.every)
		p.beat(ctx)
		cancel()
	}
}

func (p *presence) beat(ctx context.Context) error {
	exists, err := beatScript.Exec(ctx, p.c.c, []string{p.procs, p.own}, []string{p.id, p.window}).AsBool()
	if err != nil || exists {
		return err
	}
	// The server lost this process's users (restarted, or unreachable for
	// longer than the expiry): put back what this process knows. A Join or
	// Leave racing with the restore may leave a count off by its change.
	p.mu.Lock()
	args := make([]string, 0, 1+2*len(p.local))
	args = append(args, p.window)
	for u, n := range p.local {
		args = append(args, u, strconv.Itoa(n))
	}
	p.mu.Unlock()
	for len(args) > 1 {
		n := min(len(args)-1, 2*restoreBatch)
		batch := append([]string{p.window}, args[1:1+n]...)
		args = append(args[:1], args[1+n:]...)
		if err := restoreScript.Exec(ctx, p.c.c, []string{p.own}, batch).Error(); err != nil && !valkeygo.IsValkeyNil(err) {
			return err
		}
	}
	return nil
}

// stopHeartbeat stops the beats, as a process's death would.
func (p *presence) stopHeartbeat() {
	p.stopOnce.Do(func() { close(p.stop) })
	<-p.done
}

// close stops the heartbeat and removes this process from presence at once,
// so that its users leave without waiting for the expiry.
func (p *presence) close() error {
	p.stopHeartbeat()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := removeScript.Exec(ctx, p.c.c, []string{p.procs, p.own}, []string{p.id}).Error()
	if valkeygo.IsValkeyNil(err) {
		return nil
	}
	return err
}
