package oauthclient_test

// A token endpoint that drops the connection: the one case of RFC 8628
// §3.5 a running Latchkey does not produce, so a server of a few lines
// plays it.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/oauthclient"
)

func TestDeviceAccessTokenWithoutAnswerPollsLessOften(t *testing.T) {
	t.Parallel()
	var polls int
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"issuer":"` + srv.URL + `","token_endpoint":"` + srv.URL + `/token"}`))
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, _ *http.Request) {
		if polls++; polls <= 2 { // the first two get no answer at all
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"at","token_type":"Bearer","expires_in":60}`))
	})
	ctx := context.Background()
	c, err := oauthclient.New(ctx, oauthclient.Config{Issuer: srv.URL, ClientID: "tv"})
	if err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	var failed int
	da := oauthclient.DeviceAuthorization{DeviceCode: "dc", Interval: 5 * time.Second, ExpiresIn: time.Minute, Expiry: time.Now().Add(time.Minute)}
	resp, err := c.DeviceAccessToken(ctx, da, oauthclient.DevicePoll{
		Wait: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil },
		Progress: func(p oauthclient.PollProgress) {
			if p.Err != nil && p.Code == "" {
				failed++
			}
		},
	})
	if err != nil || resp.Token.AccessToken != "at" {
		t.Fatalf("DeviceAccessToken: %v, %+v; want the token of the third poll", err, resp)
	}
	// "clients MUST unilaterally reduce their polling frequency": doubled
	// after each request that got no answer (§3.5).
	if want := []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second}; !slices.Equal(waits, want) || failed != 2 {
		t.Errorf("waits %v with %d failures reported, want %v and 2", waits, failed, want)
	}
}
