package server

import (
	"context"
	"net/http"

	"github.com/latchkey/latchkey/internal/audit"
)

// emit hands e to the audit recorder, filling in the time and, when r is
// not nil, the client's address. It never blocks the request for long and
// never fails it (audit.Recorder's contract).
func (s *Server) emit(ctx context.Context, r *http.Request, e audit.Event) {
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	if r != nil && e.IP == "" {
		if ip := s.clientIP(r); ip.IsValid() {
			e.IP = ip.String()
		}
	}
	s.cfg.Audit.Record(ctx, e)
}
