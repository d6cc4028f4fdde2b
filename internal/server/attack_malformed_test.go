package server_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
)

// malformedFixture is a server with a confidential client and a user, and
// the row counts taken before the attack.
type malformedFixture struct {
	*fixture
	secret string
	before map[string]int
}

func newMalformedFixture(t *testing.T) malformedFixture {
	f := newFixture(t, generous)
	secret := f.AddClient(t, store.Client{ID: "app", GrantTypes: []string{"password", "client_credentials", "refresh_token"},
		Scopes: []string{"read"}})
	f.AddUser(t, "alice", "wonderland", nil)
	return malformedFixture{fixture: f, secret: secret, before: f.countRows(t)}
}

// unchanged checks that no request of the attack left a row behind (A15).
func (f malformedFixture) unchanged(t *testing.T) {
	t.Helper()
	if after := f.countRows(t); !maps.Equal(f.before, after) {
		t.Errorf("rows changed: %v → %v (A15: no partial state)", f.before, after)
	}
}

// rawRequest writes head and then body (in pieces, from another goroutine,
// ignoring write errors once the server has answered) on a fresh TCP
// connection, and reads the response. It shows what the server answers
// when it stops reading early, which an http.Client may hide.
func rawRequest(t *testing.T, addr, head string, body io.Reader) result {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := io.WriteString(conn, head); err != nil {
			return
		}
		_, _ = io.Copy(conn, body)
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		conn.Close()
		<-done
		t.Fatalf("read response: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	conn.Close()
	<-done
	return result{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// TestA15TenMegabyteBody: a 10 MB body, announced or chunked, is refused
// with 413 in RFC JSON after at most 64 KiB were read (A15).
func TestA15TenMegabyteBody(t *testing.T) {
	f := newMalformedFixture(t)
	addr := strings.TrimPrefix(f.URL, "http://")
	const size = 10 << 20
	prefix := "grant_type=client_credentials&client_id=app&client_secret=" + url.QueryEscape(f.secret) + "&pad="
	body := func() io.Reader { return io.MultiReader(strings.NewReader(prefix), io.LimitReader(zeros{}, size)) }
	cases := map[string]string{
		"Content-Length": fmt.Sprintf("POST /token HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\n"+
			"Content-Length: %d\r\n\r\n", addr, len(prefix)+size),
	}
	for name, head := range cases {
		t.Run(name, func(t *testing.T) {
			wantOAuthError(t, rawRequest(t, addr, head, body()), http.StatusRequestEntityTooLarge, "invalid_request")
		})
	}
	t.Run("chunked", func(t *testing.T) {
		head := fmt.Sprintf("POST /token HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\n"+
			"Transfer-Encoding: chunked\r\n\r\n", addr)
		wantOAuthError(t, rawRequest(t, addr, head, chunked(body())), http.StatusRequestEntityTooLarge, "invalid_request")
	})
	f.unchanged(t)
}

// zeros is an endless stream of '0' bytes (a valid form value).
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '0'
	}
	return len(p), nil
}

// chunked encodes r with HTTP/1.1 chunked transfer coding.
func chunked(r io.Reader) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				if _, werr := fmt.Fprintf(pw, "%x\r\n%s\r\n", n, buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				_, _ = io.WriteString(pw, "0\r\n\r\n")
				pw.Close()
				return
			}
		}
	}()
	return pr
}

