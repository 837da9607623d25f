package backends

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestPostgresDatabasesAreSeparate(t *testing.T) {
	t.Parallel()
	pg := StartPostgres(t)
	ctx := context.Background()
	for range 2 {
		c, err := pgx.Connect(ctx, pg.NewDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		// The same table in each: each database starts empty.
		if _, err := c.Exec(ctx, "CREATE TABLE t (id int)"); err != nil {
			t.Fatal(err)
		}
		c.Close(ctx)
	}
}
