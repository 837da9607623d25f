// Package backup copies a data directory of the embedded default (SQLite
// and files on the local disk) while a server runs on it and takes writes,
// and puts such a copy in place of an empty data directory.
//
// A backup is consistent: the database is copied in one read transaction
// (SQLite's VACUUM INTO), which begins after the backup does and so holds
// every write acknowledged before (commits are synchronous), and the file
// content copied is exactly that of the files the copied rows name. File
// content is written before its row and removed after it, so the content
// of every copied row exists when the copy begins; a file deleted while
// the backup runs has its row taken out of the copy, as if its deletion
// had come first.
package backup

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // the driver the store uses
)

// The names in a data directory and in a backup.
const (
	dbName       = "foxhole.db"
	blobDir      = "blobs"
	keyName      = "jwt.key"
	ManifestName = "foxhole-backup.json"
)

// Manifest is written last into a backup: a directory without one is not
// a finished backup, and restore refuses it.
type Manifest struct {
	Version    string    `json:"version"`    // of the foxhole that took it
	TakenAt    time.Time `json:"taken_at"`   // when the database was copied
	Files      int       `json:"files"`      // file contents copied
	Bytes      int64     `json:"bytes"`      // their size
	Dropped    int       `json:"dropped"`    // rows of files deleted during the backup, left out
	Migrations int       `json:"migrations"` // migrations the copied database has applied
	HasKey     bool      `json:"has_key"`    // the signing key was copied
}

// Backup copies the data directory dataDir into out, which must not exist
// or be empty. version is recorded in the manifest.
func Backup(ctx context.Context, dataDir, out, version string) (Manifest, error) {
	var m Manifest
	src := filepath.Join(dataDir, dbName)
	if _, err := os.Stat(src); err != nil {
		return m, fmt.Errorf("no database to back up in %s: %w", dataDir, err)
	}
	if err := emptyDir(out); err != nil {
		return m, err
	}
	// The data dir's key first: it never changes once made.
	if key, err := os.ReadFile(filepath.Join(dataDir, keyName)); err == nil {
		if err := writeFileSync(filepath.Join(out, keyName), key, 0o600); err != nil {
			return m, err
		}
		m.HasKey = true
	} else if !errors.Is(err, fs.ErrNotExist) {
		return m, err
	}

	db, err := sql.Open("sqlite", "file:"+src+"?"+url.Values{"_pragma": {"busy_timeout(10000)"}}.Encode())
	if err != nil {
		return m, err
	}
	defer db.Close()
	dst := filepath.Join(out, dbName)
	m.TakenAt = time.Now().UTC()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", dst); err != nil {
		return m, fmt.Errorf("copy the database: %w", err)
	}
	db.Close()

	copyDB, err := sql.Open("sqlite", "file:"+dst+"?"+url.Values{"_pragma": {"busy_timeout(10000)", "foreign_keys(ON)", "synchronous(FULL)"}}.Encode())
	if err != nil {
		return m, err
	}
	defer copyDB.Close()
	if err := copyDB.QueryRowContext(ctx, "SELECT count(*) FROM bun_migrations").Scan(&m.Migrations); err != nil {
		return m, fmt.Errorf("read the copied database: %w", err)
	}
	ids, err := fileIDs(ctx, copyDB)
	if err != nil {
		return m, err
	}
	var gone []string
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return m, err
		}
		rel := filepath.Join(blobDir, id[:2], id)
		n, err := copyFile(filepath.Join(dataDir, rel), filepath.Join(out, rel))
		if errors.Is(err, fs.ErrNotExist) {
			gone = append(gone, id) // deleted since the database was copied
			continue
		}
		if err != nil {
			return m, fmt.Errorf("copy file content %s: %w", id, err)
		}
		m.Files++
		m.Bytes += n
	}
	for _, id := range gone {
		if _, err := copyDB.ExecContext(ctx, "DELETE FROM files WHERE id = ?", id); err != nil {
			return m, fmt.Errorf("leave out file %s deleted during the backup: %w", id, err)
		}
	}
	m.Dropped = len(gone)
	if err := copyDB.Close(); err != nil {
		return m, err
	}
	if err := syncDir(out); err != nil {
		return m, err
	}
	m.Version = version
	b, _ := json.MarshalIndent(m, "", "  ")
	return m, writeFileSync(filepath.Join(out, ManifestName), append(b, '\n'), 0o600)
}

// Restore puts the backup in dir into dataDir, which must not exist or hold
// no database, files nor key. The backup's database is checked first.
func Restore(ctx context.Context, dir, dataDir string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return m, fmt.Errorf("%s is not a finished backup (no %s): %w", dir, ManifestName, err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%s: %w", ManifestName, err)
	}
	for _, name := range []string{dbName, dbName + "-wal", blobDir, keyName} {
		if _, err := os.Stat(filepath.Join(dataDir, name)); err == nil {
			return m, fmt.Errorf("data directory %s already holds %s: restore only into an empty data directory", dataDir, name)
		}
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, dbName)+"?mode=ro")
	if err != nil {
		return m, err
	}
	var check string
	err = db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check)
	db.Close()
	if err != nil || check != "ok" {
		return m, fmt.Errorf("the backup's database fails its integrity check: %v %s", err, check)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return m, err
	}
	// The files and the key first, the database last: a data dir without
	// a database is still empty to a second try.
	err = filepath.WalkDir(filepath.Join(dir, blobDir), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		_, err = copyFile(path, filepath.Join(dataDir, rel))
		return err
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return m, fmt.Errorf("restore file content: %w", err)
	}
	if m.HasKey {
		if _, err := copyFile(filepath.Join(dir, keyName), filepath.Join(dataDir, keyName)); err != nil {
			return m, err
		}
	}
	tmp := filepath.Join(dataDir, ".restore-"+dbName)
	if _, err := copyFile(filepath.Join(dir, dbName), tmp); err != nil {
		return m, err
	}
	if err := os.Rename(tmp, filepath.Join(dataDir, dbName)); err != nil {
		return m, err
	}
	return m, syncDir(dataDir)
}

// fileIDs lists the ids of every file row, which are their content's keys.
func fileIDs(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SELECT id FROM files")
	if err != nil {
		return nil, fmt.Errorf("list files: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		if len(id) < 3 || filepath.Base(id) != id {
			return nil, fmt.Errorf("file id %q is not a content key", id)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// emptyDir makes dir, or checks that it exists and is empty.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return os.MkdirAll(dir, 0o700)
	}
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("backup directory %s is not empty", dir)
	}
	return nil
}

// copyFile copies src to dst, creating dst's directory, and syncs it.
func copyFile(src, dst string) (int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return 0, err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return n, err
}

func writeFileSync(path string, b []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