// TestA15HugeAuthorizationHeader: a 100 kB Authorization header sent to a
// server configured like `latchkey serve` (its MaxHeaderBytes) gets 431
// before any handler runs (A15).
func TestA15HugeAuthorizationHeader(t *testing.T) {
	f := newMalformedFixture(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: f.Server.Config.Handler, MaxHeaderBytes: serveMaxHeaderBytes(t)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	req, _ := http.NewRequest(http.MethodPost, "http://"+ln.Addr().String()+"/token",
		strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Basic "+strings.Repeat("A", 100_000))
	r := do(t, http.DefaultClient, req)
	if r.Status != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("status = %d, want 431", r.Status)
	}
	// Past a more lenient listener (httptest allows 1 MB of headers) the
	// handler itself refuses the credentials in RFC JSON.
	r = send(t, f.Env, http.MethodPost, "/token", "application/x-www-form-urlencoded", "grant_type=client_credentials",
		header("Authorization", "Basic "+strings.Repeat("A", 100_000)))
	wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
	f.unchanged(t)
}

// serveMaxHeaderBytes reads MaxHeaderBytes from cmd/latchkey/serve.go, so
// this test keeps measuring the server as it is really configured.
func serveMaxHeaderBytes(t *testing.T) int {
	t.Helper()
	src, err := os.ReadFile("../../cmd/latchkey/serve.go")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`MaxHeaderBytes:\s*(\d+)\s*<<\s*(\d+)`).FindSubmatch(src)
	if m == nil {
		t.Fatal("cmd/latchkey/serve.go sets no MaxHeaderBytes of the form N << M")
	}
	n, _ := strconv.Atoi(string(m[1]))
	shift, _ := strconv.Atoi(string(m[2]))
	return n << shift
}

// TestA15MalformedBodies sends malformed token requests; each gets a 4xx
// RFC JSON error, never a 500, and nothing is stored (A15).
func TestA15MalformedBodies(t *testing.T) {
	f := newMalformedFixture(t)
	const form = "application/x-www-form-urlencoded"
	valid := creds("app", f.secret, formOf("grant_type", "password", "username", "alice", "password", "wonderland")).Encode()
	var many strings.Builder
	for i := range 10_000 {
		fmt.Fprintf(&many, "%s=&", strconv.FormatInt(int64(i), 36))
	}
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	_, _ = io.Copy(zw, io.LimitReader(zeros{}, 10<<20))
	zw.Close()
	cases := []struct {
		name, ct, body string
		opts           []reqOpt
		status         int
		code           string
	}{
		{"10 000 extra parameters", form, many.String() + valid, nil, 400, "invalid_request"},
		{"invalid UTF-8 in a value", form, valid + "&scope=%ff%fe", nil, 400, "invalid_request"},
		{"invalid UTF-8 in a name", form, valid + "&%c3%28=x", nil, 400, "invalid_request"},
		{"invalid UTF-8 in the password", form, strings.Replace(valid, "wonderland", "wonder%80land", 1), nil, 400, "invalid_request"},
		{"raw invalid UTF-8 byte", form, valid + "&x=\xff", nil, 400, "invalid_request"},
		{"NUL byte in a value", form, valid + "&scope=read%00admin", nil, 400, "invalid_request"},
		{"NUL byte in the username", form, strings.Replace(valid, "alice", "alice%00", 1), nil, 400, "invalid_request"},
		{"bad percent escape", form, valid + "&x=%zz", nil, 400, "invalid_request"},
		{"semicolon separator", form, valid + ";scope=read", nil, 400, "invalid_request"},
		{"duplicate parameters", form, valid + "&username=bob", nil, 400, "invalid_request"},
		{"gzip bomb in Content-Encoding", form, bomb.String(), []reqOpt{header("Content-Encoding", "gzip")}, 415, "invalid_request"},
		{"wrong Content-Type", "multipart/form-data; boundary=x", valid, nil, 415, "invalid_request"},
		{"malformed Content-Type", "application/x-www-form-urlencoded; charset", valid, nil, 415, "invalid_request"},
		{"5 000 scopes", form, valid + "&scope=" + strings.Repeat("s ", 5000), nil, 400, "invalid_scope"},
		{"60 kB client_id", form, creds(strings.Repeat("c", 60_000), "x", formOf("grant_type", "client_credentials")).Encode(),
			nil, 401, "invalid_client"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantOAuthError(t, send(t, f.Env, http.MethodPost, "/token", tc.ct, tc.body, tc.opts...), tc.status, tc.code)
		})
	}
	f.unchanged(t)
	// The server is still healthy and serves the valid request.
	wantToken(t, send(t, f.Env, http.MethodPost, "/token", form, valid))
}

