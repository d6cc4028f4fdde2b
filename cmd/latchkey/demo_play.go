package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/latchkey/latchkey/dpop"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/formflow"
	"github.com/latchkey/latchkey/internal/oauthclient"
	"github.com/latchkey/latchkey/internal/protocol"
)

// player walks through the seed's grants, printing every exchange.
type player struct {
	d       *demoSetup
	out     io.Writer
	browser bool
	e       env
	failed  []string
}

func (p *player) say(format string, args ...any) { fmt.Fprintf(p.out, format+"\n", args...) }

func (p *player) heading(title, intro string) {
	p.say("\n════════ %s ════════\n%s\n", title, intro)
}

// play runs every part and fails if any step failed.
func (p *player) play(ctx context.Context) error {
	p.say("Latchkey demo: an authorization server at %s and a notes API (a resource server) at %s.", p.d.issuer, p.d.notesURL)
	p.say("The notes API accepts Latchkey's tokens: GET /notes needs scope read, POST /notes needs write.")
	for _, part := range []struct {
		name string
		run  func(context.Context) error
	}{
		{"authorization code", p.authorizationCode},
		{"password", p.password},
		{"client credentials", p.clientCredentials},
		{"sender-constrained token", p.senderConstrained},
		{"device", p.device},
		{"token exchange", p.tokenExchange},
		{"implicit", p.implicit},
	} {
		if err := part.run(ctx); err != nil {
			p.failed = append(p.failed, part.name)
			p.say("✗ the %s part failed: %v", part.name, err)
		}
	}
	if len(p.failed) > 0 {
		return fmt.Errorf("demo failed in: %s", strings.Join(p.failed, ", "))
	}
	p.say("\n✓ every step succeeded. Everything the demo created is gone now.")
	return nil
}

func (p *player) authorizationCode(ctx context.Context) error {
	p.heading("Authorization code grant", "The user's browser goes to Latchkey, the user signs in and consents, Latchkey sends the\nbrowser back to the client with a code, and the client trades the code (and its own\ncredentials, and the PKCE verifier) for tokens.")
	c, err := newDemoClient(ctx, p.d, "notes-web", []string{"openid", "profile", "read", "write"}, p.out)
	if err != nil {
		return err
	}
	open := p.scriptedBrowser(c)
	if p.browser {
		p.say("Sign in as %s with password %s.", p.d.user, p.d.password)
		open = browserOpener(false, p.e)
	}
	resp, err := c.AuthorizationCode(ctx, oauthclient.AuthCodeOptions{Open: open})
	if err != nil {
		return err
	}
	p.say("✓ the client has an access token, a refresh token and an ID token.")
	return p.callNotes(ctx, c, http.MethodGet, resp.Token.AccessToken, http.StatusOK,
		"the client calls the resource server with the access token in the Authorization header")
}

func (p *player) password(ctx context.Context) error {
	p.heading("Password grant (resource owner credentials)", "The client collects the user's username and password itself and sends them, with its\nown credentials, to the token endpoint. OAuth 2.1 drops this grant; Latchkey allows it\nonly for clients configured for it, and limits guessing.")
	c, err := newDemoClient(ctx, p.d, "notes-cli", []string{"read", "write"}, p.out)
	if err != nil {
		return err
	}
	resp, err := c.Password(ctx, p.d.user, p.d.password)
	if err != nil {
		return err
	}
	if err := p.callNotes(ctx, c, http.MethodPost, resp.Token.AccessToken, http.StatusCreated,
		"the client adds a note for the user (scope write)"); err != nil {
		return err
	}
	return p.callNotes(ctx, c, http.MethodGet, resp.Token.AccessToken, http.StatusOK, "the client reads the user's notes (scope read)")
}

func (p *player) clientCredentials(ctx context.Context) error {
	p.heading("Client credentials grant", "No user: an application authenticates as itself and gets a token for the scopes it may have.")
	c, err := newDemoClient(ctx, p.d, "notes-sync", []string{"read"}, p.out)
	if err != nil {
		return err
	}
	resp, err := c.ClientCredentials(ctx)
	if err != nil {
		return err
	}
	if err := p.callNotes(ctx, c, http.MethodGet, resp.Token.AccessToken, http.StatusOK, "the application reads notes (its own: it has no user)"); err != nil {
		return err
	}
	return p.callNotes(ctx, c, http.MethodPost, resp.Token.AccessToken, http.StatusForbidden,
		"the application tries to write, but its token lacks scope write: 403 insufficient_scope")
}

