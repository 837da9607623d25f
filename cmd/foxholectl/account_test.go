package main

import (
	"archive/zip"
	"path/filepath"
	"strings"
	"testing"

	"foxhole.dev/foxhole/client"
)

// TestProfileAvatarExportDelete walks through a user's account on the
// command line: bio and attributes, avatar, export, and deletion confirmed
// by the secret.
func TestProfileAvatarExportDelete(t *testing.T) {
	srv := startServer(t)
	newHome(t)
	g := func(args ...string) []string { return global(srv.URL, client.Connect, args...) }
	mustCtl(t, "", g("register", "--name", "leaver")...)
	mustCtl(t, "", g("profile", "set", "--bio", "I was here", "--attributes", `{"pronouns": "they/them"}`)...)
	me := whoamiJSON(t, g)
	if me.GetBio() != "I was here" || me.GetAttributes().GetFields()["pronouns"].GetStringValue() != "they/them" || me.GetScreenName() != "leaver" {
		t.Errorf("after profile set: %v", me)
	}
	if _, errOut, code := ctl(t, "", g("profile", "set", "--attributes", "[1]")...); code != exitUsage {
		t.Errorf("--attributes not an object: exit %d, %s", code, errOut)
	}
	if out := mustCtl(t, "", g("avatar", "set", filepath.Join("testdata", "avatar.png"))...); !strings.Contains(out, "/avatars/"+me.GetId()) {
		t.Errorf("avatar set printed %q", out)
	}
	if _, errOut, code := ctl(t, "", g("avatar", "set", "account_test.go")...); code != exitRefused || !strings.Contains(errOut, "invalid_argument") {
		t.Errorf("avatar set of a text file: exit %d, %s", code, errOut)
	}

	zipPath := filepath.Join(t.TempDir(), "me.zip")
	mustCtl(t, "", g("account", "export", "-o", zipPath)...)
	z, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range z.File {
		names = append(names, f.Name)
	}
	z.Close()
	if strings.Join(names, ",") != "profile.json,messages.jsonl,rooms.json" {
		t.Errorf("export holds %v", names)
	}

	secret := savedSecret(t, srv.URL)
	if _, errOut, code := ctl(t, "not-the-secret\n", g("account", "delete")...); code != exitRefused || !strings.Contains(errOut, "unauthenticated") {
		t.Errorf("delete with a wrong secret: exit %d, %s", code, errOut)
	}
	whoamiJSON(t, g) // still there
	_, errOut, code := ctl(t, secret+"\n", g("account", "delete")...)
	if code != exitOK || !strings.Contains(errOut, "for good") {
		t.Fatalf("account delete: exit %d, %s", code, errOut)
	}
	if _, errOut, code := ctl(t, "", g("whoami")...); code != exitUsage {
		t.Errorf("whoami after deletion: exit %d, %s", code, errOut)
	}
	mustCtl(t, "", g("register", "--name", "someone")...)
	if _, errOut, code := ctl(t, "", g("profile", "get", me.GetId())...); code != exitRefused || !strings.Contains(errOut, "not_found") {
		t.Errorf("profile get of the deleted user: exit %d, %s", code, errOut)
	}
}
