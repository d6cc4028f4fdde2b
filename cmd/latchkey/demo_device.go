package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/latchkey/latchkey/internal/formflow"
	"github.com/latchkey/latchkey/internal/oauthclient"
	"github.com/latchkey/latchkey/internal/protocol"
)

// demoTV is the demo's device client: public, as an app on a TV is.
const demoTV = "notes-tv"

// device shows the device authorization grant (RFC 8628): the demo is the
// TV, which shows a code and polls, and the user's phone, on which the
// user enters the code, signs in and approves. The user picks up the
// phone once the TV has been told authorization_pending.
func (p *player) device(ctx context.Context) error {
	p.heading("Device authorization grant", "A TV, a console or a command line on a server cannot show a login page. It asks Latchkey\nfor a device code and a short user code, shows the user where to enter the code, and polls\nthe token endpoint with the device code while the user signs in and approves on a phone.")
	c, err := newDemoClient(ctx, p.d, demoTV, []string{"read"}, p.out)
	if err != nil {
		return err
	}
	da, err := c.DeviceAuthorization(ctx, nil)
	if err != nil {
		return err
	}
	p.say("The TV shows:  Open %s and enter the code %s", da.VerificationURI, da.UserCode)
	p.say("               (or scan the QR code of %s)\n", da.VerificationURIComplete)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var userErr error
	asked := false
	resp, err := c.DeviceAccessToken(ctx, da, oauthclient.DevicePoll{Progress: func(pp oauthclient.PollProgress) {
		if pp.Code != protocol.ErrAuthorizationPending || asked {
			return
		}
		asked = true
		p.say("✓ authorization_pending: the user has not approved yet, so the TV asks again every %s.", pp.Interval)
		if userErr = p.deviceUser(ctx, c, da); userErr != nil {
			cancel() // nobody will approve: stop polling
		}
	}})
	if userErr != nil {
		return userErr
	}
	if err != nil {
		return err
	}
	p.say("✓ the TV has an access token for the user, who never typed a password on it.")
	return p.callNotes(ctx, c, http.MethodGet, resp.Token.AccessToken, http.StatusOK, "the TV reads the user's notes with the access token")
}

// deviceUser is the user's part, on a phone: the scripted browser
// (formflow) opens the verification URI, types the code the TV shows,
// signs in and clicks Approve, each request traced with a note. With
// --browser, the user does it in their own browser instead.
func (p *player) deviceUser(ctx context.Context, c *oauthclient.Client, da oauthclient.DeviceAuthorization) error {
	if p.browser {
		p.say("Approve it yourself: sign in as %s with password %s, check the code %s, click Approve.", p.d.user, p.d.password, da.UserCode)
		return browserOpener(false, p.e)(ctx, da.VerificationURIComplete)
	}
	w := &formflow.Walker{Client: formflow.NewClient(c.Tracer()), Username: p.d.user, Password: p.d.password,
		Before: func(s *formflow.Step) error {
			c.Tracer().Step(deviceBrowserNote(*s, da.UserCode))
			return nil
		}}
	page, err := w.Device(ctx, da.VerificationURI, da.UserCode, true)
	if err != nil {
		return fmt.Errorf("the scripted browser: %w", err)
	}
	if !bytes.Contains(page, []byte("Device connected")) {
		return fmt.Errorf("the last device page does not say Device connected:\n%s", page)
	}
	p.say("✓ the phone shows Device connected; the TV's next poll gets the tokens.")
	return nil
}

// deviceBrowserNote says what a step of the user's part is.
func deviceBrowserNote(s formflow.Step, userCode string) string {
	switch {
	case s.Kind == formflow.Authorize:
		return "on a phone, the user opens the verification URI the TV shows; Latchkey asks for the code"
	case s.Kind == formflow.Login:
		return "the user signs in on the phone (the TV never sees the password)"
	case s.Kind == formflow.Redirect:
		return "signed in, the browser goes on; Latchkey names the device and shows its code"
	case strings.HasSuffix(s.URL.Path, "/consent"):
		return "the user checks that the TV shows " + userCode + " too and clicks Approve"
	}
	return "the user types the code " + userCode + "; Latchkey asks who is approving"
}
