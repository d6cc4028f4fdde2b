// Package audit records the security-relevant events of Latchkey: who
// signed in, who got a token, who changed what. Handlers describe what
// happened as an Event and hand it to a Recorder, which never blocks and
// never fails them; the Writer behind it batches events into the store,
// writes one log line each and, when configured, delivers them to a
// webhook.
//
// An Event never carries a secret: no password, no token value, no client
// secret, no code. Token ids (jti) and grant ids (gid) identify tokens.
package audit

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// Type names what happened; it is one of the constants below, so that
// readers can filter on a closed set.
type Type string

// The event types. Reasons and details each type carries are listed with it.
const (
	// SigninSuccess: a user signed in at /login (UserID set).
	SigninSuccess Type = "signin.success"
	// SigninFailure: a sign-in was refused; Reason is ReasonUnknownUser,
	// ReasonWrongPassword, ReasonLimited or ReasonBadRequest, Details
	// "username" what was typed (never the password).
	SigninFailure Type = "signin.failure"
	// ConsentGiven: a user granted a client scopes (Details "scope").
	ConsentGiven Type = "consent.given"
	// ConsentWithdrawn: a user withdrew a consent (account pages, admin).
	ConsentWithdrawn Type = "consent.withdrawn"
	// TokenIssued: the token endpoint issued tokens; Details "grant_type",
	// "scope", "jti" of the access token, "gid" of the grant when there is one.
	TokenIssued Type = "token.issued"
	// RefreshReuse: a rotated refresh token came back; its family (Details
	// "gid") was revoked.
	RefreshReuse Type = "refresh.reuse"
	// CodeReplay: a redeemed authorization code or device code came back;
	// what it issued (Details "gid") was revoked. Details "code" is
	// "authorization_code" or "device_code".
	CodeReplay Type = "code.replay"
	// TokenRevoked: a token or grant was revoked (/revoke, logout, admin);
	// Details "jti" or "gid", "token_type_hint".
	TokenRevoked Type = "token.revoked"
	// LimitReached: a guessing limit is now in force; Details "limit"
	// (username, client, ip) and "endpoint".
	LimitReached Type = "limit.reached"
	// AdminChange: an administrator changed something; Details "object"
	// (client, user, key, …), "id", "action" and "before" / "after"
	// summaries without secrets.
	AdminChange Type = "admin.change"
	// KeyRotated: a signing key was added or retired; Details "kid", "alg".
	KeyRotated Type = "key.rotated"
	// SessionEnded: a browser session ended (logout, account page, admin).
	SessionEnded Type = "session.ended"
	// PasswordChanged: a user's password was changed (never the password).
	PasswordChanged Type = "password.changed"
	// MFAEnrolled: a user completed the enrolment of a second factor
	// (Details "kind", "via": account or signin; for a passkey "id" and
	// "name").
	MFAEnrolled Type = "mfa.enrolled"
	// MFARemoved: a user's second factors were removed (Details "via":
	// admin, cli or account, "factors" how many; for one passkey "kind",
	// "id" and "name").
	MFARemoved Type = "mfa.removed"
	// MFASuccess: a second factor was accepted at sign-in (Details
	// "method": totp, recovery_code, passkey, or passkey_passwordless for
	// a passkey that was the whole sign-in; "id" of the passkey).
	MFASuccess Type = "mfa.success"
	// MFAFailure: a second factor was refused; Reason is ReasonWrongCode,
	// ReasonCodeReused, ReasonLimited, or for a passkey ReasonBadPasskey,
	// ReasonChallengeReused or ReasonClonedAuthenticator (Details
	// "method").
	MFAFailure Type = "mfa.failure"
	// RecoveryCodesIssued: a user's recovery codes were (re)generated
	// (Details "count", never a code).
	RecoveryCodesIssued Type = "mfa.recovery_codes_issued"
	// RecoveryCodeUsed: a recovery code signed a user in (Details "left").
	RecoveryCodeUsed Type = "mfa.recovery_code_used"
)

// Types lists every event type, in the order above.
func Types() []Type {
	return []Type{SigninSuccess, SigninFailure, ConsentGiven, ConsentWithdrawn,
		TokenIssued, RefreshReuse, CodeReplay, TokenRevoked, LimitReached,
		AdminChange, KeyRotated, SessionEnded, PasswordChanged,
		MFAEnrolled, MFARemoved, MFASuccess, MFAFailure, RecoveryCodesIssued, RecoveryCodeUsed}
}

// Valid reports whether t is one of the event types.
func (t Type) Valid() bool {
	for _, k := range Types() {
		if t == k {
			return true
		}
	}
	return false
}

