package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"

	"foxhole.dev/foxhole/internal/app"
	"foxhole.dev/foxhole/internal/config"
	"foxhole.dev/foxhole/internal/errs"
	"foxhole.dev/foxhole/internal/store"
)

// The admin commands' exit codes, as foxholectl's.
const (
	adminOK          = 0
	adminUsage       = 1
	adminRefused     = 2
	adminUnreachable = 3
)

var adminCommand = command{
	name:    "admin",
	args:    "SUBCOMMAND",
	summary: "act on users as an operator, beside the running processes (foxhole admin help)",
	run:     runAdmin,
}

// adminSubcommands are the operator's commands, by their words.
var adminSubcommands = []struct {
	words, args, summary string
	run                  func(ctx context.Context, ad *app.Admin, args []string, asJSON bool, stdout io.Writer) error
}{
	{"users ls", "[--after ID] [--limit N]", "list users in order of id: id, name, created, last seen, files, bytes, banned", adminUsersLs},
	{"users show", "USER_ID", "show one user", adminUsersShow},
	{"users ban", "USER_ID", "refuse the user's tokens and end its sessions in every process within 5 s; no new token until unban", adminBan(true)},
	{"users unban", "USER_ID", "lift a ban", adminBan(false)},
	{"users delete", "USER_ID", "delete the account as DeleteAccount does: profile, avatar, files, memberships, blocks; messages erased to tombstones", adminUsersDelete},
	{"messages purge", "USER_ID", "erase every message the user sent to a tombstone, with its edits", adminMessagesPurge},
}

func printAdminUsage(w io.Writer) {
	fmt.Fprint(w, "Usage: foxhole admin [--json] SUBCOMMAND\n\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range adminSubcommands {
		fmt.Fprintf(tw, "  %s %s\t%s\n", c.words, c.args, c.summary)
	}
	tw.Flush()
	fmt.Fprint(w, `
The commands use the server's own configuration (the FOXHOLE_* variables)
and are safe to run while one or several processes serve.
Exit codes: 0 success, 1 usage, 2 refused (e.g. no such user), 3 the
database or Valkey could not be reached.
`)
}

func runAdmin(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	asJSON := false
	if len(args) > 0 && args[0] == "--json" {
		asJSON, args = true, args[1:]
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printAdminUsage(stdout)
		if len(args) == 0 {
			return adminUsage
		}
		return adminOK
	}
	for _, c := range adminSubcommands {
		var words [2]string
		if n, _ := fmt.Sscan(c.words, &words[0], &words[1]); n != 2 || len(args) < 2 || args[0] != words[0] || args[1] != words[1] {
			continue
		}
		cfg, err := config.Load(os.Getenv)
		if err != nil {
			fmt.Fprintln(stderr, "foxhole admin:", err)
			return adminUsage
		}
		log := zerolog.New(stderr).Level(zerolog.WarnLevel).With().Timestamp().Logger()
		ad, err := app.OpenAdmin(ctx, cfg, log)
		if err != nil {
			fmt.Fprintln(stderr, "foxhole admin:", err)
			return adminUnreachable
		}
		defer ad.Close()
		err = c.run(ctx, ad, args[2:], asJSON, stdout)
		var usage usageError
		switch {
		case err == nil:
			return adminOK
		case errors.As(err, &usage):
			fmt.Fprintf(stderr, "usage: foxhole admin %s %s\n", c.words, c.args)
			return adminUsage
		case errors.Is(err, errs.ErrNotFound), errors.Is(err, errs.ErrPermissionDenied), errors.Is(err, errs.ErrFailedPrecondition):
			fmt.Fprintln(stderr, "foxhole admin:", err)
			return adminRefused
		default:
			fmt.Fprintln(stderr, "foxhole admin:", err)
			return adminUnreachable
		}
	}
	fmt.Fprintf(stderr, "foxhole admin: unknown command %q\n\n", args)
	printAdminUsage(stderr)
	return adminUsage
}

// usageError is a subcommand given the wrong arguments.
type usageError struct{}

func (usageError) Error() string { return "usage" }