// senderConstrained shows a DPoP-bound token (RFC 9449): the client
// proves with every request that it holds the key the token is bound to,
// so a stolen token is worth nothing without the key.
func (p *player) senderConstrained(ctx context.Context) error {
	p.heading("Sender-constrained token (DPoP)", "A bearer token works for whoever holds it. A DPoP-bound token works only with a proof,\nsigned by the client's own key, made for each request: this client is registered with\ndpop_bound_access_tokens, so Latchkey issues it nothing else.")
	key, err := dpop.GenerateKey()
	if err != nil {
		return err
	}
	holder, err := dpop.NewProver(key)
	if err != nil {
		return err
	}
	c, err := newDemoClient(ctx, p.d, "notes-bank", []string{"read"}, p.out, holder)
	if err != nil {
		return err
	}
	resp, err := c.ClientCredentials(ctx)
	if err != nil {
		return err
	}
	if resp.Token.TokenType != "DPoP" {
		return fmt.Errorf("token_type %q, want DPoP", resp.Token.TokenType)
	}
	p.say("✓ token_type DPoP: the token's cnf.jkt is the thumbprint of the client's key, %s.", holder.Thumbprint())
	at := resp.Token.AccessToken
	if err := p.callNotesWith(ctx, c, "DPoP", at, holder, http.StatusOK,
		"the client calls the notes API with the token and a fresh proof of its key"); err != nil {
		return err
	}
	thiefKey, err := dpop.GenerateKey()
	if err != nil {
		return err
	}
	thief, err := dpop.NewProver(thiefKey)
	if err != nil {
		return err
	}
	if err := p.callNotesWith(ctx, c, "Bearer", at, nil, http.StatusUnauthorized,
		"someone who stole the token sends it as a bearer token: refused"); err != nil {
		return err
	}
	return p.callNotesWith(ctx, c, "DPoP", at, thief, http.StatusUnauthorized,
		"the thief signs a proof with a key of its own: the key is not the token's, refused")
}

// tokenExchange shows a service calling another for the user (RFC 8693):
// the notes API trades the user's token, meant for it alone, for one to
// the calendar API, still the user's, whose act claim names the notes API.
func (p *player) tokenExchange(ctx context.Context) error {
	p.heading("Token exchange: an API calling another API for the user", "Alice lets Notes Web reach the notes API and her calendar, but her access token is for the\nnotes API alone. To show her calendar next to her notes, the notes API trades her token at\nLatchkey for one meant for the calendar API (RFC 8693). The new token is still Alice's, and\nits act claim says who is acting for her: the notes API.")
	web, err := oauthclient.New(ctx, oauthclient.Config{Issuer: p.d.issuer, ClientID: "notes-web", ClientSecret: config.Secret(p.d.secrets["notes-web"]),
		Scopes: []string{"read"}, Resources: []string{p.d.notesURL, p.d.calendarURL}, Trace: p.out})
	if err != nil {
		return err
	}
	open := p.scriptedBrowser(web)
	if p.browser {
		p.say("Sign in as %s with password %s if asked, and allow both APIs.", p.d.user, p.d.password)
		open = browserOpener(false, p.e)
	}
	resp, err := web.AuthorizationCode(ctx, oauthclient.AuthCodeOptions{Open: open, TokenResources: []string{p.d.notesURL}})
	if err != nil {
		return err
	}
	userToken := resp.Token.AccessToken
	p.say("✓ Notes Web has Alice's token; its aud is the notes API alone, though she consented to both.")
	if _, err := p.callAt(ctx, web, http.MethodGet, p.d.calendarURL+"/events", "Bearer", userToken, nil, http.StatusUnauthorized,
		"Alice's token sent to the calendar API directly: it is not meant for it (aud), refused"); err != nil {
		return err
	}
	p.say("\nNow the notes API, with Alice's token in hand and its own client credentials (client notes-api):")
	api, err := oauthclient.New(ctx, oauthclient.Config{Issuer: p.d.issuer, ClientID: "notes-api", ClientSecret: config.Secret(p.d.secrets["notes-api"]),
		Scopes: []string{"read"}, Resources: []string{p.d.calendarURL}, Trace: p.out})
	if err != nil {
		return err
	}
	x, err := api.TokenExchange(ctx, oauthclient.Exchange{SubjectToken: userToken, SubjectTokenType: protocol.TokenTypeAccessToken})
	if err != nil {
		return err
	}
	if itt, _ := x.Token.Extra("issued_token_type").(string); itt != protocol.TokenTypeAccessToken {
		return fmt.Errorf("issued_token_type %q, want %s", itt, protocol.TokenTypeAccessToken)
	}
	p.say("✓ the notes API has a token for the calendar API (issued_token_type access_token).")
	body, err := p.callAt(ctx, api, http.MethodGet, p.d.calendarURL+"/events", "Bearer", x.Token.AccessToken, nil, http.StatusOK,
		"the notes API calls the calendar API with the exchanged token")
	if err != nil {
		return err
	}
	var events struct {
		Subject string `json:"subject"`
		Act     struct {
			Subject string `json:"sub"`
		} `json:"act"`
	}
	if err := json.Unmarshal(body, &events); err != nil {
		return fmt.Errorf("the calendar API's answer: %w", err)
	}
	if events.Act.Subject != "client:notes-api" {
		return fmt.Errorf("the calendar API saw act %q, want client:notes-api", events.Act.Subject)
	}
	p.say("✓ the calendar API served Alice's events (sub %s) and sees who acts for her: act.sub %s.", events.Subject, events.Act.Subject)
	return nil
}

