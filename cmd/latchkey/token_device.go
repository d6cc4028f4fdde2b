package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/latchkey/latchkey/internal/oauthclient"
	"github.com/latchkey/latchkey/internal/protocol"
)

// deviceFlags are the flags of latchkey token device alone.
type deviceFlags struct {
	qr, noQR bool
}

func (d *deviceFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&d.qr, "qr", false, "print the QR code of verification_uri_complete even when standard error is not a terminal (device)")
	fs.BoolVar(&d.noQR, "no-qr", false, "do not print the QR code, which is printed when standard error is a terminal (device)")
}

// check refuses the device flags where they mean nothing.
func (d *deviceFlags) check(sub string, set map[string]bool) error {
	if sub != "device" {
		for _, name := range []string{"qr", "no-qr"} {
			if set[name] {
				return usageError{fmt.Sprintf("--%s is for latchkey token device only", name)}
			}
		}
	}
	if d.qr && d.noQR {
		return usageError{"--qr and --no-qr contradict each other: give one of them"}
	}
	return nil
}

// tokenDevice runs the device authorization grant (RFC 8628): it asks
// for the codes, tells the user where to enter the user code (and shows
// a QR code of the link that carries it), then polls the token endpoint
// until the user has approved, denied, or the codes expire. --timeout,
// when given, bounds the wait too.
func tokenDevice(ctx context.Context, c *oauthclient.Client, t tokenFlags, e env) (oauthclient.Response, error) {
	da, err := c.DeviceAuthorization(ctx, nil)
	if err != nil {
		return oauthclient.Response{}, err
	}
	if err := showDeviceCodes(e, da, t.device); err != nil {
		return oauthclient.Response{}, err
	}
	if t.set["timeout"] {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t.timeout)
		defer cancel()
	}
	pending := false
	resp, err := c.DeviceAccessToken(ctx, da, oauthclient.DevicePoll{Progress: func(p oauthclient.PollProgress) {
		switch {
		case p.Code == protocol.ErrSlowDown:
			fmt.Fprintf(e.stderr, "slow_down: the server asks the device to poll less often; every %s from now on\n", p.Interval)
		case p.Code == protocol.ErrAuthorizationPending && !pending:
			pending = true
			fmt.Fprintf(e.stderr, "authorization_pending: not approved yet; asking every %s\n", p.Interval)
		case p.Err != nil:
			fmt.Fprintf(e.stderr, "the token endpoint did not answer (%v); trying again in %s\n", p.Err, p.Interval)
		}
	}})
	if err != nil {
		return oauthclient.Response{}, explainDeviceError(err, da, t.timeout)
	}
	fmt.Fprintln(e.stderr, "Approved.")
	return resp, nil
}

// showDeviceCodes tells the user, on standard error, where to go and what
// to enter, with a QR code on a terminal or when asked.
func showDeviceCodes(e env, da oauthclient.DeviceAuthorization, f deviceFlags) error {
	w := e.stderr
	fmt.Fprintf(w, "To sign in, open this page on a phone or computer:\n\n  %s\n\nand enter the code\n\n  %s\n\n", da.VerificationURI, da.UserCode)
	link := da.VerificationURIComplete
	if link != "" {
		fmt.Fprintf(w, "Or open this link, which carries the code (check that the page shows %s):\n\n  %s\n\n", da.UserCode, link)
	} else {
		link = da.VerificationURI
	}
	tty := isTerminal(w)
	if f.qr || (tty && !f.noQR) {
		style := qrPlain
		if tty && e.getenv("NO_COLOR") == "" {
			style = qrANSI
		}
		if err := writeQR(w, link, style); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "Waiting for the approval: the code expires in %s; Ctrl-C stops.\n", da.ExpiresIn)
	return nil
}

// explainDeviceError says in words why the polling ended.
func explainDeviceError(err error, da oauthclient.DeviceAuthorization, timeout time.Duration) error {
	var oe *oauthclient.Error
	switch {
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("interrupted before the user approved: %w", err)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("no approval within --timeout %s: %w", timeout, err)
	case !errors.As(err, &oe):
		return err
	case oe.Code == protocol.ErrAccessDenied:
		return fmt.Errorf("the user denied the request at %s: %w", da.VerificationURI, err)
	case oe.Code == protocol.ErrExpiredToken:
		return fmt.Errorf("the codes expired before the user approved, run the command again: %w", err)
	}
	return fmt.Errorf("polling for the tokens: %w", err)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
