package oauthclient

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/config"
)

// The client secret never shows when a Config or a Client is printed or
// logged (STYLE §7).
func TestClientSecretNeverShown(t *testing.T) {
	const leak = "lk_cs_the-secret-itself"
	cfg := Config{Issuer: "https://login.example", ClientID: "reports", ClientSecret: config.Secret(leak)}
	for name, v := range map[string]any{"Config": cfg, "*Config": &cfg, "*Client": &Client{cfg: cfg}} {
		var shown []string
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			shown = append(shown, fmt.Sprintf(verb, v))
		}
		var text, js bytes.Buffer
		slog.New(slog.NewTextHandler(&text, nil)).Info("client", "v", v)
		slog.New(slog.NewJSONHandler(&js, nil)).Info("client", "v", v)
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		shown = append(shown, text.String(), js.String(), string(b))
		for _, s := range shown {
			if strings.Contains(s, leak) {
				t.Errorf("%s: the secret shows: %s", name, s)
			}
		}
	}
	if got := fmt.Sprint(&Client{cfg: cfg}); !strings.Contains(got, "reports") {
		t.Errorf("the client id should still show: %s", got)
	}
}
