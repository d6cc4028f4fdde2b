package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/store"
)

const auditExample = `latchkey audit tail --config latchkey.yaml
latchkey audit tail --user alice --type signin.failure,limit.reached --since 24h
latchkey audit tail --client cli --since 2026-12-01T00:00:00Z --output json
latchkey audit tail --follow`

// tailQuery is what `audit tail` was asked for.
type tailQuery struct {
	q        store.AuditQuery
	last     int  // without --since, the last events shown first
	follow   bool // keep polling for new events
	interval time.Duration
	json     bool
}

// runAudit reads the audit trail from the store (local mode, like the
// other admin commands).
func runAudit(ctx context.Context, args []string, e env) error {
	fs := newFlags("audit", "audit tail [--follow] [--user NAME] [--client ID] [--type T,…] [--since 1h|TIME] [--output text|json]",
		auditExample, e.stdout)
	var cf configFlags
	cf.register(fs)
	follow := fs.Bool("follow", false, "keep printing new events until interrupted")
	user := fs.String("user", "", "only events about this user (`username` or user id)")
	client := fs.String("client", "", "only events about this client `id`")
	var types listFlag
	fs.Var(&types, "type", "only events of these `types` (comma-separated): "+typeNames())
	since := fs.String("since", "", "only events since this `time`: a duration back from now (1h, 30m) or RFC 3339")
	last := fs.Int("last", 20, "without --since, how many of the latest events to show")
	output := fs.String("output", "text", "`format`: text or json (one event per line)")
	sub, rest, done, err := parseSubcommand(fs, args)
	if done {
		return err
	}
	if sub != "tail" || len(rest) != 0 {
		fs.Usage()
		return usageError{"expected: latchkey audit tail [flags]"}
	}
	tq, err := buildTail(types, *client, *since, *last, *output, time.Now())
	if err != nil {
		return err
	}
	tq.follow, tq.interval = *follow, time.Second
	return withStore(ctx, &cf, e, func(_ config.Config, st store.Store, _ []string) error {
		if *user != "" {
			if tq.q.UserID, err = resolveUser(ctx, st, *user); err != nil {
				return err
			}
		}
		return tail(ctx, st, tq, e)
	})
}

// buildTail checks the flags and turns them into a query.
func buildTail(types []string, client, since string, last int, output string, now time.Time) (tailQuery, error) {
	tq := tailQuery{q: store.AuditQuery{ClientID: client}, last: last}
	for _, t := range types {
		if !audit.Type(t).Valid() {
			return tq, usageError{fmt.Sprintf("--type %q is not an event type; use one of %s", t, typeNames())}
		}
		tq.q.Types = append(tq.q.Types, t)
	}
	if since != "" {
		t, err := parseSince(since, now)
		if err != nil {
			return tq, err
		}
		tq.q.Since = t
	}
	if last < 1 || last > store.MaxAuditPage {
		return tq, usageError{fmt.Sprintf("--last must be from 1 to %d", store.MaxAuditPage)}
	}
	switch output {
	case "text":
	case "json":
		tq.json = true
	default:
		return tq, usageError{"--output must be text or json"}
	}
	return tq, nil
}

// parseSince reads --since: a duration back from now, or an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, usageError{fmt.Sprintf("--since %q is neither a duration (1h, 30m) nor an RFC 3339 time (2026-12-01T00:00:00Z)", s)}
}

// resolveUser maps --user to a user id: a username when one matches,
// else the value itself (the events of a deleted user stay in the trail).
func resolveUser(ctx context.Context, st store.Store, name string) (string, error) {
	u, err := st.GetUserByUsername(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return name, nil
	}
	if err != nil {
		return "", fmt.Errorf("look up user %s: %w", name, err)
	}
	return u.ID, nil
}

// tail prints the selected events, then, with --follow, new ones as they
// are stored, until ctx ends.
func tail(ctx context.Context, st store.Store, tq tailQuery, e env) error {
	cursor, err := printFirst(ctx, st, tq, e)
	if err != nil || !tq.follow {
		return err
	}
	t := time.NewTicker(tq.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if cursor, err = printFrom(ctx, st, tq, cursor, e); err != nil {
			return err
		}
	}
}

// printFirst prints the first screen: everything since --since, or the
// last events. It returns the cursor to follow from.
func printFirst(ctx context.Context, st store.Store, tq tailQuery, e env) (int64, error) {
	if !tq.q.Since.IsZero() {
		return printFrom(ctx, st, tq, 0, e)
	}
	q := tq.q
	q.Newest, q.Limit = true, tq.last
	page, err := st.ListAuditEvents(ctx, q)
	if err != nil {
		return 0, fmt.Errorf("audit: %w", err)
	}
	slices.Reverse(page)
	if err := printEvents(page, tq.json, e); err != nil {
		return 0, err
	}
	if len(page) == 0 {
		return latestID(ctx, st)
	}
	return page[len(page)-1].ID, nil
}

// latestID is the newest event's id (0 when there is none), so a follow of
// a filter that matched nothing yet starts from now.
func latestID(ctx context.Context, st store.Store) (int64, error) {
	page, err := st.ListAuditEvents(ctx, store.AuditQuery{Newest: true, Limit: 1})
	if err != nil || len(page) == 0 {
		return 0, err
	}
	return page[0].ID, nil
}

// printFrom prints every selected event after cursor, page by page, and
// returns the new cursor.
func printFrom(ctx context.Context, st store.Store, tq tailQuery, cursor int64, e env) (int64, error) {
	q := tq.q
	for {
		q.Cursor = cursor
		page, err := st.ListAuditEvents(ctx, q)
		if err != nil {
			return cursor, fmt.Errorf("audit: %w", err)
		}
		if err := printEvents(page, tq.json, e); err != nil {
			return cursor, err
		}
		if len(page) == 0 {
			return cursor, nil
		}
		cursor = page[len(page)-1].ID
	}
}

// printEvents writes events as text lines or JSON lines.
func printEvents(events []store.AuditEvent, asJSON bool, e env) error {
	enc := json.NewEncoder(e.stdout)
	for _, ev := range events {
		if asJSON {
			if err := enc.Encode(audit.Wire(ev)); err != nil {
				return err
			}
			continue
		}
		if _, err := fmt.Fprintln(e.stdout, eventLine(ev)); err != nil {
			return err
		}
	}
	return nil
}

// eventLine is one event as text: time, type, then key=value fields.
func eventLine(ev store.AuditEvent) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %-17s", ev.Time.UTC().Format("2006-01-02T15:04:05.000Z"), ev.Type)
	for _, f := range [][2]string{{"actor", ev.Actor}, {"user", ev.UserID}, {"client", ev.ClientID},
		{"ip", ev.IP}, {"reason", ev.Reason}} {
		if f[1] != "" {
			fmt.Fprintf(&b, " %s=%s", f[0], f[1])
		}
	}
	keys := make([]string, 0, len(ev.Details))
	for k := range ev.Details {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%q", k, ev.Details[k])
	}
	return b.String()
}

// typeNames lists the event types for help and errors.
func typeNames() string {
	var names []string
	for _, t := range audit.Types() {
		names = append(names, string(t))
	}
	return strings.Join(names, ", ")
}
