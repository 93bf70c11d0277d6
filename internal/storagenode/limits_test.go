package storagenode

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"testing"
	"time"

	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/redstuff"
)

// slowUpload is an upload sent by hand over HTTP/1.1: the headers and the first bytes of a
// body announced as length bytes long, the rest trickled by the caller.
type slowUpload struct {
	conn *tls.Conn
}

func startSlowUpload(t *testing.T, node *testNode, path string, length int, first []byte) *slowUpload {
	t.Helper()
	u := dialNode(t, node)
	u.send(path, node.Addr(), length, first)
	return u
}

// dialNode opens a TLS connection to the node (HTTP/1.1), handshake done.
func dialNode(t *testing.T, node *testNode) *slowUpload {
	t.Helper()
	cfg := node.client.Transport.(*http.Transport).TLSClientConfig.Clone()
	cfg.NextProtos = []string{"http/1.1"}
	conn, err := tls.Dial("tcp", node.Addr(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &slowUpload{conn: conn}
}

// send writes the headers of a PUT of a length-byte body, and first.
func (u *slowUpload) send(path, host string, length int, first []byte) {
	fmt.Fprintf(u.conn, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", path, host, length)
	u.conn.Write(first)
}

// trickle writes one byte every interval until stop is closed.
func (u *slowUpload) trickle(interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if _, err := u.conn.Write([]byte{0}); err != nil {
				return
			}
		}
	}
}

// response waits (at most liveness) for the node's answer.
func (u *slowUpload) response(t *testing.T, liveness time.Duration) response {
	t.Helper()
	u.conn.SetReadDeadline(time.Now().Add(liveness))
	resp, err := http.ReadResponse(bufioReader(u.conn), nil)
	if err != nil {
		t.Fatalf("no answer to a slow upload within %v: %v", liveness, err)
	}
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, b}
}

// TestSlowBodies: a body that stops arriving, or trickles in below the minimum rate, is cut
// off with 408 once the grace period has passed, instead of holding the node's connection and
// memory for as long as the client likes.
func TestSlowBodies(t *testing.T) {
	tn := newTestNet(t, testShards, 2)
	grace := 300 * time.Millisecond
	node := tn.startNode(0, func(c *Config) { c.UploadGrace, c.MinUploadRate = grace, 64<<10 })
	node.waitApplied(t, tn.chain)
	id := blob.ID{7}.String()
	for _, mode := range []string{"stalled", "trickling"} {
		t.Run(mode, func(t *testing.T) {
			start := time.Now()
			u := startSlowUpload(t, node, api.SliverPath(id, 0, "primary")+"?pending=true", 100_000, make([]byte, 10))
			stop := make(chan struct{})
			defer close(stop)
			if mode == "trickling" {
				go u.trickle(20*time.Millisecond, stop) // 50 bytes/s
			}
			r := u.response(t, 20*time.Second)
			expect(t, mode+" body", r, http.StatusRequestTimeout, api.ReasonBodyTooSlow)
			if took := time.Since(start); took < grace {
				t.Fatalf("cut off after %v, before the grace of %v", took, grace)
			}
		})
	}
	// A body that arrives in time is read.
	expect(t, "metadata after the slow ones", node.put(t, api.MetadataPath(id)+"?pending=true", make([]byte, 10)), 400, api.ReasonMalformedBody)
}

