package server

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/internal/clientjwt"
	"github.com/latchkey/latchkey/internal/protocol"
	"github.com/latchkey/latchkey/internal/safefetch"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/trustjwt"
)

// trustedNameRE is the form of a trusted issuer's name: the namespace of
// its subjects, so never anything with a colon.
var trustedNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// externalSubject is a workload authenticated by a trusted issuer's JWT.
type externalSubject struct {
	// Subject is namespaced: "<issuer name>:<subject>" (e.g.
	// "k8s:system:serviceaccount:payments:api"); it can never equal a
	// Latchkey user id (no colon) nor "client:…" (the name client is
	// reserved).
	Subject string
	// Issuer is the token's iss.
	Issuer string
	// Name is the trusted issuer's configured name.
	Name string
	// Scopes are the most the issuer's configuration allows.
	Scopes []string
	// Expiry is the token's exp.
	Expiry time.Time
}

// trustedIssuer is one TrustedIssuer, ready for verification.
type trustedIssuer struct {
	spec            trustjwt.Issuer
	allowedClients  []string
	allowedSubjects []string
	scopes          []string
}

// trustedIssuers are the configured issuers by iss, and the verifier of
// their tokens.
type trustedIssuers struct {
	byIssuer map[string]*trustedIssuer
	v        *trustjwt.Verifier
}

// newTrustedIssuers checks the trusted issuers of cfg (internal/config
// explains the same rules to people) and builds their verifier. Their
// jwks_uri are fetched through fetch, the SSRF guard.
func newTrustedIssuers(s *Server, cfg Config, fetch *safefetch.Client) (*trustedIssuers, error) {
	t := &trustedIssuers{byIssuer: map[string]*trustedIssuer{}, v: &trustjwt.Verifier{
		Keys:   clientjwt.NewKeys(clientjwt.KeysConfig{Fetch: fetch, Now: s.now}),
		Replay: trustedReplay{s.st},
		Now:    s.now,
	}}
	names := map[string]bool{}
	for _, c := range cfg.TrustedIssuers {
		ti, err := newTrustedIssuer(c, cfg.Issuer)
		if err != nil {
			return nil, fmt.Errorf("server: trusted issuer %q: %w", c.Name, err)
		}
		if names[c.Name] || t.byIssuer[c.Issuer] != nil {
			return nil, fmt.Errorf("server: trusted issuer %q: its name or issuer is another's", c.Name)
		}
		names[c.Name], t.byIssuer[c.Issuer] = true, ti
	}
	return t, nil
}

func newTrustedIssuer(c TrustedIssuer, serverIssuer string) (*trustedIssuer, error) {
	switch {
	case !trustedNameRE.MatchString(c.Name) || c.Name+":" == ClientSubjectPrefix:
		return nil, errors.New("the name must be 1 to 32 of a-z 0-9 -, and not client")
	case c.Issuer == "":
		return nil, errors.New("no issuer")
	case (c.JWKS == "") == (c.JWKSURI == ""):
		return nil, errors.New("exactly one of jwks and jwks_uri is needed")
	case len(c.AllowedClients) == 0:
		return nil, errors.New("no allowed clients")
	}
	ti := &trustedIssuer{
		spec: trustjwt.Issuer{Name: c.Name, Issuer: c.Issuer, JWKS: c.JWKS, JWKSURI: c.JWKSURI, Audience: c.Audience,
			SubjectClaim: c.SubjectClaim, MaxTokenAge: c.MaxTokenAge, AllowReuse: c.AllowTokenReuse},
		allowedClients: c.AllowedClients, allowedSubjects: c.AllowedSubjects, scopes: c.Scopes,
	}
	if ti.spec.Audience == "" {
		ti.spec.Audience = serverIssuer
	}
	for _, a := range c.Algorithms {
		if !clientjwt.Asymmetric(jose.SignatureAlgorithm(a)) {
			return nil, fmt.Errorf("algorithm %q is not an asymmetric signature algorithm", a)
		}
		ti.spec.Algs = append(ti.spec.Algs, jose.SignatureAlgorithm(a))
	}
	return ti, nil
}

