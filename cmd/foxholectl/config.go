package main

import (
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

// save writes the credentials to a temporary file beside the old one and
// renames it over, so that a crash leaves either the old file or the new
// one, both mode 0600 in a 0700 directory.
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
	return nil
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