// Reason categories of refusals. They say no more than the page or the
// error response already says to whoever made the request.
const (
	ReasonUnknownUser   = "unknown_user"
	ReasonWrongPassword = "wrong_password"
	ReasonLimited       = "limited"
	ReasonBadRequest    = "bad_request"
	// ReasonWrongCode: a one-time or recovery code that matches nothing.
	ReasonWrongCode = "wrong_code"
	// ReasonCodeReused: a one-time code of a step already used.
	ReasonCodeReused = "code_reused"
	// ReasonBadPasskey: a passkey assertion that does not verify (wrong
	// signature, origin, challenge, unknown credential).
	ReasonBadPasskey = "bad_passkey"
	// ReasonChallengeReused: a passkey ceremony's challenge came back
	// after its first use (a replayed assertion).
	ReasonChallengeReused = "challenge_reused"
	// ReasonClonedAuthenticator: a passkey's signature counter did not go
	// up (WebAuthn §7.2 step 21): two copies of its key may exist.
	ReasonClonedAuthenticator = "cloned_authenticator"
)

// Event is one thing that happened. Only Type is required; Time defaults
// to when the Writer receives it.
type Event struct {
	Time time.Time
	Type Type
	// Actor is who did it: a user id, "client:<id>", "admin:<name>", or
	// "system" (the server itself, the CLI's key rotation).
	Actor string
	// ClientID and UserID are the client and user the event is about.
	ClientID string
	UserID   string
	// IP is the remote address of the request, after trusted proxies.
	IP string
	// Reason is a category (ReasonWrongPassword, …), never free text.
	Reason string
	// Details are a few small values: ids (jti, gid, kid), scopes, names.
	// Never a secret or a token: Sanitize drops values that look like one.
	Details map[string]string
}

// Recorder receives events. Record never blocks for long and never fails
// the caller: an event that cannot be kept is dropped and counted.
type Recorder interface {
	Record(ctx context.Context, e Event)
}

// Nop is the Recorder of a server with audit off.
type Nop struct{}

// Record does nothing.
func (Nop) Record(context.Context, Event) {}

// RecorderFunc adapts a function to Recorder (tests, fan-out).
type RecorderFunc func(context.Context, Event)

// Record calls f.
func (f RecorderFunc) Record(ctx context.Context, e Event) { f(ctx, e) }

// secretPrefixes are the readable prefixes of Latchkey's opaque values
// (internal/token): none of them may reach an event.
var secretPrefixes = [...]string{"lk_ac_", "lk_rt_", "lk_at_", "lk_cs_", "lk_ss_", "lk_dc_"}

// maxDetail bounds a detail value: details are ids and names, not payloads.
const maxDetail = 512

// Sanitize returns e with details that are bounded and hold nothing that
// looks like a token: a Latchkey opaque value or a JWT (three base64url
// parts starting "eyJ"). It is the last line of defence; callers must not
// put secrets in events in the first place. The details map is copied
// only when a value has to change, so the caller's map is never modified
// and the common case allocates nothing.
func Sanitize(e Event) Event {
	if len(e.Details) == 0 {
		e.Details = nil
		return e
	}
	clean := true
	for _, v := range e.Details {
		if len(v) > maxDetail || looksSecret(v) {
			clean = false
			break
		}
	}
	if clean {
		return e
	}
	d := make(map[string]string, len(e.Details))
	for k, v := range e.Details {
		if looksSecret(v) {
			v = "[redacted]"
		}
		if len(v) > maxDetail {
			v = v[:maxDetail]
		}
		d[k] = v
	}
	e.Details = d
	return e
}

func looksSecret(v string) bool {
	for _, p := range secretPrefixes {
		if strings.Contains(v, p) {
			return true
		}
	}
	return strings.HasPrefix(v, "eyJ") && strings.Count(v, ".") >= 2
}

// LogValue writes the event as the fields of one log line, details in key
// order. The writer logs every event, so this allocates only the one slice
// the group needs (BenchmarkWriterFlush).
func (e Event) LogValue() slog.Value {
	attrs := make([]slog.Attr, 1, 6+len(e.Details))
	attrs[0] = slog.String("type", string(e.Type))
	for _, f := range [...]struct{ k, v string }{
		{"actor", e.Actor}, {"client_id", e.ClientID}, {"user_id", e.UserID},
		{"ip", e.IP}, {"reason", e.Reason},
	} {
		if f.v != "" {
			attrs = append(attrs, slog.String(f.k, f.v))
		}
	}
	fixed := len(attrs)
	for k, v := range e.Details {
		attrs = append(attrs, slog.String(k, v))
	}
	slices.SortFunc(attrs[fixed:], func(a, b slog.Attr) int { return strings.Compare(a.Key, b.Key) })
	return slog.GroupValue(attrs...)
}

// Change is the admin.change event of an administrator (actor, such as
// "admin:alice" or "cli") doing action ("create", "update", "delete",
// "rotate-secret", …) to the object of a kind ("client", "user", "key",
// "consent", "session") with id. before and after summarize the object
// without secrets (a secret is "set" or "", never its value); either may
// be "" (create, delete).
func Change(actor, kind, id, action, before, after string) Event {
	d := map[string]string{"object": kind, "id": id, "action": action}
	if before != "" {
		d["before"] = before
	}
	if after != "" {
		d["after"] = after
	}
	return Event{Type: AdminChange, Actor: actor, Details: d}
}
