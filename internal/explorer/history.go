package explorer

import (
	"encoding/json"
	"math"
	"strconv"
	"sync"
	"time"
)

// Value is a measured number; NaN means unknown, and is null in JSON.
type Value float64

// Unknown is the Value of what could not be measured.
func Unknown() Value { return Value(math.NaN()) }

// Known reports whether v was measured.
func (v Value) Known() bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }

// MarshalJSON writes null for an unknown value.
func (v Value) MarshalJSON() ([]byte, error) {
	if !v.Known() {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, float64(v), 'g', -1, 64), nil
}

// UnmarshalJSON reads null as unknown.
func (v *Value) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*v = Unknown()
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*v = Value(f)
	return nil
}

// Point is one sample of the network's activity. A value that could not be measured (no
// metrics endpoint answered, or nothing happened to measure a latency) is NaN, and charts
// leave a gap there.
type Point struct {
	T time.Time `json:"t"`
	// StoredBytes is the disk space the storage nodes' stores occupy (floe_node_disk_bytes,
	// summed over the nodes whose metrics answered), and ReservedBytes the encoded storage
	// reserved on the control plane in the current epoch.
	StoredBytes   Value `json:"storedBytes"`
	ReservedBytes Value `json:"reservedBytes"`
	// StoreRate and ReadRate are the daemon's blob stores and reads per second (its
	// floe_daemon_requests_total of the store and read routes).
	StoreRate Value `json:"storeRate"`
	ReadRate  Value `json:"readRate"`
	// NodeInRate and NodeOutRate are the sliver bytes per second the nodes received and sent
	// (floe_node_http_body_bytes_total).
	NodeInRate  Value `json:"nodeInRate"`
	NodeOutRate Value `json:"nodeOutRate"`
	// Store and read latency quantiles (seconds) over the interval, from the daemon's
	// floe_daemon_request_seconds histogram.
	StoreP50 Value `json:"storeP50"`
	StoreP99 Value `json:"storeP99"`
	ReadP50  Value `json:"readP50"`
	ReadP99  Value `json:"readP99"`
	// NodeRTT is the median round trip of the nodes' health requests (seconds).
	NodeRTT Value `json:"nodeRtt"`
}

// nanPoint returns a point at t with every value unknown.
func nanPoint(t time.Time) Point {
	n := Unknown()
	return Point{T: t, StoredBytes: n, ReservedBytes: n, StoreRate: n, ReadRate: n, NodeInRate: n, NodeOutRate: n,
		StoreP50: n, StoreP99: n, ReadP50: n, ReadP99: n, NodeRTT: n}
}

// ring keeps the last points in a fixed-size buffer.
type ring struct {
	mu   sync.Mutex
	buf  []Point
	next int
	full bool
}

func newRing(size int) *ring { return &ring{buf: make([]Point, size)} }

func (r *ring) add(p Point) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf[r.next] = p
	r.next++
	if r.next == len(r.buf) {
		r.next, r.full = 0, true
	}
}

// points returns the kept points, oldest first.
func (r *ring) points() []Point {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.full {
		return append([]Point(nil), r.buf[:r.next]...)
	}
	out := make([]Point, 0, len(r.buf))
	out = append(out, r.buf[r.next:]...)
	return append(out, r.buf[:r.next]...)
}

// rate returns (cur-prev)/dt for a counter; a counter that went down restarted, so its new
// value is what it counted since. NaN if either value is missing.
func rate(cur, prev float64, curOK, prevOK bool, dt time.Duration) Value {
	if !curOK || !prevOK || dt <= 0 {
		return Unknown()
	}
	d := cur - prev
	if d < 0 {
		d = cur
	}
	return Value(d / dt.Seconds())
}
