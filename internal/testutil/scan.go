package testutil

import (
	"bytes"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver
)

// FindInDatabase returns where needle appears in the server's database:
// "table: row" for every row of every table holding it in any column,
// read with a connection of its own (SQLite in the data dir, or the
// PostgreSQL database the server uses).
func (s *Server) FindInDatabase(t testing.TB, needle []byte) []string {
	t.Helper()
	driver, dsn := "sqlite", "file:"+filepath.Join(s.DataDir, "foxhole.db")+"?_pragma=query_only(ON)"
	tablesSQL := `SELECT name FROM sqlite_master WHERE type = 'table'`
	if s.Config.DatabaseURL != "" {
		driver, dsn = "pgx", s.Config.DatabaseURL
		tablesSQL = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tables []string
	rows, err := db.Query(tablesSQL)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	var found []string
	for _, table := range tables {
		rows, err := db.Query(fmt.Sprintf(`SELECT * FROM %q`, table))
		if err != nil {
			t.Fatalf("read table %s: %v", table, err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				var b []byte
				switch v := v.(type) {
				case []byte:
					b = v
				case string:
					b = []byte(v)
				}
				if bytes.Contains(b, needle) {
					found = append(found, fmt.Sprintf("%s: %v", table, vals))
					break
				}
			}
		}
		rows.Close()
	}
	return found
}