// oneUser reads the USER_ID argument.
func oneUser(args []string) (string, error) {
	if len(args) != 1 || args[0] == "" {
		return "", usageError{}
	}
	return args[0], nil
}

// adminUser is a user as the admin commands print it.
type adminUser struct {
	ID         string     `json:"id"`
	ScreenName string     `json:"screenName"`
	CreatedAt  time.Time  `json:"createdAt"`
	LastSeen   *time.Time `json:"lastSeen,omitempty"`
	BannedAt   *time.Time `json:"bannedAt,omitempty"`
	Files      int64      `json:"files"`
	Bytes      int64      `json:"bytes"`
}

func toAdminUser(u store.UserSummary) adminUser {
	out := adminUser{ID: u.ID, ScreenName: u.ScreenName, CreatedAt: time.UnixMicro(u.CreatedAt).UTC(), Files: u.Files, Bytes: u.Bytes}
	if u.LastSeen > 0 {
		t := time.UnixMicro(u.LastSeen).UTC()
		out.LastSeen = &t
	}
	if u.BannedAt != nil {
		t := time.UnixMicro(*u.BannedAt).UTC()
		out.BannedAt = &t
	}
	return out
}

func printUsers(w io.Writer, users []adminUser, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		for _, u := range users {
			if err := enc.Encode(u); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tCREATED\tLAST SEEN\tFILES\tBYTES\tBANNED")
	stamp := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.Format(time.DateTime)
	}
	for _, u := range users {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", u.ID, u.ScreenName, u.CreatedAt.Format(time.DateTime), stamp(u.LastSeen), u.Files, u.Bytes, stamp(u.BannedAt))
	}
	return tw.Flush()
}

func adminUsersLs(ctx context.Context, ad *app.Admin, args []string, asJSON bool, stdout io.Writer) error {
	fs := flag.NewFlagSet("users ls", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	after := fs.String("after", "", "list the users after this id")
	limit := fs.Int("limit", 1000, "list at most this many users")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 || *limit < 1 {
		return usageError{}
	}
	users, err := ad.Users(ctx, *after, *limit)
	if err != nil {
		return err
	}
	out := make([]adminUser, 0, len(users))
	for _, u := range users {
		out = append(out, toAdminUser(u))
	}
	return printUsers(stdout, out, asJSON)
}

func adminUsersShow(ctx context.Context, ad *app.Admin, args []string, asJSON bool, stdout io.Writer) error {
	id, err := oneUser(args)
	if err != nil {
		return err
	}
	u, err := ad.User(ctx, id)
	if err != nil {
		return err
	}
	return printUsers(stdout, []adminUser{toAdminUser(*u)}, asJSON)
}

func adminBan(on bool) func(ctx context.Context, ad *app.Admin, args []string, asJSON bool, stdout io.Writer) error {
	return func(ctx context.Context, ad *app.Admin, args []string, _ bool, stdout io.Writer) error {
		id, err := oneUser(args)
		if err != nil {
			return err
		}
		if err := ad.Ban(ctx, id, on); err != nil {
			return err
		}
		if on {
			fmt.Fprintf(stdout, "banned %s: its tokens are refused and its sessions end within 5 s in every process\n", id)
		} else {
			fmt.Fprintf(stdout, "unbanned %s: it may get a token again\n", id)
		}
		return nil
	}
}

func adminUsersDelete(ctx context.Context, ad *app.Admin, args []string, _ bool, stdout io.Writer) error {
	id, err := oneUser(args)
	if err != nil {
		return err
	}
	if err := ad.Delete(ctx, id); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "deleted %s: nothing of it is left, and its sessions end within 5 s in every process\n", id)
	return nil
}

func adminMessagesPurge(ctx context.Context, ad *app.Admin, args []string, asJSON bool, stdout io.Writer) error {
	id, err := oneUser(args)
	if err != nil {
		return err
	}
	n, err := ad.Purge(ctx, id)
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{"userId": id, "eventsChanged": n})
	}
	fmt.Fprintf(stdout, "purged %s: %d stored events erased to tombstones or removed\n", id, n)
	return nil
}