// implicit shows why the implicit grant is refused: it would put the
// access token in the redirect, where the client cannot prove it is the
// one receiving it.
func (p *player) implicit(ctx context.Context) error {
	p.heading("Implicit grant: refused", "The implicit grant returned the access token directly in the redirect, so anyone who\nintercepts the redirect gets the token, and the client never proves who it is. RFC 9700\nsays not to use it; Latchkey answers unsupported_response_type.")
	c, err := newDemoClient(ctx, p.d, "notes-web", nil, p.out)
	if err != nil {
		return err
	}
	q := url.Values{"response_type": {"token"}, "client_id": {"notes-web"}, "redirect_uri": {"http://127.0.0.1:9/callback"}, "state": {"xyz"}}
	c.Tracer().Step("a client asks for a token straight from the authorization endpoint (response_type=token)")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Metadata().AuthorizationEndpoint+"?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := c.HTTPClient().Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc == nil || loc.Query().Get("error") != "unsupported_response_type" {
		return fmt.Errorf("expected a redirect with error=unsupported_response_type, got %s", resp.Status)
	}
	p.say("✓ refused: the redirect carries error=unsupported_response_type and no token.")
	return nil
}

// callNotes calls the notes API with token and checks the status.
func (p *player) callNotes(ctx context.Context, c *oauthclient.Client, method, token string, want int, note string) error {
	return p.call(ctx, c, method, "Bearer", token, nil, want, note)
}

// callNotesWith reads notes with token under scheme and, with a prover, a
// DPoP proof made for this request and this token.
func (p *player) callNotesWith(ctx context.Context, c *oauthclient.Client, scheme, token string, prover *dpop.Prover, want int, note string) error {
	return p.call(ctx, c, http.MethodGet, scheme, token, prover, want, note)
}

func (p *player) call(ctx context.Context, c *oauthclient.Client, method, scheme, token string, prover *dpop.Prover, want int, note string) error {
	_, err := p.callAt(ctx, c, method, p.d.notesURL+"/notes", scheme, token, prover, want, note)
	return err
}

// callAt calls a resource server at target with token, checks the status
// and returns the answer's body.
func (p *player) callAt(ctx context.Context, c *oauthclient.Client, method, target, scheme, token string, prover *dpop.Prover, want int, note string) ([]byte, error) {
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(`{"text":"written during the Latchkey demo"}`)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", scheme+" "+token)
	if prover != nil {
		proof, err := prover.Proof(method, target, token, "")
		if err != nil {
			return nil, err
		}
		req.Header.Set("DPoP", proof)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c.Tracer().Step(note)
	resp, err := c.HTTPClient().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		return nil, fmt.Errorf("%s answered %s, want %d: %s", target, resp.Status, want, b)
	}
	p.say("✓ the resource server answered %s as expected.", resp.Status)
	return b, nil
}

// browserNote says what a step of the scripted browser is.
func browserNote(k formflow.Kind) string {
	switch k {
	case formflow.Authorize:
		return "the browser follows the client's redirect to the authorization endpoint; Latchkey shows its login page"
	case formflow.Login:
		return "the user types username and password into Latchkey's page (the client never sees them)"
	case formflow.Redirect:
		return "signed in, the browser goes back into the flow; Latchkey asks the user to consent"
	}
	return "the user clicks Allow; Latchkey redirects to the client with code, state and iss"
}

// scriptedBrowser plays the user's browser: it walks (formflow) from the
// client's redirect to Latchkey through the login form and the consent
// page, where it clicks Allow, to the redirect back to the client, and
// follows that to the client's callback. Every request goes through the
// client's tracer with a note saying what it is.
func (p *player) scriptedBrowser(c *oauthclient.Client) func(context.Context, string) error {
	return func(ctx context.Context, authURL string) error {
		w := &formflow.Walker{Client: formflow.NewClient(c.Tracer()), Username: p.d.user, Password: p.d.password,
			Before: func(s *formflow.Step) error {
				c.Tracer().Step(browserNote(s.Kind))
				return nil
			}}
		res, err := w.Walk(ctx, authURL)
		if err != nil {
			return fmt.Errorf("the scripted browser: %w", err)
		}
		c.Tracer().Step("the browser follows the redirect to the client's callback; the client checks state and iss")
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, res.Location.String(), nil)
		if err != nil {
			return err
		}
		resp, err := w.Client.Do(req)
		if err != nil {
			return err
		}
		return resp.Body.Close()
	}
}
