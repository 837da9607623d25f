package app_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"foxhole.dev/foxhole/internal/testutil"
	"foxhole.dev/foxhole/internal/testutil/backends"
)

// cluster is several foxhole processes, each its own binary as in a
// deployment, sharing one Valkey.
type cluster struct {
	valkey *testutil.Valkey
	procs  []*testutil.Process
}

// clusterOptions shape a cluster.
type clusterOptions struct {
	processes int
	// apart gives each process a data dir of its own, as on machines of
	// their own: they share a PostgreSQL database, a MinIO and the signing
	// key instead of one SQLite file, one blob dir and the key kept there.
	apart bool
	env   []string // more environment for every process (KEY=value)
	// envOf, when set, gives more environment for process i alone, after
	// the rest (a later KEY=value wins).
	envOf func(c *cluster, i int) []string
}

// startCluster starts Valkey, PostgreSQL and MinIO as o needs them, then
// o.processes foxhole processes on them, each ready when it returns. All
// stop when the test ends; the processes' output is logged if it failed.
func startCluster(t *testing.T, o clusterOptions) *cluster {
	t.Helper()
	var env []string
	if o.apart {
		// First, so that a machine without PostgreSQL skips before
		// starting anything else.
		env = append(env, "FOXHOLE_DATABASE_URL="+backends.SharedPostgres(t).NewDatabase(t))
	}
	c := &cluster{valkey: testutil.StartValkey(t)}
	env = append(env, "FOXHOLE_VALKEY_URL="+c.valkey.URL)
	if o.apart {
		m := testutil.StartMinIO(t)
		env = append(env,
			"FOXHOLE_S3_ENDPOINT="+m.Endpoint,
			"FOXHOLE_S3_ACCESS_KEY="+m.AccessKey,
			"FOXHOLE_S3_SECRET_KEY="+m.SecretKey,
			"FOXHOLE_S3_BUCKET=cluster",
			"FOXHOLE_JWT_SECRET=cluster-test-signing-key-of-enough-bytes",
		)
	}
	env = append(env, o.env...)
	bin := testutil.BuildFoxhole(t)
	t.Cleanup(func() {
		if t.Failed() {
			for i, proc := range c.procs {
				t.Logf("process %d wrote:\n%s", i, proc.Logs.String())
			}
		}
	})
	shared := filepath.Join(t.TempDir(), "data")
	for i := range o.processes {
		dir := shared
		if o.apart {
			dir = filepath.Join(t.TempDir(), fmt.Sprintf("data%d", i))
		}
		own := env
		if o.envOf != nil {
			own = append(slices.Clip(env), o.envOf(c, i)...)
		}
		c.procs = append(c.procs, testutil.StartProcessIn(t, bin, dir, own...))
	}
	return c
}
