package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"testing"

	"github.com/latchkey/latchkey/internal/protocol"
)

// TestClassifyClientGone: an error that is the request's own context
// being canceled (the client closed the connection mid-request) is a 499
// logged at info, not a 500 logged as an internal error; a canceled
// context that is not the request's is still a server error.
func TestClassifyClientGone(t *testing.T) {
	var logs bytes.Buffer
	s := &Server{log: slog.New(slog.NewJSONHandler(&logs, nil))}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	e := s.classify(ctx, fmt.Errorf("store: get client: %w", context.Canceled))
	if e.HTTPStatus() != statusClientClosed || e.Code == protocol.ErrServerError {
		t.Fatalf("client gone: %d %s, want 499 and not server_error", e.HTTPStatus(), e.Code)
	}
	if !bytes.Contains(logs.Bytes(), []byte(`"level":"INFO"`)) || bytes.Contains(logs.Bytes(), []byte("internal error")) {
		t.Fatalf("logged %s, want an info line", logs.Bytes())
	}
	logs.Reset()
	e = s.classify(t.Context(), errors.Join(errors.New("a worker's own context"), context.Canceled))
	if e.HTTPStatus() != http.StatusInternalServerError || !bytes.Contains(logs.Bytes(), []byte("internal error")) {
		t.Fatalf("live request: %d, logged %s; want 500 and an internal error", e.HTTPStatus(), logs.Bytes())
	}
}
