package client

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/floelabs/floe/blob"
)

// A streamed read fetches each systematic primary sliver from the one node that holds it,
// however far that node is. Any K_p primary slivers rebuild the blob, so a full read may
// instead fetch K_p slivers from the nodes nearest the client and decode the rows they do not
// hold: it trades the round trips to far nodes for the decoding work. nearPlan weighs the two
// with what the client measured: each node's least recent response time (its distance:
// nodeclient.Latency.Floor) and the time this client took to rebuild a byte in earlier
// decodes.

// initialDecodeCost is the assumed time to rebuild one byte of a row (erasure decode and the
// consistency check of the rebuilt rows) before the client has timed a decode of its own: a
// 64 MiB blob at n = 100 decodes from non-systematic slivers at 150 MB/s on a loaded 2-core
// machine (BenchmarkDecode), and the check costs about as much again.
const initialDecodeCost = 15 * time.Nanosecond

// decodeCost is the client's smoothed time to rebuild one byte of a row.
type decodeCost struct {
	mu sync.Mutex
	ns float64 // per byte; 0: not measured yet
}

// perByte returns the smoothed cost per rebuilt byte.
func (d *decodeCost) perByte() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ns == 0 {
		return initialDecodeCost
	}
	return time.Duration(d.ns)
}

// observe records that rebuilding bytes took took.
func (d *decodeCost) observe(bytes int, took time.Duration) {
	if bytes <= 0 {
		return
	}
	s := float64(took) / float64(bytes)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ns == 0 {
		d.ns = s
	} else {
		d.ns = 0.7*d.ns + 0.3*s
	}
}

// nearNode is a member as a read plan sees it.
type nearNode struct {
	i     int           // index in the committee view
	rtt   time.Duration // least recent response time (nodeclient.Latency.Floor)
	pairs []int         // the primary slivers it holds (pair indices)
	sys   int           // how many of them are systematic
}

// readPlan is how a full read goes: want is nil to stream, else the primary slivers to decode
// from (those of the nearest nodes). The estimates are for the log.
type readPlan struct {
	want           map[int]bool
	rebuild        int // systematic rows to rebuild
	stream, decode time.Duration
	nodes          int
}

