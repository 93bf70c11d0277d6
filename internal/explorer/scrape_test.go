package explorer

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const sampleMetrics = `# HELP floe_node_http_body_bytes_total Request and response body bytes by direction.
# TYPE floe_node_http_body_bytes_total counter
floe_node_http_body_bytes_total{direction="in"} 1000
floe_node_http_body_bytes_total{direction="out"} 250
# TYPE floe_node_disk_bytes gauge
floe_node_disk_bytes 4096
# TYPE floe_daemon_requests_total counter
floe_daemon_requests_total{code="200",route="store"} 3
floe_daemon_requests_total{code="504",route="store"} 1
floe_daemon_requests_total{code="200",route="read"} 10
# TYPE floe_daemon_request_seconds histogram
floe_daemon_request_seconds_bucket{route="read",le="0.1"} 6
floe_daemon_request_seconds_bucket{route="read",le="1"} 9
floe_daemon_request_seconds_bucket{route="read",le="+Inf"} 10
floe_daemon_request_seconds_sum{route="read"} 4.5
floe_daemon_request_seconds_count{route="read"} 10
`

func TestParseMetrics(t *testing.T) {
	m, err := parseMetrics(strings.NewReader(sampleMetrics))
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]float64{
		"floe_node_http_body_bytes_total":               1250,
		"floe_node_http_body_bytes_total{direction=in}": 1000,
		"floe_node_disk_bytes":                          4096,
		"floe_daemon_requests_total{route=store}":       4,
		"floe_daemon_requests_total{code=200}":          13,
		"floe_daemon_requests_total":                    14,
	} {
		if got, ok := m.get(key); !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", key, got, ok, want)
		}
	}
	if _, ok := m.get("floe_nothing"); ok {
		t.Error("an absent metric is present")
	}
	h := m.hists["floe_daemon_request_seconds{route=read}"]
	if h == nil || h.count != 10 || len(h.bounds) != 3 || !math.IsInf(h.bounds[2], 1) {
		t.Fatalf("histogram: %+v", h)
	}
	// Six of ten took at most 0.1 s: rank 5 is 5/6 of the way through the first bucket, rank
	// 8 two thirds of the way through the second (three observations in (0.1, 1]).
	if q := h.quantile(0.5); math.Abs(q-0.1*5/6) > 1e-9 {
		t.Errorf("p50 = %v", q)
	}
	if q := h.quantile(0.8); math.Abs(q-(0.1+0.9*(8-6)/3.0)) > 1e-9 {
		t.Errorf("p80 = %v", q)
	}
	// The 99th percentile is in the +Inf bucket: the largest finite bound.
	if q := h.quantile(0.99); q != 1 {
		t.Errorf("p99 = %v", q)
	}
}

func TestHistogramDelta(t *testing.T) {
	prev := &histogram{bounds: []float64{1, math.Inf(1)}, counts: []float64{2, 3}, sum: 2, count: 3}
	cur := &histogram{bounds: []float64{1, math.Inf(1)}, counts: []float64{5, 7}, sum: 9, count: 7}
	d := cur.delta(prev)
	if d == nil || d.count != 4 || d.counts[0] != 3 || d.counts[1] != 4 {
		t.Fatalf("delta %+v", d)
	}
	// A restarted process counts from zero: the interval is unknown.
	if cur.delta(&histogram{bounds: prev.bounds, counts: []float64{9, 9}, count: 9}) != nil {
		t.Error("a reset histogram gave a delta")
	}
	if !math.IsNaN((&histogram{bounds: prev.bounds, counts: []float64{0, 0}}).quantile(0.5)) {
		t.Error("an empty histogram has a quantile")
	}
}

func TestRate(t *testing.T) {
	if r := rate(30, 10, true, true, 4*time.Second); float64(r) != 5 {
		t.Errorf("rate = %v", r)
	}
	// A counter that went down restarted: its value is what it counted since.
	if r := rate(8, 100, true, true, 2*time.Second); float64(r) != 4 {
		t.Errorf("rate after a restart = %v", r)
	}
	if rate(1, 0, false, true, time.Second).Known() || rate(1, 0, true, true, 0).Known() {
		t.Error("a rate without both values is known")
	}
}

func TestParseMetricsRejects(t *testing.T) {
	for _, in := range []string{"floe_x{", "floe_x 1 2 3 4", "# TYPE x counter\nx -\n"} {
		if _, err := parseMetrics(strings.NewReader(in)); err == nil {
			t.Errorf("%q parsed", in)
		}
	}
	big := strings.Repeat("# padding\n", maxScrapeBytes/10+1)
	if _, err := parseMetrics(strings.NewReader(big)); err != errScrapeTooLarge {
		t.Errorf("oversized response: %v", err)
	}
}

// FuzzParseMetrics feeds arbitrary bytes to the parser of metrics responses (a node's metrics
// endpoint is not trusted): it must not panic, and what it returns must be usable.
func FuzzParseMetrics(f *testing.F) {
	f.Add(sampleMetrics)
	f.Add("")
	f.Add("# TYPE h histogram\nh_bucket{le=\"1\"} 5\nh_bucket{le=\"0.5\"} 9\nh_bucket{le=\"+Inf\"} 3\nh_count 3\nh_sum NaN\n")
	f.Add("x{a=\"b\"} +Inf\ny NaN\n")
	f.Add("# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 2\ns_count 3\n")
	f.Fuzz(func(t *testing.T, in string) {
		m, err := parseMetrics(strings.NewReader(in))
		if err != nil {
			return
		}
		for k, v := range m.values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Errorf("%s holds %v", k, v)
			}
		}
		for _, h := range m.hists {
			for _, q := range []float64{0.5, 0.99} {
				h.quantile(q)
			}
			h.delta(h)
		}
	})
}

// TestScrapeUncompressed: a scrape asks for the metrics page uncompressed (a node would
// otherwise deflate it at every scrape) and reads it.
func TestScrapeUncompressed(t *testing.T) {
	var enc atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		enc.Store(r.Header.Get("Accept-Encoding"))
		io.WriteString(w, "# TYPE up gauge\nup 1\n")
	}))
	defer srv.Close()
	m, err := scrapeURL(context.Background(), srv.Client(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if got := enc.Load(); got != "identity" {
		t.Fatalf("Accept-Encoding %q, want identity", got)
	}
	if m == nil {
		t.Fatal("no metrics read")
	}
}