// TestHeldUploadsMemory: uploads that announce a large body and send a few bytes of it do not
// make the node allocate what they announce: 40 held sliver uploads, each announcing the
// largest sliver body the node takes, cost it what arrived (its read buffers), not 40 times
// the limit (the "40 held uploads pinned 150 MB").
func TestHeldUploadsMemory(t *testing.T) {
	tn := newTestNet(t, testShards, 2)
	node := tn.startNode(0, nil)
	node.waitApplied(t, tn.chain)
	limit, err := node.e.Uploads.SliverLimit()
	if err != nil {
		t.Fatal(err)
	}
	const held = 40
	announced := uint64(held) * uint64(limit)
	conns := make([]*slowUpload, held)
	for i := range conns {
		conns[i] = dialNode(t, node)
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.TotalAlloc
	for i, u := range conns {
		u.send(api.SliverPath(blob.ID{byte(i), 9}.String(), 0, "primary")+"?pending=true", node.Addr(), int(limit), make([]byte, 10))
	}
	deadline := time.Now().Add(60 * time.Second)
	var reading time.Time // when every upload was being read
	for {
		if reading.IsZero() && node.metric(t, "floe_node_http_bodies_reading") == held {
			reading = time.Now()
		}
		runtime.ReadMemStats(&ms)
		allocated := ms.TotalAlloc - before
		if allocated > announced/2 {
			t.Fatalf("%d held uploads announcing %d bytes each made the process allocate %d bytes", held, limit, allocated)
		}
		if node.metric(t, "floe_node_http_bodies_reading") == held && !reading.IsZero() && time.Since(reading) > 300*time.Millisecond {
			t.Logf("%d uploads held, announcing %d bytes in all: %d bytes allocated", held, announced, allocated)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the node did not start reading the %d uploads within a minute (%v reading)", held, node.metric(t, "floe_node_http_bodies_reading"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestUploadRoom: the bodies read at once are bounded node-wide: while a slow upload holds the
// room, another waits up to the grace period and is refused with 503 and Retry-After; once
// the room is free, uploads go through again. A body longer than its route allows is refused
// with 413 before it is read.
func TestUploadRoom(t *testing.T) {
	tn := newTestNet(t, testShards, 2)
	node := tn.startNode(0, func(c *Config) {
		c.MaxUploadBytes, c.UploadGrace, c.MinUploadRate = 4000, 300*time.Millisecond, 1
	})
	node.waitApplied(t, tn.chain)
	enc, _ := redstuff.New(testShards)
	e := testBlob(t, enc, 3000, 11)
	id := blob.NewMetadata(&e.Commitment).ID.String()
	mb := metadataBody(t, e)

	u := startSlowUpload(t, node, api.SliverPath(id, 0, "primary")+"?pending=true", 4000, make([]byte, 10))
	stop := make(chan struct{})
	go u.trickle(50*time.Millisecond, stop) // 20 bytes/s: above the 1 byte/s minimum
	waitFor(t, "the slow upload to take the node's upload room", func() bool {
		return node.metric(t, "floe_node_http_body_room_bytes") >= 4000
	})
	req, err := http.NewRequest("PUT", node.base+api.MetadataPath(id)+"?pending=true", bytes.NewReader(mb))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := node.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	expect(t, "upload while the room is taken", response{resp.StatusCode, b}, http.StatusServiceUnavailable, api.ReasonBusy)
	if resp.Header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	close(stop)
	u.conn.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := node.put(t, api.MetadataPath(id)+"?pending=true", mb)
		if r.code == http.StatusAccepted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("upload after the slow one ended: %d %s", r.code, r.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	expect(t, "oversized metadata", node.put(t, api.MetadataPath(id), append(bytes.Clone(mb), make([]byte, 100)...)), http.StatusRequestEntityTooLarge, api.ReasonBodyTooLarge)
}

// TestPendingQuotaPerSource: one uploader cannot fill the pending buffer with the slivers of
// blobs it never registers: it gets a quarter of it, then 429.
func TestPendingQuotaPerSource(t *testing.T) {
	tn := newTestNet(t, testShards, 2)
	const max = 4 << 20
	node := tn.startNode(0, func(c *Config) { c.MaxPendingBytes = max })
	node.waitApplied(t, tn.chain)
	enc, _ := redstuff.New(testShards)
	saturated := false
	for seed := byte(0); seed < 40 && !saturated; seed++ {
		e := testBlob(t, enc, 200_000, 100+seed)
		id := blob.NewMetadata(&e.Commitment).ID
		ids := id.String()
		if r := node.put(t, api.MetadataPath(ids)+"?pending=true", metadataBody(t, e)); r.code != http.StatusAccepted {
			saturated = r.code == http.StatusTooManyRequests && r.reason() == api.ReasonCacheSaturated
			continue
		}
		owned, _ := tn.ownedPairs(id, 0)
		for _, p := range owned {
			pr, se := e.Pair(p)
			for _, s := range []redstuff.Sliver{pr, se} {
				r := node.put(t, api.SliverPath(ids, p, s.Axis.String())+"?pending=true", sliverBody(t, s))
				if r.code == http.StatusTooManyRequests && r.reason() == api.ReasonCacheSaturated {
					saturated = true
				}
			}
		}
	}
	held := node.metric(t, "floe_node_pending_bytes")
	if !saturated || held > max/4 {
		t.Fatalf("one uploader filled %v bytes of a %d-byte pending buffer (saturated: %v); want at most a quarter", held, max, saturated)
	}
}

// TestPendingShortLife: buffered uploads of a blob nobody registers are dropped after the
// pending TTL, not kept for minutes.
func TestPendingShortLife(t *testing.T) {
	tn := newTestNet(t, testShards, 2)
	node := tn.startNode(0, func(c *Config) { c.PendingTTL = 200 * time.Millisecond })
	node.waitApplied(t, tn.chain)
	enc, _ := redstuff.New(testShards)
	e := testBlob(t, enc, 3000, 12)
	id := blob.NewMetadata(&e.Commitment).ID.String()
	expect(t, "pending metadata", node.put(t, api.MetadataPath(id)+"?pending=true", metadataBody(t, e)), http.StatusAccepted, "")
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := node.get(t, api.MetadataStatusPath(id))
		if bytes.Contains(r.body, []byte(`"nonexistent"`)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("an unregistered blob's metadata is still buffered 10 s after a TTL of 200 ms: %s", r.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// health returns the node's detailed health.
func (n *testNode) health(t *testing.T) api.ServiceHealthInfo {
	t.Helper()
	r := n.get(t, api.RouteHealth+"?"+api.QueryDetailed+"=true")
	var h api.Success[api.ServiceHealthInfo]
	if r.code != http.StatusOK || json.Unmarshal(r.body, &h) != nil || h.Success.Data.ShardDetail == nil {
		t.Fatalf("health: %d %s", r.code, r.body)
	}
	return h.Success.Data
}

// TestHealthShardsInRecovery: a node that missed a blob's write reports its shards in
// recovery (not ready) while it cannot rebuild their slivers, and ready once it has.
func TestHealthShardsInRecovery(t *testing.T) {
	pn := newPeerNet(t, testShards, 4)
	for i := 1; i < 4; i++ {
		pn.start(i, nil)
	}
	e := testBlob(t, pn.enc, 30_000, 41)
	pn.write(e, map[int]bool{0: true}, -1)
	for i := 1; i < 4; i++ {
		pn.stop(i, false) // node 0 has nobody to recover from
	}
	node := pn.start(0, nil)
	waitFor(t, "node 0 to sweep its blobs", func() bool {
		h := node.health(t)
		return h.ShardSummary.OwnedShardStatus.InRecovery > 0
	})
	h := node.health(t)
	if h.ShardSummary.OwnedShardStatus.Ready != 0 || h.ShardSummary.OwnedShardStatus.InRecovery != h.ShardSummary.Owned {
		t.Fatalf("node 0 holds nothing of a certified blob but reports %+v", h.ShardSummary)
	}
	for _, s := range h.ShardDetail.Owned {
		if s.Status != "inRecovery" {
			t.Fatalf("shard %d is %q, want inRecovery", s.Shard, s.Status)
		}
	}
	for i := 1; i < 4; i++ {
		pn.start(i, nil)
	}
	waitFor(t, "node 0 to recover", func() bool { return pn.holdsAll(0, e) })
	waitFor(t, "node 0's shards to be ready", func() bool {
		h := node.health(t)
		return h.ShardSummary.OwnedShardStatus.Ready == h.ShardSummary.Owned && h.ShardSummary.OwnedShardStatus.InRecovery == 0
	})
}
