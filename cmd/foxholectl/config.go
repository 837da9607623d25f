package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// credentials are what foxholectl keeps for one server. The secret is the
// user's only credential: the file holding it is readable by its owner
// only.
type credentials struct {
	UserID     string `json:"user_id"`
	ScreenName string `json:"screen_name"`
	Secret     string `json:"secret"`
	// The last access token and its expiry, reused by the next command
	// while it holds, so that scripts do not spend the server's limit on
	// token exchanges.
	Token   string    `json:"token,omitempty"`
	Expires time.Time `json:"expires,omitzero"`
}

// credentialsFile is the saved credentials, by normalised server URL.
type credentialsFile struct {
	Servers map[string]credentials `json:"servers"`
}

// credentialsPath is os.UserConfigDir()/foxhole/credentials.json.
func credentialsPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the config directory: %w", err)
	}
	return filepath.Join(dir, "foxhole", "credentials.json"), nil
}

// loadCredentials reads the saved credentials; none saved yet is an empty
// set.
func loadCredentials() (*credentialsFile, error) {
	path, err := credentialsPath()
	if err != nil {
		return nil, err
	}
	f := &credentialsFile{Servers: map[string]credentials{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, f); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if f.Servers == nil {
		f.Servers = map[string]credentials{}
	}
	return f, nil
}

// save writes the credentials to a temporary file beside the old one,
// fsyncs it, renames it over and fsyncs the directory, so that a crash
// leaves either the old file or the new one, both mode 0600 in a 0700
// directory. Callers hold the credentials lock (updateCredentials).
func (f *credentialsFile) save() error {
	path, err := credentialsPath()
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".credentials-*.json") // mode 0600
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, there is nothing to remove
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	// The rename is durable once the directory is.
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("save credentials: sync %s: %w", dir, err)
	}
	return nil
}

// Test hooks: lockWaiting is called while a command waits for the
// credentials lock, loginChecked once login has checked the secret with
// the server, before it saves it.
var lockWaiting, loginChecked func()

// lockCredentials takes the lock on the credentials (a flock on
// credentials.json.lock beside them), waiting for another foxholectl that
// holds it, and returns what releases it. A command holds it across what
// must not interleave with another's: reading a secret, proving it to the
// server and saving it (login, rotate, register). It is re-entrant within
// one command.
func (e *env) lockCredentials(ctx context.Context) (unlock func(), err error) {
	if e.locks > 0 {
		e.locks++
		return func() { e.locks-- }, nil
	}
	path, err := credentialsPath()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	release, err := lockPath(ctx, path+".lock")
	if err != nil {
		return nil, err
	}
	e.locks = 1
	return func() {
		if e.locks--; e.locks == 0 {
			release()
		}
	}, nil
}

// updateCredentials reads the saved credentials under the lock, lets
// change alter them, and saves them when it reports a change: what another
// foxholectl saved meanwhile is read again, and only the entry changed is
// written.
func (e *env) updateCredentials(ctx context.Context, change func(f *credentialsFile) bool) error {
	unlock, err := e.lockCredentials(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	saved, err := loadCredentials()
	if err != nil {
		return err
	}
	if !change(saved) {
		return nil
	}
	return saved.save()
}

// normalizeServer returns the form of a server URL credentials are saved
// under: scheme and host in lower case, no trailing slash. A URL without a
// scheme is taken as http.
func normalizeServer(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", usagef("--server %q: want a URL such as %s", s, defaultServer)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Host = strings.ToLower(u.Host)
	return strings.TrimRight(u.String(), "/"), nil
}
