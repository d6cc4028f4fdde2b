package admin

import (
	"encoding/json"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/bearer"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/store"
)

// change is one write an administrator made, for the audit trail.
type change struct {
	object, id, action string // client, reports, update
	clientID, userID   string // what the event is about
	before, after      map[string]any
}

// record writes an admin.change event: who (the admin token's client),
// what, and the members that changed, before and after. The views hold
// no secret; a rotated secret shows as the action alone.
func (a *API) record(r *http.Request, c change) {
	actor := "system"
	if claims, ok := bearer.ClaimsFrom(r.Context()); ok {
		actor = "client:" + claims.ClientID
	}
	details := map[string]string{"object": c.object, "id": c.id, "action": c.action}
	before, after := changed(c.before, c.after)
	if before != "" {
		details["before"] = before
	}
	if after != "" {
		details["after"] = after
	}
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	a.audit.Record(r.Context(), audit.Event{Time: a.now(), Type: audit.AdminChange, Actor: actor,
		ClientID: c.clientID, UserID: c.userID, IP: ip, Details: details})
}

// changed returns, as JSON, the members of two views that differ (all of
// one when the other is nil); "" for none. Timestamps are left out.
func changed(before, after map[string]any) (string, string) {
	b, a := map[string]any{}, map[string]any{}
	for k := range merged(before, after) {
		if k == "updated_at" || k == "created_at" {
			continue
		}
		x, _ := json.Marshal(before[k])
		y, _ := json.Marshal(after[k])
		if string(x) == string(y) {
			continue
		}
		if before != nil {
			b[k] = before[k]
		}
		if after != nil {
			a[k] = after[k]
		}
	}
	return asJSON(b), asJSON(a)
}

func merged(x, y map[string]any) map[string]bool {
	keys := map[string]bool{}
	for k := range x {
		keys[k] = true
	}
	for k := range y {
		keys[k] = true
	}
	return keys
}

func asJSON(m map[string]any) string {
	if len(m) == 0 {
		return ""
	}
	out, _ := json.Marshal(m)
	return string(out)
}

// listAudit serves GET /audit: the audit trail, newest first unless
// ?order=oldest, filtered by user_id, client_id, type (repeatable), since
// and until (RFC 3339), a page at a time.
func (a *API) listAudit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	query := store.AuditQuery{UserID: q.Get("user_id"), ClientID: q.Get("client_id"), Types: q["type"], Newest: q.Get("order") != "oldest"}
	var errs []FieldError
	for _, t := range query.Types {
		if !audit.Type(t).Valid() {
			errs = append(errs, FieldError{Field: "type", Detail: strconv.Quote(t) + " is not an event type"})
		}
	}
	for name, dst := range map[string]*time.Time{"since": &query.Since, "until": &query.Until} {
		if s := q.Get(name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				errs = append(errs, FieldError{Field: name, Detail: "must be an RFC 3339 time like 2026-01-02T15:04:05Z"})
			}
			*dst = t
		}
	}
	if o := q.Get("order"); o != "" && o != "oldest" && o != "newest" {
		errs = append(errs, FieldError{Field: "order", Detail: "must be newest or oldest"})
	}
	p, err := readPage(r)
	if err != nil {
		return err
	}
	if p.after != "" {
		if query.Cursor, err = strconv.ParseInt(p.after, 10, 64); err != nil {
			errs = append(errs, FieldError{Field: "cursor", Detail: "must be the next_cursor of an earlier page"})
		}
	}
	if len(errs) > 0 {
		slices.SortFunc(errs, func(x, y FieldError) int { return strings.Compare(x.Field, y.Field) })
		return invalid("the query is not valid", errs...)
	}
	query.Limit = p.limit + 1
	events, err := a.st.ListAuditEvents(r.Context(), query)
	if err != nil {
		return err
	}
	out := listing{Items: []map[string]any{}}
	for i, e := range events {
		if i == p.limit {
			out.NextCursor = cursorOf(strconv.FormatInt(events[i-1].ID, 10))
			break
		}
		out.Items = append(out.Items, eventView(e))
	}
	return writeJSON(w, http.StatusOK, out)
}

// eventView is the JSON of a stored event.
func eventView(e store.AuditEvent) map[string]any {
	details := e.Details
	if details == nil {
		details = map[string]string{}
	}
	return map[string]any{"id": e.ID, "time": e.Time.UTC().Format(time.RFC3339Nano), "type": e.Type, "actor": e.Actor,
		"client_id": e.ClientID, "user_id": e.UserID, "ip": e.IP, "reason": e.Reason, "details": details}
}
