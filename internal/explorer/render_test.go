package explorer

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	snapi "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/blob"
)

// hostile is what a node operator or a blob's owner may put in a name, an attribute or an
// address the explorer shows.
const hostile = `"><script>alert(1)</script><img src=x onerror=alert(2)>`

func hostileSnapshot(now time.Time) *Snapshot {
	nan := Unknown()
	return &Snapshot{
		At: now,
		Chain: &Chain{URL: "http://cp/" + hostile, ChainID: hostile, Epoch: 3, EpochStart: now.Add(-time.Minute), NextEpoch: now.Add(time.Minute),
			EpochDuration: 2 * time.Minute, EpochProgress: 0.5, NShards: 10, Capacity: 1 << 40, Used: 1 << 30, TotalStake: 100,
			CostExample: &cpapi.Cost{Total: 75, EncodedLength: 1 << 22}},
		Nodes: []Node{
			{ID: "0x01", Name: hostile, Address: hostile, InCommittee: true, Stake: 60, StakeShare: 0.6, Shards: []uint16{0, 1, 2, 3, 4, 5},
				Up: true, Status: "Active", ShardStatus: snapi.ShardStatusSummary{Ready: 5, InRecovery: 1},
				ShardDetail: []snapi.ShardStatus{{Shard: 0, Status: hostile}}, DiskBytes: 1 << 20, RecoveryQueue: 2, RecoveredSlivers: 7},
			{ID: "0x02", Name: "node-down", Address: "127.0.0.1:1", InCommittee: true, Stake: 40, Shards: []uint16{6, 7, 8, 9},
				Status: "down", Error: hostile, DiskBytes: nan, RecoveryQueue: nan, RecoveredSlivers: nan, MetricsError: hostile},
		},
		Recovery: Recovery{ShardsInRecovery: 1, CatchingUp: []string{hostile}, BlobsQueued: 2, SliversRecovered: 7, NodesReporting: 1},
		Targets:  []TargetStatus{{Target: Target{Name: hostile, URL: "http://x/" + hostile}, Error: hostile}},
		Events:   []Event{{Seq: 9, Type: cpapi.EventType(hostile), BlobID: blob.ID{1}, Size: 5}},
		Last:     nanPoint(now),
	}
}

// Every page escapes what the network says: names, addresses, errors, attributes, event
// types. Nothing of the hostile string reaches the HTML as markup.
func TestPagesEscape(t *testing.T) {
	pg, err := newPages("/explorer")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	snap := hostileSnapshot(now)
	pts := []Point{nanPoint(now.Add(-time.Minute)), nanPoint(now)}
	pts[1].StoredBytes = 5
	b := cpapi.Blob{ID: cpapi.ObjectID{7}, BlobID: blob.ID{1}, Size: 10, Certified: true, Attributes: map[string]string{hostile: hostile},
		Storage: cpapi.Storage{Start: 1, End: 9}}
	views := map[string]any{
		"overview": nil,
		"blob": &BlobView{BlobID: blob.ID{1}.String(), Epoch: 3, Status: &cpapi.BlobStatus{Status: cpapi.StatusPermanent, EndEpoch: 9, IsCertified: true},
			Objects: []cpapi.Blob{b}, Shards: &ShardScan{NShards: 10, Readable: 6, Need: 4, PerNode: []NodeShards{{Name: hostile, Error: hostile}}}},
		"object":  &ObjectView{ID: "0x07", ObjectResponse: cpapi.ObjectResponse{Blob: &b}},
		"owner":   &OwnerView{Address: "0x08", Account: &cpapi.Account{Balance: 5}, Owned: &cpapi.Owned{Blobs: []cpapi.Blob{b}}},
		"node":    &NodeView{Node: snap.Nodes[0], Record: &cpapi.Node{Name: hostile}},
		"message": nil,
	}
	for name, data := range views {
		var out bytes.Buffer
		p := &page{Title: hostile, Now: now, Snap: snap, Charts: charts(pts), Query: hostile, Data: data, Error: hostile, Refresh: 5000}
		if err := pg.render(&out, name, p); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		html := out.String()
		for _, bad := range []string{hostile, "<script>alert", "<img src=x"} {
			if strings.Contains(html, bad) {
				t.Errorf("%s page holds %q unescaped", name, bad)
			}
		}
		if !strings.Contains(html, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("%s page does not show the hostile text escaped", name)
		}
		if strings.Count(html, "<script") != 1 || !strings.Contains(html, `<script src="/explorer/static/explorer.js" defer></script>`) {
			t.Errorf("%s page: the only script must be the explorer's own", name)
		}
		if strings.Contains(html, "style=") || strings.Contains(html, "<style") {
			t.Errorf("%s page has inline style (the CSP forbids it)", name)
		}
	}
}