// verifyExternal verifies raw as a JWT from a trusted issuer that client
// may present; the error is a protocol error ready for the token endpoint
// (invalid_grant for anything wrong with the token, including an
// untrusted issuer or a client not in allowed_clients), or a failure of
// the server.
func (s *Server) verifyExternal(ctx context.Context, raw string, client store.Client, now time.Time) (externalSubject, error) {
	// 1. The issuer the token names, and whether this client may bring
	// its tokens: checked before any key is fetched.
	if len(raw) > clientjwt.MaxAssertionBytes {
		s.refusedExternal(ctx, client, "", "larger than 16 KiB", nil)
		return externalSubject{}, protocol.Errorf(protocol.ErrInvalidGrant, "the assertion is larger than 16 KiB")
	}
	iss, _ := trustjwt.UnsafeIssuer(raw)
	ti := s.issuers.byIssuer[iss]
	if ti == nil {
		s.refusedExternal(ctx, client, "", "not a JWT of a trusted issuer", nil)
		return externalSubject{}, protocol.Errorf(protocol.ErrInvalidGrant, "the assertion is not a JWT of a trusted issuer")
	}
	if !slices.Contains(ti.allowedClients, client.ID) {
		s.refusedExternal(ctx, client, ti.spec.Name, "client not in allowed_clients", nil)
		return externalSubject{}, protocol.Errorf(protocol.ErrInvalidGrant, "this client may not present tokens of this issuer")
	}
	// 2. The token itself, at the caller's clock.
	v := *s.issuers.v
	v.Now = func() time.Time { return now }
	tok, err := v.Verify(ctx, raw, ti.spec)
	if refused, ok := errors.AsType[*trustjwt.Error](err); ok {
		s.refusedExternal(ctx, client, ti.spec.Name, refused.Description, refused.Err)
		return externalSubject{}, protocol.Errorf(protocol.ErrInvalidGrant, "%s", refused.Description)
	}
	if err != nil {
		return externalSubject{}, fmt.Errorf("verify token of trusted issuer %s: %w", ti.spec.Name, err)
	}
	// 3. The subject, when the issuer's subjects are restricted.
	if !subjectAllowed(tok.Subject, ti.allowedSubjects) {
		s.refusedExternal(ctx, client, ti.spec.Name, "subject not in allowed_subjects", nil)
		return externalSubject{}, protocol.Errorf(protocol.ErrInvalidGrant, "the token's subject is not allowed for this issuer")
	}
	return externalSubject{Subject: ti.spec.Name + ":" + tok.Subject, Issuer: iss, Name: ti.spec.Name,
		Scopes: slices.Clone(ti.scopes), Expiry: tok.Expiry}, nil
}

// refusedExternal logs why a token was refused, for the operator; never
// the token. cause, when set, is the detail the client is not told (the
// address the SSRF guard refused, the parser's complaint).
func (s *Server) refusedExternal(ctx context.Context, client store.Client, issuer, reason string, cause error) {
	attrs := []any{"client_id", client.ID, "trusted_issuer", issuer, "reason", reason}
	if cause != nil {
		attrs = append(attrs, "cause", cause.Error())
	}
	s.log.InfoContext(ctx, "trusted issuer token refused", attrs...)
}

// subjectAllowed reports whether sub matches one of patterns (an exact
// subject, or a prefix ending in *); no patterns allow every subject.
func subjectAllowed(sub string, patterns []string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if prefix, ok := strings.CutSuffix(p, "*"); ok && strings.HasPrefix(sub, prefix) || p == sub {
			return true
		}
	}
	return false
}

// trustedReplay keeps the jti of trusted issuers' tokens in the store,
// so the whole cluster refuses a replay.
type trustedReplay struct{ st store.ReplayStore }

func (r trustedReplay) UseOnce(ctx context.Context, key string, exp, now time.Time) (bool, error) {
	return r.st.UseOnce(ctx, "trusted:"+key, exp, now)
}
