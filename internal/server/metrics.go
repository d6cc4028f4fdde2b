package server

import (
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's Prometheus collectors, registered on the
// registry passed in (never the global one).
type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	issued   *prometheus.CounterVec
	errors   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latchkey_http_requests_total", Help: "HTTP requests by endpoint and status code.",
		}, []string{"endpoint", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "latchkey_http_request_duration_seconds",
			Help:    "HTTP request latency by endpoint.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"endpoint"}),
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latchkey_tokens_issued_total", Help: "Token responses by grant type.",
		}, []string{"grant_type"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latchkey_oauth_errors_total", Help: "OAuth error responses by endpoint and error code.",
		}, []string{"endpoint", "error"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.issued, m.errors} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("server: register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) observe(endpoint string, status int, errCode string, d time.Duration) {
	m.requests.WithLabelValues(endpoint, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(endpoint).Observe(d.Seconds())
	if errCode != "" {
		m.errors.WithLabelValues(endpoint, errCode).Inc()
	}
}
