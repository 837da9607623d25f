package backends

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres is a throwaway PostgreSQL cluster started for tests: trust
// authentication for the superuser postgres, on a free loopback port, its
// data in a temporary directory.
type Postgres struct {
	URL  string // postgres://postgres@127.0.0.1:port/postgres?sslmode=disable
	Addr string // 127.0.0.1:port

	stop   func()
	nextDB atomic.Int64
}

// pgSkipHint is the one line a test skipped for want of PostgreSQL prints.
const pgSkipHint = "no PostgreSQL server binaries (initdb, postgres): `apt-get install postgresql`, or set FOXHOLE_TEST_POSTGRES to their bin directory"

// StartPostgres starts a cluster of its own for one test, and stops it and
// removes its files when the test ends. settings (name=value) override the
// test defaults, e.g. "fsync=on" for a benchmark of durable commits.
// Starting a cluster takes a second or two; tests that only need an empty
// database share one cluster through SharedPostgres.
func StartPostgres(t testing.TB, settings ...string) *Postgres {
	t.Helper()
	p, err := startPostgres("", settings...)
	if err == errNoPostgres {
		t.Skip(pgSkipHint)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	return p
}

// Stop kills the cluster now, as a crash would. Later calls do nothing.
func (p *Postgres) Stop() { p.stop() }

var shared struct {
	once sync.Once
	pg   *Postgres
	err  error
}

// SharedPostgres returns a cluster shared by every test of the test
// binary, started by the first caller. It lives as long as the binary: the
// kernel kills it when the binary exits (a parent-death signal), and the
// next run removes the files of clusters whose binary is gone.
func SharedPostgres(t testing.TB) *Postgres {
	t.Helper()
	shared.once.Do(func() {
		removeStaleClusters()
		shared.pg, shared.err = startPostgres(fmt.Sprintf("%s%d-", sharedPrefix, os.Getpid()))
	})
	if shared.err == errNoPostgres {
		t.Skip(pgSkipHint)
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.pg
}

// NewDatabase creates an empty database on the cluster and returns its URL;
// the database is dropped when the test ends.
func (p *Postgres) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("test_%d_%d", os.Getpid(), p.nextDB.Add(1))
	p.exec(t, "CREATE DATABASE "+name)
	t.Cleanup(func() {
		// FORCE: a connection a failed test left open must not keep it.
		p.exec(t, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u, _ := url.Parse(p.URL)
	u.Path = "/" + name
	return u.String()
}

func (p *Postgres) exec(t testing.TB, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := pgx.Connect(ctx, p.URL)
	if err != nil {
		t.Fatalf("connect to the test PostgreSQL: %v", err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

var errNoPostgres = fmt.Errorf("no PostgreSQL binaries")

// sharedPrefix names the directories of shared clusters, followed by the
// pid of the test binary that owns one.
const sharedPrefix = "foxhole-postgres-shared-"

// pgBinDir finds the directory of initdb and postgres: FOXHOLE_TEST_POSTGRES,
// else Debian's /usr/lib/postgresql/<newest>/bin, else PATH.
func pgBinDir() (string, error) {
	if d := os.Getenv("FOXHOLE_TEST_POSTGRES"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return pgMajor(b) - pgMajor(a) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errNoPostgres
}

func pgMajor(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// startPostgres runs initdb and starts the server in a new temporary
// directory whose name starts with prefix (a default when empty).
func startPostgres(prefix string, settings ...string) (*Postgres, error) {
	bin, err := pgBinDir()
	if err != nil {
		return nil, err
	}
	if prefix == "" {
		prefix = "foxhole-postgres-"
	}
	// Not t.TempDir: its parents are private to root, and the server may
	// have to run as another user.
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Postgres, error) {
		os.RemoveAll(dir)
		return nil, err
	}
	cred, err := serverUser(dir)
	if err != nil {
		return fail(err)
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres",
		"--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("initdb: %v\n%s", err, out))
	}

	addr, err := PickAddr()
	if err != nil {
		return fail(err)
	}
	_, port, _ := net.SplitHostPort(addr)
	logs := &LockedBuffer{}
	args := []string{"-D", data,
		"-c", "listen_addresses=127.0.0.1", "-c", "port=" + port,
		"-c", "unix_socket_directories=" + dir,
		// A test cluster need not survive a power cut.
		"-c", "fsync=off", "-c", "full_page_writes=off",
		// Test binaries open many stores at once, each with a pool.
		"-c", "max_connections=400", "-c", "shared_buffers=64MB",
	}
	for _, s := range settings {
		args = append(args, "-c", s) // the last of a name wins
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	cmd.Stdout, cmd.Stderr = logs, logs
	// The server itself, not a runuser wrapper, is the child: killing the
	// child kills the server, and the parent-death signal reaches it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	exited := make(chan struct{})
	if err := startOnLockedThread(cmd, exited); err != nil {
		return fail(fmt.Errorf("start postgres: %w", err))
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cmd.Process.Kill()
			cmd.Wait()
			close(exited)
			os.RemoveAll(dir)
		})
	}
	p := &Postgres{URL: "postgres://postgres@" + addr + "/postgres?sslmode=disable", Addr: addr, stop: stop}
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := pgx.Connect(ctx, p.URL)
		if err == nil {
			c.Close(ctx)
			cancel()
			return p, nil
		}
		cancel()
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("postgres on %s not ready after 60s: %v; output:\n%s", addr, err, strings.TrimSpace(logs.String()))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// serverUser returns the credentials to run initdb and postgres with, and
// gives them dir. PostgreSQL refuses to run as root, so root runs them as
// the postgres user (which Debian's package creates); anyone else runs them
// as themselves.
func serverUser(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL will not run as root, and there is no postgres user to run it as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

// startOnLockedThread starts cmd from a thread that stays until exited is
// closed: the parent-death signal fires when the thread that started the
// child exits, and Go may otherwise retire threads at any time.
func startOnLockedThread(cmd *exec.Cmd, exited <-chan struct{}) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		err := cmd.Start()
		errc <- err
		if err == nil {
			<-exited
		}
		// Ending locked ends the thread too, which no longer matters.
	}()
	return <-errc
}

// removeStaleClusters removes the directories of shared clusters whose
// test binary has exited (and its server with it).
func removeStaleClusters() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), sharedPrefix+"*"))
	for _, d := range dirs {
		pid, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(filepath.Base(d), sharedPrefix), "-", 2)[0])
		if err != nil {
			continue
		}
		// Signal 0 checks that the process exists.
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			os.RemoveAll(d)
		}
	}
}
