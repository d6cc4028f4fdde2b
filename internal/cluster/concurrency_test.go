package cluster

import (
	"context"
	"testing"

	"github.com/latchkey/latchkey/internal/testkit"
)

// rounds is how often each race is run.
const rounds = 20

// TestSingleUseAcrossInstances sends the same code, and the same refresh
// token, to two instances at the same moment, again and again: exactly
// one of the two wins each time, whichever process it reached. With a
// refresh grace window both win and get the same successor.
func TestSingleUseAcrossInstances(t *testing.T) {
	c := startCluster(t, 2, true)
	a, b := c.ins[0].url, c.ins[1].url
	ctx := context.Background()
	hc := newHTTPClient(nil)

	t.Run("a code sent to two instances at once is redeemed once", func(t *testing.T) {
		br := newBrowser(nil, c.lb.url)
		wins := [2]int{}
		for i := range rounds {
			g, err := br.authorize(ctx, via(a), "alice", alicePass) // the first round logs in and consents
			if err != nil {
				t.Fatal(err)
			}
			res, errs := atOnce(
				func() (tokenResult, error) { return redeem(ctx, hc, a, g) },
				func() (tokenResult, error) { return redeem(ctx, hc, b, g) },
			)
			w := winner(res, errs)
			if w < 0 {
				t.Errorf("round %d: the same code on both instances answered %v %v, want one 200 and one invalid_grant", i+1, res, errs)
				continue
			}
			wins[w]++
			// The second redemption revoked what the first got (S019).
			wantRevoked(t, c.ins[1-w], web, res[w])
		}
		t.Logf("the same code on two instances at once, %d times: instance 1 won %d, instance 2 won %d", rounds, wins[0], wins[1])
	})

	t.Run("a refresh token sent to two instances at once is used once", func(t *testing.T) {
		wins := [2]int{}
		for i := range rounds {
			tok, err := passwordGrant(ctx, hc, a, app, "alice", alicePass)
			mustOK(t, "password grant", tok, err)
			res, errs := atOnce(
				func() (tokenResult, error) { return refresh(ctx, hc, a, app, tok.RefreshToken) },
				func() (tokenResult, error) { return refresh(ctx, hc, b, app, tok.RefreshToken) },
			)
			w := winner(res, errs)
			if w < 0 {
				t.Errorf("round %d: the same refresh token on both instances answered %v %v, want one 200 and one invalid_grant", i+1, res, errs)
				continue
			}
			wins[w]++
			// The reuse revoked the family, the winner's new tokens too.
			wantRevoked(t, c.ins[1-w], app, res[w])
		}
		t.Logf("the same refresh token on two instances at once, %d times: instance 1 won %d, instance 2 won %d", rounds, wins[0], wins[1])
	})

	t.Run("within refresh_grace both get the same successor", func(t *testing.T) {
		for i := range rounds {
			tok, err := passwordGrant(ctx, hc, a, grace, "alice", alicePass)
			mustOK(t, "password grant", tok, err)
			res, errs := atOnce(
				func() (tokenResult, error) { return refresh(ctx, hc, a, grace, tok.RefreshToken) },
				func() (tokenResult, error) { return refresh(ctx, hc, b, grace, tok.RefreshToken) },
			)
			if errs[0] != nil || errs[1] != nil || !res[0].ok() || !res[1].ok() {
				t.Fatalf("round %d: the same refresh token within the grace window: %v %v, want two 200s", i+1, res, errs)
			}
			if res[0].RefreshToken != res[1].RefreshToken {
				t.Errorf("round %d: the two instances handed out different successors", i+1)
			}
			next, err := refresh(ctx, hc, b, grace, res[0].RefreshToken)
			mustOK(t, "refresh with the shared successor", next, err)
		}
	})
}

// wantRevoked checks on in that the tokens of r were revoked: the access
// token is inactive and the refresh token refused.
func wantRevoked(t *testing.T, in *instance, c client, r tokenResult) {
	t.Helper()
	wantActive(t, in, r.AccessToken, false)
	if got, err := refresh(context.Background(), newHTTPClient(nil), in.url, c, r.RefreshToken); err != nil || !got.invalidGrant() {
		t.Errorf("the winner's refresh token after the race, on %s: %v %s, want invalid_grant", in.name, err, got)
	}
}

// atOnce runs the calls at the same moment (testkit.AtOnce) and returns
// their answers and errors by index.
func atOnce(calls ...func() (tokenResult, error)) ([]tokenResult, []error) {
	type answer struct {
		r   tokenResult
		err error
	}
	got := testkit.AtOnce(len(calls), func(i int) answer {
		r, err := calls[i]()
		return answer{r, err}
	})
	res := make([]tokenResult, len(got))
	errs := make([]error, len(got))
	for i, a := range got {
		res[i], errs[i] = a.r, a.err
	}
	return res, errs
}

// winner returns the index of the one answer that is 200 when the other
// is invalid_grant, or -1.
func winner(res []tokenResult, errs []error) int {
	switch {
	case errs[0] != nil || errs[1] != nil:
		return -1
	case res[0].ok() && res[1].invalidGrant():
		return 0
	case res[1].ok() && res[0].invalidGrant():
		return 1
	}
	return -1
}