// The charts leave gaps where a value is unknown, and scale to a round maximum.
func TestBuildChart(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	var pts []Point
	for i, v := range []float64{1, 2, math.NaN(), 4, 7.5} {
		p := nanPoint(t0.Add(time.Duration(i) * 5 * time.Second))
		p.StoreRate = Value(v)
		pts = append(pts, p)
	}
	c := buildChart("r", "Rate", "/s", "", pts, []series{{"stores", "s0", func(p Point) Value { return p.StoreRate }}, {"reads", "s1", func(p Point) Value { return p.ReadRate }}})
	if c.Empty || len(c.Series) != 2 {
		t.Fatalf("chart %+v", c)
	}
	if got := len(c.Series[0].Lines); got != 2 {
		t.Errorf("the gap gives %d lines, want 2", got)
	}
	if c.Series[0].Last != "7.50/s" || c.Series[1].Last != "unknown" || len(c.Series[1].Lines) != 0 {
		t.Errorf("series: %+v", c.Series)
	}
	if c.YLabels[2].Text != "10.00/s" {
		t.Errorf("top label %q, want the next round value above 7.5", c.YLabels[2].Text)
	}
	// The first point is at the left edge, the last at the right, the largest value near the top.
	first := strings.Fields(c.Series[0].Lines[0])[0]
	last := strings.Fields(c.Series[0].Lines[1])
	if first != "64.0,132.4" || last[len(last)-1] != "632.0,44.0" {
		t.Errorf("geometry: first %s, last %s", first, last[len(last)-1])
	}
	if e := buildChart("e", "Empty", "B", "", pts, []series{{"x", "s0", func(p Point) Value { return p.ReadP50 }}}); !e.Empty {
		t.Error("a chart without known values is not empty")
	}
}

func TestFormats(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{shardRanges([]uint16{5, 0, 1, 2, 9, 3}), "0-3, 5, 9"},
		{shardRanges(nil), "none"},
		{fmtTokens(1_500_000_000), "1.5 FLOE"},
		{fmtTokens(75), "0.000000075 FLOE"},
		{fmtTokens(2_000_000_000), "2 FLOE"},
		{fmtBytes(uint64(1536)), "1.5 KiB"},
		{fmtBytes(Unknown()), "unknown"},
		{fmtValue(0.0123, "s"), "12.3 ms"},
		{fmtDuration(90 * time.Minute), "1h30m"},
		{shortID("0x0123456789abcdef0123456789"), "0x01234567…456789"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	for _, in := range []string{"a=http://x/metrics,b=https://y:9/m", " a=http://x "} {
		if _, err := ParseTargets(in); err != nil {
			t.Errorf("ParseTargets(%q): %v", in, err)
		}
	}
	for _, in := range []string{"a", "=http://x", "a=ftp://x", "a=http://x,a=http://y", "a=/metrics"} {
		if _, err := ParseTargets(in); err == nil {
			t.Errorf("ParseTargets(%q) accepted", in)
		}
	}
}