// nearPlan chooses how to read all of md: stream the systematic slivers from their holders,
// or decode from the slivers of the j nearest nodes, for the j with the least estimated time.
// A node serves MaxNodeConnections requests at a time, each taking its least recent response
// time, so a node asked for k slivers takes ceil(k/MaxNodeConnections) of them; a decode
// adds the rebuilt rows' bytes at the measured cost per byte. A decode is chosen only if it
// saves a quarter of the stream's estimate and at least 10 ms. It streams when the blob is
// larger than NearReadMaxBytes or Config.SpillAbove (a decode holds the whole blob) and while a systematic
// sliver's holder has not been measured (the stream measures it).
func (c *Client) nearPlan(v *committeeView, md *blob.MetadataWithID) readPlan {
	size := md.Metadata.UnencodedLength
	if c.comm.NearReadMaxBytes < 0 || size == 0 || size > uint64(c.comm.NearReadMaxBytes) || c.spills(size) {
		return readPlan{}
	}
	ss, err := md.Metadata.SymbolSize(v.params)
	if err != nil {
		return readPlan{}
	}
	rowLen := v.params.SecondarySource * ss
	kp, n := v.params.PrimarySource, v.c.NShards
	per := max(1, c.comm.MaxNodeConnections)
	rounds := func(k int, rtt time.Duration) time.Duration {
		return time.Duration((k+per-1)/per) * rtt
	}
	var nodes []nearNode
	var stream time.Duration
	for i, m := range v.c.Members {
		if v.nodes[i] == nil {
			continue
		}
		nd := nearNode{i: i, rtt: v.nodes[i].Latency().Floor()}
		for _, sh := range m.Shards {
			p := blob.PairIndex(md.ID, n, int(sh))
			nd.pairs = append(nd.pairs, p)
			if p < kp {
				nd.sys++
			}
		}
		if v.nodes[i].Latency().Failing() {
			nd.rtt = time.Hour // still a holder the stream would wait for; never near
		}
		if nd.rtt == 0 {
			if nd.sys > 0 {
				return readPlan{}
			}
			continue
		}
		if nd.sys > 0 {
			stream = max(stream, rounds(nd.sys, nd.rtt))
		}
		nodes = append(nodes, nd)
	}
	slices.SortStableFunc(nodes, func(a, b nearNode) int { return int(a.rtt - b.rtt) })
	best := readPlan{stream: stream}
	// A decode must save a quarter of the stream's time and at least 10 ms: the estimates
	// are rough, and a stream writes its first bytes sooner and holds less.
	bestTime := stream - max(stream/4, 10*time.Millisecond)
	cost := c.decodes.perByte()
	// Take the nearest nodes, one more at a time; once they hold K_p slivers, a read fetches
	// their systematic ones first and then others of theirs, nearest first.
	var held, sys int
	for j, nd := range nodes {
		held += len(nd.pairs)
		sys += nd.sys
		if held < kp || sys == kp {
			continue // too few slivers yet; or nothing to rebuild: that is the stream
		}
		// The fetch: every systematic sliver of the j+1 nodes, then the rest from the nearest.
		need := make([]int, j+1)
		left := kp - sys
		for q := 0; q <= j; q++ {
			need[q] = nodes[q].sys
		}
		for q := 0; q <= j && left > 0; q++ {
			take := min(left, len(nodes[q].pairs)-nodes[q].sys)
			need[q] += take
			left -= take
		}
		var fetch time.Duration
		for q := 0; q <= j; q++ {
			fetch = max(fetch, rounds(need[q], nodes[q].rtt))
		}
		rebuild := kp - sys
		t := fetch + time.Duration(float64(rebuild*rowLen)*float64(cost))
		if t < bestTime {
			want := map[int]bool{}
			for q := 0; q <= j; q++ {
				for _, p := range nodes[q].pairs {
					want[p] = true
				}
			}
			best, bestTime = readPlan{want: want, rebuild: rebuild, stream: stream, decode: t, nodes: j + 1}, t
		}
	}
	return best
}

// readNear reads all of md by decoding the slivers of plan (see nearPlan) and writes it to w;
// nothing is written if it fails.
func (c *Client) readNear(ctx context.Context, v *committeeView, md *blob.MetadataWithID, plan readPlan, w io.Writer, check ConsistencyCheck) (int64, error) {
	slivers, err := c.fetchPrimary(ctx, v, md, plan.want, v.params.PrimarySource, nil, 0)
	if err != nil {
		return 0, err
	}
	rebuilt := v.params.PrimarySource
	for _, sl := range slivers {
		if sl.Index < v.params.PrimarySource {
			rebuilt--
		}
	}
	start := time.Now()
	data, err := c.decodeSlivers(v, md, slivers, check)
	if err != nil {
		return 0, err
	}
	if ss, err := md.Metadata.SymbolSize(v.params); err == nil {
		c.decodes.observe(rebuilt*v.params.SecondarySource*ss, time.Since(start))
	}
	k, err := w.Write(data)
	if err != nil {
		err = fmt.Errorf("client: writing the blob: %w", err)
	}
	return int64(k), err
}

// streamOrNear reads all of md into w: from the nearest nodes when nearPlan says so, else (or
// if that fails before writing anything) streamed.
func (c *Client) streamOrNear(ctx context.Context, v *committeeView, md *blob.MetadataWithID, w io.Writer, check ConsistencyCheck) (int64, error) {
	if plan := c.nearPlan(v, md); plan.want != nil {
		c.log.Debug("reading from the nearest nodes", "blob", md.ID, "nodes", plan.nodes, "rebuild_rows", plan.rebuild,
			"estimate", plan.decode, "stream_estimate", plan.stream)
		k, err := c.readNear(ctx, v, md, plan, w, check)
		if err == nil || k > 0 || ctx.Err() != nil {
			return k, err
		}
		c.log.Info("reading from the nearest nodes failed; streaming", "blob", md.ID, "err", err)
	}
	return c.stream(ctx, v, md, 0, md.Metadata.UnencodedLength, w, check)
}