// TestA15UnknownParametersUpToTheLimit: many unknown parameters below the
// parser's 10 000 limit are ignored, as S007 says, and the request works.
func TestA15UnknownParametersUpToTheLimit(t *testing.T) {
	f := newMalformedFixture(t)
	var many strings.Builder
	for i := range 9_000 {
		fmt.Fprintf(&many, "u%s=1&", strconv.FormatInt(int64(i), 36))
	}
	body := many.String() + creds("app", f.secret, formOf("grant_type", "client_credentials")).Encode()
	wantToken(t, send(t, f.Env, http.MethodPost, "/token", "application/x-www-form-urlencoded", body))
}

// TestA15OtherEndpointsRefuseMalformedBodies: introspection and revocation
// share the parser and its limits (A15).
func TestA15OtherEndpointsRefuseMalformedBodies(t *testing.T) {
	f := newMalformedFixture(t)
	for _, path := range []string{"/introspect", "/revoke"} {
		for name, tc := range map[string]struct {
			method, ct, body string
			status           int
		}{
			"GET":       {http.MethodGet, "", "", 405},
			"JSON":      {http.MethodPost, "application/json", `{"token":"x"}`, 415},
			"too large": {http.MethodPost, "application/x-www-form-urlencoded", "token=" + strings.Repeat("x", 70_000), 413},
			"repeated":  {http.MethodPost, "application/x-www-form-urlencoded", "token=a&token=b", 400},
			"NUL":       {http.MethodPost, "application/x-www-form-urlencoded", "token=a%00", 400},
		} {
			t.Run(path+" "+name, func(t *testing.T) {
				r := send(t, f.Env, tc.method, path, tc.ct, tc.body, basic("app", f.secret))
				wantOAuthError(t, r, tc.status, "invalid_request")
			})
		}
	}
	f.unchanged(t)
}

// TestA15ThrottleKeysBounded: failure counters are keyed by attacker
// chosen usernames and client ids; a 60 kB one must not make a 60 kB
// counter, in the store or in memory, so that many addresses cannot fill
// either with huge keys (A15: memory bounded).
func TestA15ThrottleKeysBounded(t *testing.T) {
	f := newFixture(t, func(c *server.Config) {
		c.Limits.PerUsername, c.Limits.PerClient, c.Limits.PerIP = 3, 1000, 1000
		c.Limits.BaseDelay = time.Minute
	})
	secret := f.AddClient(t, store.Client{ID: "app", GrantTypes: []string{"password"}})
	long := "u" + strings.Repeat("é", 5_000) // a cut at a byte count would split a character
	wantOAuthError(t, post(t, f.Env, "/token", formOf("grant_type", "password", "username", long, "password", "x"),
		basic("app", secret)), http.StatusBadRequest, "invalid_grant")
	keys := f.queryStrings(t, "SELECT key FROM throttles")
	if len(keys) == 0 {
		t.Fatal("no counter was stored")
	}
	for _, k := range keys {
		if len(k) > 256 || !utf8.ValidString(k) {
			t.Errorf("counter key of %d bytes (valid UTF-8: %v), want at most 256 bytes of text", len(k), utf8.ValidString(k))
		}
	}
	// The counter still works: the same long name is throttled after the
	// limit, a different long name is not.
	for range f.Config.Limits.PerUsername - 1 {
		post(t, f.Env, "/token", formOf("grant_type", "password", "username", long, "password", "x"), basic("app", secret))
	}
	if r := post(t, f.Env, "/token", formOf("grant_type", "password", "username", long, "password", "x"), basic("app", secret)); r.Header.Get("Retry-After") == "" {
		t.Error("a long username escaped its counter")
	}
	other := long[:len(long)-2] + "è"
	if r := post(t, f.Env, "/token", formOf("grant_type", "password", "username", other, "password", "x"), basic("app", secret)); r.Header.Get("Retry-After") != "" {
		t.Error("two long usernames that differ at the end share a counter")
	}
}
