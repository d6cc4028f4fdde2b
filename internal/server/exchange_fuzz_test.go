package server

import (
	"slices"
	"testing"

	"github.com/latchkey/latchkey/internal/protocol"
)

// FuzzParseExchange feeds arbitrary form bodies through the token
// endpoint's form rules into the token exchange parser (RFC 8693 §2.1):
// it never panics, fails only with the codes it documents, and what it
// accepts holds what the grant relies on: a subject token of a known type,
// an actor token exactly with its type, a requested type Latchkey issues,
// well-formed resources and no duplicates (A15).
func FuzzParseExchange(f *testing.F) {
	f.Add("subject_token=eyJ.a.b&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token")
	f.Add("subject_token=lk_rt_x&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Arefresh_token" +
		"&actor_token=a.b.c&actor_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt" +
		"&requested_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Arefresh_token" +
		"&resource=https%3A%2F%2Fa.example&resource=https%3A%2F%2Fa.example&audience=b&scope=x+y")
	f.Add("subject_token=x&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aid_token&resource=%2Frel")
	f.Add("subject_token=x&subject_token=y&subject_token_type=z")
	f.Add("subject_token=x&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt&scope=x+x&audience=a&audience=a")
	f.Add("actor_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt&scope=%22")
	f.Fuzz(func(t *testing.T, body string) {
		form, perr := protocol.ParseFormBody(body)
		if perr != nil {
			return // the token endpoint refuses it before any grant runs
		}
		x, err := parseExchange(form)
		if err != nil {
			switch err.Code {
			case protocol.ErrInvalidRequest, protocol.ErrInvalidTarget, protocol.ErrInvalidScope:
			default:
				t.Fatalf("parseExchange(%q) = %s, not a code it documents", body, err.Code)
			}
			return
		}
		switch {
		case x.subjectToken == "" || !subjectTypes[x.subjectType]:
			t.Fatalf("accepted %q without a subject token of a known type: %+v", body, x)
		case (x.actorToken == "") != (x.actorType == ""), x.actorType != "" && !subjectTypes[x.actorType]:
			t.Fatalf("accepted %q with an actor token and type that do not match: %+v", body, x)
		case x.requestedType != protocol.TokenTypeAccessToken && x.requestedType != protocol.TokenTypeRefreshToken:
			t.Fatalf("accepted %q asking for %q", body, x.requestedType)
		case len(x.resources) > maxTargets || len(x.audiences) > maxTargets:
			t.Fatalf("accepted %q with too many targets", body)
		}
		for _, r := range x.resources {
			if protocol.ResourceProblem(r) != "" {
				t.Fatalf("accepted a malformed resource %q", r)
			}
		}
		for _, list := range [][]string{x.resources, x.audiences, x.scopes} {
			for i, v := range list {
				if slices.Index(list, v) != i {
					t.Fatalf("accepted %q with %q twice in %v", body, v, list)
				}
			}
		}
	})
}
