package storagenode

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// httpMetrics are the HTTP API's metrics (the engine registers its own).
type httpMetrics struct {
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	bodyBytes *prometheus.CounterVec
	// bodies and bodyRoom: the request bodies being read under the node-wide bound, and the
	// bytes of the bound they hold (body.go).
	bodies   prometheus.Gauge
	bodyRoom prometheus.Gauge
}

func newHTTPMetrics(reg *prometheus.Registry) (*httpMetrics, error) {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "floe_node_http_requests_total", Help: "HTTP requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "floe_node_http_request_duration_seconds", Help: "HTTP request durations by route.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
		}, []string{"route", "method"}),
		bodyBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "floe_node_http_body_bytes_total", Help: "Request and response body bytes by direction.",
		}, []string{"direction"}),
		bodies: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "floe_node_http_bodies_reading", Help: "Request bodies being read (uploads and proofs).",
		}),
		bodyRoom: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "floe_node_http_body_room_bytes", Help: "Bytes of the bound on request bodies being read (MaxUploadBytes) that they hold.",
		}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.bodyBytes, m.bodies, m.bodyRoom} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("storagenode: metrics: %w", err)
		}
	}
	return m, nil
}
