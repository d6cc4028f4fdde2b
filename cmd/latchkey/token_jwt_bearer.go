package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/latchkey/latchkey/internal/oauthclient"
)

// maxAssertionFile bounds what is read of --assertion-file: the server
// refuses assertions over 16 KiB anyway.
const maxAssertionFile = 64 << 10

// tokenJWTBearer runs the JWT bearer grant with the JWT in file, read
// afresh each time (a projected service account token is rotated in
// place), or from standard input when file is -.
func tokenJWTBearer(ctx context.Context, c *oauthclient.Client, file string, stdin io.Reader) (oauthclient.Response, error) {
	if file == "" {
		return oauthclient.Response{}, usageError{"--assertion-file is required: the file holding the JWT to present (- reads standard input)"}
	}
	var assertion string
	if file == "-" {
		tok, err := readTokenLine(stdin)
		if err != nil {
			return oauthclient.Response{}, err
		}
		assertion = tok
	} else {
		f, err := os.Open(file)
		if err != nil {
			return oauthclient.Response{}, fmt.Errorf("--assertion-file: %w", err)
		}
		defer f.Close()
		raw, err := io.ReadAll(io.LimitReader(f, maxAssertionFile))
		if err != nil {
			return oauthclient.Response{}, fmt.Errorf("--assertion-file: %w", err)
		}
		if assertion = strings.TrimSpace(string(raw)); assertion == "" {
			return oauthclient.Response{}, fmt.Errorf("--assertion-file %s is empty", file)
		}
	}
	return c.JWTBearer(ctx, assertion)
}
