package explorer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// maxScrapeBytes bounds one Prometheus response (a node's is about 20 KiB).
const maxScrapeBytes = 4 << 20

// errScrapeTooLarge: a metrics endpoint answered more than maxScrapeBytes.
var errScrapeTooLarge = errors.New("explorer: metrics response too large")

// metrics is what the explorer keeps of one scrape: the sum of every sample of a metric, by
// "name" and by "name{label=value}" for each of its labels; and histograms summed the same way.
type metrics struct {
	values map[string]float64
	hists  map[string]*histogram
}

// histogram is a cumulative Prometheus histogram: counts[i] observations at most bounds[i]
// (the last bound is +Inf), their sum and count.
type histogram struct {
	bounds []float64
	counts []float64
	sum    float64
	count  float64
}

func newMetrics() *metrics {
	return &metrics{values: map[string]float64{}, hists: map[string]*histogram{}}
}

// get returns the value of key ("name" or "name{label=value}") and whether it was present.
func (m *metrics) get(key string) (float64, bool) {
	if m == nil {
		return 0, false
	}
	v, ok := m.values[key]
	return v, ok
}

// keys returns key itself and key{label=value} for each label of a sample.
func sampleKeys(name string, labels []*dto.LabelPair) []string {
	keys := []string{name}
	for _, l := range labels {
		keys = append(keys, name+"{"+l.GetName()+"="+l.GetValue()+"}")
	}
	return keys
}

// add folds metric families into m. Values that are not finite are skipped.
func (m *metrics) add(families []*dto.MetricFamily) {
	for _, f := range families {
		name := f.GetName()
		for _, s := range f.GetMetric() {
			keys := sampleKeys(name, s.GetLabel())
			switch {
			case s.Counter != nil:
				m.addValue(keys, s.Counter.GetValue())
			case s.Gauge != nil:
				m.addValue(keys, s.Gauge.GetValue())
			case s.Untyped != nil:
				m.addValue(keys, s.Untyped.GetValue())
			case s.Histogram != nil:
				m.addHistogram(keys, s.Histogram)
			}
		}
	}
}

func (m *metrics) addValue(keys []string, v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	for _, k := range keys {
		m.values[k] += v
	}
}

func (m *metrics) addHistogram(keys []string, h *dto.Histogram) {
	bounds := make([]float64, 0, len(h.GetBucket())+1)
	counts := make([]float64, 0, len(h.GetBucket())+1)
	for _, b := range h.GetBucket() {
		ub, c := b.GetUpperBound(), float64(b.GetCumulativeCount())
		if math.IsNaN(ub) || (len(bounds) > 0 && ub <= bounds[len(bounds)-1]) {
			return // malformed: bounds must increase
		}
		if math.IsInf(ub, +1) {
			break
		}
		bounds, counts = append(bounds, ub), append(counts, c)
	}
	bounds, counts = append(bounds, math.Inf(+1)), append(counts, float64(h.GetSampleCount()))
	sum := h.GetSampleSum()
	if math.IsNaN(sum) || math.IsInf(sum, 0) {
		sum = 0
	}
	for _, k := range keys {
		old := m.hists[k]
		if old == nil {
			m.hists[k] = &histogram{bounds: bounds, counts: append([]float64(nil), counts...), sum: sum, count: float64(h.GetSampleCount())}
			continue
		}
		if !equalBounds(old.bounds, bounds) {
			continue // histograms with other buckets cannot be summed
		}
		for i := range counts {
			old.counts[i] += counts[i]
		}
		old.sum += sum
		old.count += float64(h.GetSampleCount())
	}
}

func equalBounds(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// parseMetrics decodes the Prometheus text exposition format (what every Floe process serves
// on /metrics). It reads at most maxScrapeBytes.
func parseMetrics(r io.Reader) (*metrics, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxScrapeBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxScrapeBytes {
		return nil, errScrapeTooLarge
	}
	fams, err := textToFamilies(b)
	if err != nil {
		return nil, fmt.Errorf("explorer: metrics: %w", err)
	}
	names := make([]string, 0, len(fams))
	for n := range fams {
		names = append(names, n)
	}
	sort.Strings(names)
	list := make([]*dto.MetricFamily, 0, len(fams))
	for _, n := range names {
		list = append(list, fams[n])
	}
	m := newMetrics()
	m.add(list)
	return m, nil
}

// errParserPanic: the text parser panicked on a response.
var errParserPanic = errors.New("explorer: unparseable metrics response")

// textToFamilies runs expfmt's text parser, which panics on some malformed input (prometheus/
// common v0.62: a line starting with "{" dereferences a nil metric family; found by
// FuzzParseMetrics): a panic becomes an error, so that a bad endpoint cannot stop the daemon.
func textToFamilies(b []byte) (fams map[string]*dto.MetricFamily, err error) {
	defer func() {
		if r := recover(); r != nil {
			fams, err = nil, fmt.Errorf("%w: %v", errParserPanic, r)
		}
	}()
	var p expfmt.TextParser
	return p.TextToMetricFamilies(bytes.NewReader(b))
}

// scrapeURL fetches and parses one metrics endpoint.
func scrapeURL(ctx context.Context, hc *http.Client, url string) (*metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	// Uncompressed: Go's transport asks for gzip unless told otherwise, and each node then
	// deflated its metrics every Interval (1% of a devnet node's CPU during a store, perf)
	// for a page of a few tens of KB.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, fmt.Errorf("explorer: GET %s: %s", url, resp.Status)
	}
	return parseMetrics(resp.Body)
}

// delta returns what a histogram counted between prev and cur (nil if it was reset or the
// buckets changed: the interval is then unknown).
func (h *histogram) delta(prev *histogram) *histogram {
	if h == nil {
		return nil
	}
	if prev == nil {
		return nil
	}
	if !equalBounds(h.bounds, prev.bounds) || h.count < prev.count {
		return nil
	}
	d := &histogram{bounds: h.bounds, counts: make([]float64, len(h.counts)), sum: h.sum - prev.sum, count: h.count - prev.count}
	for i := range h.counts {
		d.counts[i] = h.counts[i] - prev.counts[i]
		if d.counts[i] < 0 {
			return nil
		}
	}
	return d
}

// quantile estimates the q-quantile (0 < q < 1) of a histogram by linear interpolation in its
// bucket, as Prometheus's histogram_quantile does; NaN when it counted nothing. A quantile in
// the +Inf bucket is the largest finite bound.
func (h *histogram) quantile(q float64) float64 {
	if h == nil || h.count <= 0 || len(h.counts) == 0 {
		return math.NaN()
	}
	rank := q * h.count
	lower, below := 0.0, 0.0
	for i, c := range h.counts {
		if c >= rank {
			if math.IsInf(h.bounds[i], +1) {
				if i == 0 {
					return math.NaN()
				}
				return h.bounds[i-1]
			}
			in := c - below
			if in <= 0 {
				return h.bounds[i]
			}
			return lower + (h.bounds[i]-lower)*(rank-below)/in
		}
		lower, below = h.bounds[i], c
	}
	return h.bounds[len(h.bounds)-1]
}
