//go:build tools

package tools
import (
 _ "github.com/go-jose/go-jose/v4"
 _ "modernc.org/sqlite"
 _ "github.com/jackc/pgx/v5/pgxpool"
 _ "golang.org/x/crypto/argon2"
 _ "golang.org/x/crypto/bcrypt"
 _ "golang.org/x/crypto/hkdf"
 _ "go.yaml.in/yaml/v3"
 _ "github.com/prometheus/client_golang/prometheus"
 _ "golang.org/x/time/rate"
 _ "golang.org/x/oauth2"
 _ "github.com/coreos/go-oidc/v3/oidc"
 _ "github.com/chromedp/chromedp"
 _ "golang.org/x/sync/singleflight"
 _ "golang.org/x/term"
)
