package explorer

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/blob"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/*
var staticFS embed.FS

// pages holds one template set per page, each the layout with the page's content.
type pages struct {
	prefix string
	sets   map[string]*template.Template
}

var pageNames = []string{"overview", "blob", "object", "owner", "node", "message"}

func newPages(prefix string) (*pages, error) {
	p := &pages{prefix: prefix, sets: map[string]*template.Template{}}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("explorer: template %s: %w", name, err)
		}
		p.sets[name] = t
	}
	return p, nil
}

// page is what every template gets.
type page struct {
	Prefix string
	Title  string
	// Refresh, if positive, is how often (ms) the script reloads the live sections.
	Refresh int
	Now     time.Time
	Snap    *Snapshot
	Charts  []chart
	// Query is the search box's value.
	Query string
	// Data is the page's own content.
	Data any
	// Message and Error are for the message page.
	Message string
	Error   string
}

// render executes a page into w (buffered, so a failure sends no half page).
func (p *pages) render(w io.Writer, name string, data *page) error {
	t := p.sets[name]
	if t == nil {
		return fmt.Errorf("explorer: no page %q", name)
	}
	data.Prefix = p.prefix
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return fmt.Errorf("explorer: rendering %s: %w", name, err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

var funcs = template.FuncMap{
	"bytes":     fmtBytes,
	"tokens":    fmtTokens,
	"ranges":    shardRanges,
	"dur":       fmtDuration,
	"pct":       func(f float64) string { return strconv.FormatFloat(100*f, 'f', 0, 64) + "%" },
	"pctNum":    func(f float64) string { return strconv.FormatFloat(math.Max(0, math.Min(100, 100*f)), 'f', 1, 64) },
	"ratio":     ratio,
	"short":     shortID,
	"ms":        func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) + " ms" },
	"value":     fmtValue,
	"when":      fmtWhen,
	"until":     func(t, now time.Time) string { return fmtDuration(t.Sub(now)) },
	"since":     func(t, now time.Time) string { return fmtDuration(now.Sub(t)) },
	"plus":      func(a, b int) int { return a + b },
	"eventLink": eventLink,
	"upCount": func(nodes []Node) int {
		n := 0
		for _, x := range nodes {
			if x.Up {
				n++
			}
		}
		return n
	},
	"committee": func(nodes []Node) int {
		n := 0
		for _, x := range nodes {
			if x.InCommittee {
				n++
			}
		}
		return n
	},
	"blobRows": func(prefix string, blobs []cpapi.Blob) blobRows { return blobRows{Prefix: prefix, Blobs: blobs} },
	"one":      func(b *cpapi.Blob) []cpapi.Blob { return []cpapi.Blob{*b} },
	"expiry": func(end, epoch uint32, snap *Snapshot) string {
		if end <= epoch {
			return "epoch " + strconv.FormatUint(uint64(end), 10) + " (past)"
		}
		if snap == nil || snap.Chain == nil {
			return "epoch " + strconv.FormatUint(uint64(end), 10)
		}
		c := snap.Chain
		// The blob lives until the start of epoch end: the rest of this epoch, then whole ones.
		at := c.NextEpoch.Add(time.Duration(end-epoch-1) * c.EpochDuration)
		return "epoch " + strconv.FormatUint(uint64(end), 10) + " (about " + at.UTC().Format("2006-01-02 15:04 UTC") + ")"
	},
	"sortedAttrs": func(m map[string]string) [][2]string {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([][2]string, len(keys))
		for i, k := range keys {
			out[i] = [2]string{k, m[k]}
		}
		return out
	},
	"challengeClass": func(status string) string {
		switch cpapi.ChallengeStatus(status) {
		case cpapi.ChallengePassed:
			return "up"
		case cpapi.ChallengeFailed, cpapi.ChallengeMissed:
			return "down"
		}
		return "warn"
	},
	"statusClass": func(n Node) string {
		switch {
		case !n.Up:
			return "down"
		case n.Status == "Active":
			return "up"
		default:
			return "warn"
		}
	},
}

