package server

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/store"
)

// emit hands e to the audit recorder, filling in the time and, when r is
// not nil, the client's address. It never blocks the request for long and
// never fails it (audit.Recorder's contract).
func (s *Server) emit(ctx context.Context, r *http.Request, e audit.Event) {
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	if r != nil && e.IP == "" {
		if ip := s.clientIP(r); ip.IsValid() {
			e.IP = ip.String()
		}
	}
	s.cfg.Audit.Record(ctx, e)
}

// countFailure counts a failed attempt under keys (guard.fail) and records
// a limit.reached event for each counter that this failure brought to its
// limit, naming the counter's kind, never its subject.
func (s *Server) countFailure(ctx context.Context, r *http.Request, ts store.ThrottleStore, keys []limitKey, now time.Time, clientID string) error {
	reached, err := s.guard.fail(ctx, ts, keys, now)
	for _, k := range reached {
		s.emit(ctx, r, audit.Event{Type: audit.LimitReached, ClientID: clientID,
			Reason: audit.ReasonLimited, Details: map[string]string{"limit": k.kind()}})
	}
	return err
}

// recordIssued records token.issued for the access token that the grant
// minted: the client, the user, the scopes and the token's ids.
func (s *Server) recordIssued(r *http.Request, clientID, grantType string) {
	it := info(r.Context()).issued
	if it == nil {
		return
	}
	d := map[string]string{"grant_type": grantType, "jti": it.jti, "scope": protocol.JoinScope(it.scopes)}
	if it.grantID != "" {
		d["gid"] = it.grantID
	}
	if it.userID == "" && !strings.HasPrefix(it.subject, ClientSubjectPrefix) {
		d["sub"] = it.subject // an external workload's namespaced subject
	}
	actor := it.userID
	if actor == "" {
		actor = ClientSubjectPrefix + clientID
	}
	s.emit(r.Context(), r, audit.Event{Type: audit.TokenIssued, Actor: actor, ClientID: clientID,
		UserID: it.userID, Details: d})
}

// recordConsent records consent.given: the user allowed the client the
// scopes, on the consent page of flow ("authorize" or "device").
func (s *Server) recordConsent(r *http.Request, clientID, userID string, scopes []string, flow string) {
	s.emit(r.Context(), r, audit.Event{Type: audit.ConsentGiven, Actor: userID, ClientID: clientID, UserID: userID,
		Details: map[string]string{"scope": protocol.JoinScope(scopes), "flow": flow}})
}

// recordRevoking records a replay (code.replay, refresh.reuse) that made
// the server revoke grantID; code names the kind of code replayed.
func (s *Server) recordRevoking(r *http.Request, typ audit.Type, clientID, userID, grantID, code string) {
	d := map[string]string{"gid": grantID}
	if code != "" {
		d["code"] = code
	}
	s.emit(r.Context(), r, audit.Event{Type: typ, Actor: ClientSubjectPrefix + clientID, ClientID: clientID,
		UserID: userID, Details: d})
}

// recordRevoked records token.revoked at /revoke: a refresh token revokes
// its grant (gid), an access token its jti.
func (s *Server) recordRevoked(r *http.Request, clientID string, ti tokenInfo) {
	d := map[string]string{"token_type": "access_token", "jti": ti.jti}
	if ti.refresh {
		d = map[string]string{"token_type": "refresh_token", "gid": ti.grantID}
	}
	s.emit(r.Context(), r, audit.Event{Type: audit.TokenRevoked, Actor: ClientSubjectPrefix + clientID,
		ClientID: clientID, UserID: ti.userID, Details: d})
}
