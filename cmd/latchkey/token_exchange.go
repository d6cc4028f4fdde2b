package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/latchkey/latchkey/internal/oauthclient"
)

// exchangeFlags are the flags of latchkey token exchange alone.
type exchangeFlags struct {
	subject, subjectType string
	actor, actorType     string
	requestedType        string
	audience             repeatFlag
}

func (x *exchangeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&x.subject, "subject-token", "", "the `TOKEN` to exchange, held for its subject (exchange; - reads it from standard input,\n"+
		"which keeps it out of ps and shell history)")
	fs.StringVar(&x.subjectType, "subject-token-type", "access_token", "the subject token's `type`: access_token, refresh_token, id_token, jwt or an RFC 8693 URN (exchange)")
	fs.StringVar(&x.actor, "actor-token", "", "a `TOKEN` naming who acts for the subject, for the issued token's act claim (exchange; - reads\n"+
		"it from standard input); without it the server names the client")
	fs.StringVar(&x.actorType, "actor-token-type", "", "the actor token's `type` (exchange; default access_token when --actor-token is given)")
	fs.StringVar(&x.requestedType, "requested-token-type", "", "the `type` of token wanted: access_token (the server's default) or refresh_token (exchange)")
	fs.Var(&x.audience, "audience", "a logical `name` of the target the token is for (RFC 8693 §2.1); repeat for several (exchange)")
}

// check refuses the exchange flags where they mean nothing, and makes the
// short type names URNs.
func (x *exchangeFlags) check(sub string, set map[string]bool) error {
	names := []string{"subject-token", "subject-token-type", "actor-token", "actor-token-type", "requested-token-type", "audience"}
	if sub != "exchange" {
		for _, name := range names {
			if set[name] {
				return usageError{fmt.Sprintf("--%s is for latchkey token exchange only", name)}
			}
		}
		return nil
	}
	switch {
	case x.subject == "":
		return usageError{"--subject-token is required: the token to exchange (- reads it from standard input)"}
	case x.subject == "-" && x.actor == "-":
		return usageError{"only one of --subject-token and --actor-token can be read from standard input"}
	case x.actor == "" && set["actor-token-type"]:
		return usageError{"--actor-token-type is the type of --actor-token: give --actor-token too"}
	}
	if x.actor != "" && x.actorType == "" {
		x.actorType = "access_token"
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"subject-token-type", &x.subjectType}, {"actor-token-type", &x.actorType}, {"requested-token-type", &x.requestedType}} {
		urn, err := oauthclient.TokenTypeURN(*f.v)
		if err != nil {
			return usageError{fmt.Sprintf("--%s: %v", f.name, err)}
		}
		*f.v = urn
	}
	return nil
}

// tokenExchange runs the token exchange grant (RFC 8693) with the tokens
// the flags give, reading one of them from standard input when it is -.
func tokenExchange(ctx context.Context, c *oauthclient.Client, x exchangeFlags, stdin io.Reader) (oauthclient.Response, error) {
	for _, v := range []*string{&x.subject, &x.actor} {
		if *v != "-" {
			continue
		}
		tok, err := readTokenLine(stdin)
		if err != nil {
			return oauthclient.Response{}, err
		}
		*v = tok
	}
	return c.TokenExchange(ctx, oauthclient.Exchange{
		SubjectToken: x.subject, SubjectTokenType: x.subjectType,
		ActorToken: x.actor, ActorTokenType: x.actorType,
		RequestedTokenType: x.requestedType, Audience: x.audience,
	})
}

// readTokenLine reads one token from the first line of r.
func readTokenLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, 64<<10)).ReadString('\n')
	tok := strings.TrimSpace(line)
	if tok == "" {
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read the token from standard input: %w", err)
		}
		return "", errors.New("no token on standard input")
	}
	return tok, nil
}