// fmtBytes prints a byte count in binary units; it takes integers and Values.
func fmtBytes(v any) string {
	var f float64
	switch x := v.(type) {
	case uint64:
		f = float64(x)
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case float64:
		f = x
	case Value:
		if !x.Known() {
			return "unknown"
		}
		f = float64(x)
	default:
		return fmt.Sprint(v)
	}
	if f < 1024 {
		return strconv.FormatFloat(f, 'f', 0, 64) + " B"
	}
	units := "KMGTPE"
	i := -1
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + units[i:i+1] + "iB"
}

// fmtTokens prints base units as FLOE (10^9 units each).
func fmtTokens(units uint64) string {
	whole, frac := units/1_000_000_000, units%1_000_000_000
	s := strings.TrimRight(fmt.Sprintf("%d.%09d", whole, frac), "0")
	return strings.TrimSuffix(s, ".") + " FLOE"
}

// fmtValue prints a measured value with a unit ("", "B", "B/s", "/s", "s").
func fmtValue(v Value, unit string) string {
	if !v.Known() {
		return "unknown"
	}
	f := float64(v)
	switch unit {
	case "B":
		return fmtBytes(f)
	case "B/s":
		return fmtBytes(f) + "/s"
	case "s":
		if f < 1 {
			return strconv.FormatFloat(f*1000, 'f', 1, 64) + " ms"
		}
		return strconv.FormatFloat(f, 'f', 2, 64) + " s"
	case "/s":
		return strconv.FormatFloat(f, 'f', 2, 64) + "/s"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

func fmtDuration(d time.Duration) string {
	neg := d < 0
	if neg {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		s = strconv.Itoa(int(d.Seconds())) + "s"
	case d < time.Hour:
		s = fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		s = fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		s = fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
	}
	if neg {
		return "-" + s
	}
	return s
}

func fmtWhen(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func ratio(a, b any) float64 {
	fa, fb := toFloat(a), toFloat(b)
	if fb <= 0 {
		return 0
	}
	return fa / fb
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case int:
		return float64(x)
	case uint64:
		return float64(x)
	case uint32:
		return float64(x)
	case float64:
		return x
	}
	return 0
}

// shortID abbreviates a long identifier for tables (the full one goes in a title).
func shortID(s string) string {
	if len(s) <= 18 {
		return s
	}
	return s[:10] + "…" + s[len(s)-6:]
}

// shardRanges prints shard indices as ranges: "0-99, 200, 300-309".
func shardRanges(shards []uint16) string {
	if len(shards) == 0 {
		return "none"
	}
	s := append([]uint16(nil), shards...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	var b strings.Builder
	for i := 0; i < len(s); {
		j := i
		for j+1 < len(s) && s[j+1] == s[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		if i == j {
			fmt.Fprintf(&b, "%d", s[i])
		} else {
			fmt.Fprintf(&b, "%d-%d", s[i], s[j])
		}
		i = j + 1
	}
	return b.String()
}

// blobRows is the data of the blob table.
type blobRows struct {
	Prefix string
	Blobs  []cpapi.Blob
}

// eventLink is the explorer path an event's row links to and the identifier shown (nil for
// none).
func eventLink(e Event) []string {
	switch {
	case e.BlobID != blob.ID{}:
		return []string{"/blob/" + e.BlobID.String(), e.BlobID.String()}
	case e.ObjectID != cpapi.ObjectID{}:
		return []string{"/object/" + e.ObjectID.String(), e.ObjectID.String()}
	case e.NodeID != cpapi.ObjectID{}:
		return []string{"/node/" + e.NodeID.String(), e.NodeID.String()}
	}
	return nil
}

// Chart geometry (the SVG viewBox).
const (
	chartW, chartH             = 640.0, 170.0
	plotL, plotR, plotT, plotB = 64.0, 632.0, 10.0, 146.0
)

// chart is an SVG line chart computed on the server.
type chart struct {
	ID, Title, Unit string
	Series          []chartSeries
	YLabels         []axisLabel
	XLabels         []axisLabel
	Empty           bool
	// Note explains where the numbers come from.
	Note string
}

type chartSeries struct {
	Name, Class string
	// Lines are SVG polyline point lists; a gap (unknown values) starts a new one.
	Lines []string
	Last  string
}

type axisLabel struct {
	X, Y float64
	Text string
}

// series picks one value of a point.
type series struct {
	name, class string
	get         func(Point) Value
}

// buildChart lays out the series over the points.
func buildChart(id, title, unit, note string, pts []Point, ss []series) chart {
	c := chart{ID: id, Title: title, Unit: unit, Note: note}
	maxV := 0.0
	known := false
	for _, s := range ss {
		for _, p := range pts {
			if v := s.get(p); v.Known() {
				known = true
				maxV = math.Max(maxV, float64(v))
			}
		}
	}
	if !known || len(pts) == 0 {
		c.Empty = true
		return c
	}
	top := niceCeil(maxV)
	t0, t1 := pts[0].T, pts[len(pts)-1].T
	span := t1.Sub(t0).Seconds()
	x := func(t time.Time) float64 {
		if span <= 0 {
			return plotR
		}
		return plotL + (plotR-plotL)*t.Sub(t0).Seconds()/span
	}
	y := func(v float64) float64 { return plotB - (plotB-plotT)*v/top }
	for _, s := range ss {
		cs := chartSeries{Name: s.name, Class: s.class, Last: "unknown"}
		var cur []string
		flush := func() {
			if len(cur) == 1 {
				cur = append(cur, cur[0]) // a lone point draws as a dot
			}
			if len(cur) > 0 {
				cs.Lines = append(cs.Lines, strings.Join(cur, " "))
			}
			cur = nil
		}
		for _, p := range pts {
			v := s.get(p)
			if !v.Known() {
				flush()
				continue
			}
			cur = append(cur, strconv.FormatFloat(x(p.T), 'f', 1, 64)+","+strconv.FormatFloat(y(float64(v)), 'f', 1, 64))
			cs.Last = fmtValue(v, unit)
		}
		flush()
		c.Series = append(c.Series, cs)
	}
	for _, f := range []float64{0, 0.5, 1} {
		c.YLabels = append(c.YLabels, axisLabel{X: plotL - 6, Y: y(top*f) + 4, Text: fmtValue(Value(top*f), unit)})
	}
	c.XLabels = []axisLabel{{X: plotL, Y: chartH - 6, Text: "-" + fmtDuration(t1.Sub(t0))}, {X: plotR, Y: chartH - 6, Text: "now"}}
	return c
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten (1 for v <= 0).
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// charts are the overview's charts of the history.
func charts(pts []Point) []chart {
	return []chart{
		buildChart("stored", "Stored bytes", "B", "disk used by the nodes' stores (floe_node_disk_bytes); storage reserved on the control plane this epoch (encoded)", pts, []series{
			{"on disk", "s0", func(p Point) Value { return p.StoredBytes }},
			{"reserved", "s1", func(p Point) Value { return p.ReservedBytes }},
		}),
		buildChart("rate", "Stores and reads", "/s", "requests per second through this daemon (floe_daemon_requests_total)", pts, []series{
			{"stores", "s0", func(p Point) Value { return p.StoreRate }},
			{"reads", "s1", func(p Point) Value { return p.ReadRate }},
		}),
		buildChart("traffic", "Node traffic", "B/s", "sliver bytes the nodes received and sent (floe_node_http_body_bytes_total)", pts, []series{
			{"into nodes", "s0", func(p Point) Value { return p.NodeInRate }},
			{"out of nodes", "s1", func(p Point) Value { return p.NodeOutRate }},
		}),
		buildChart("latency", "Latency", "s", "store and read latency through this daemon (floe_daemon_request_seconds), and the median node health round trip", pts, []series{
			{"store p50", "s0", func(p Point) Value { return p.StoreP50 }},
			{"store p99", "s2", func(p Point) Value { return p.StoreP99 }},
			{"read p50", "s1", func(p Point) Value { return p.ReadP50 }},
			{"read p99", "s3", func(p Point) Value { return p.ReadP99 }},
			{"node RTT", "s4", func(p Point) Value { return p.NodeRTT }},
		}),
	}
}
