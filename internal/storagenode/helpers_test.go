package storagenode

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	cpapi "github.com/floelabs/floe/api/controlplane"
	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/controlplane"
	"github.com/floelabs/floe/internal/controlplane/cptest"
	"github.com/floelabs/floe/internal/controlplane/embedded"
	"github.com/floelabs/floe/internal/nodestore"
	"github.com/floelabs/floe/internal/nodetls"
	"github.com/floelabs/floe/internal/storagenode/engine"
	"github.com/floelabs/floe/redstuff"
)

// testNet is an embedded control plane with storage nodes from cptest.
type testNet struct {
	t     testing.TB
	net   *cptest.Network
	chain *embedded.Chain
	dir   string
}

func newTestNet(t testing.TB, nShards, nodes int) *testNet {
	t.Helper()
	net := cptest.NewNetwork(nShards, nodes, 2, 1<<50, nil, time.Now())
	dir := t.TempDir()
	chain, err := embedded.Open(dir, &embedded.Options{Genesis: net.Genesis, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { chain.Close() })
	return &testNet{t: t, net: net, chain: chain, dir: dir}
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("FLOE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// register registers a blob (permanent unless deletable) and returns its object ID.
func (tn *testNet) register(enc *redstuff.Encoding, deletable bool) cpapi.ObjectID {
	tn.t.Helper()
	md := blob.NewMetadata(&enc.Commitment)
	raw := tn.net.Sign(tn.net.Users[0], cpapi.Op{RegisterBlob: &cpapi.RegisterBlobOp{
		EpochsAhead: 5, BlobID: md.ID, RootHash: cpapi.Hash(enc.Root), Size: enc.Length,
		EncodingType: uint8(blob.RS2), Deletable: deletable,
	}})
	out, err := tn.chain.Submit(context.Background(), raw)
	if err != nil {
		tn.t.Fatal(err)
	}
	if !out.OK() {
		tn.t.Fatalf("register blob: %s %s", out.Code, out.Error)
	}
	for _, ev := range out.Events {
		if ev.Type == cpapi.EventBlobRegistered {
			return ev.ObjectID
		}
	}
	tn.t.Fatal("no BlobRegistered event")
	return cpapi.ObjectID{}
}

// testNode is a running node with a pinned HTTPS client.
type testNode struct {
	*Node
	store  *nodestore.Store
	client *http.Client
	base   string
	cancel context.CancelFunc
	done   chan error
	reg    *prometheus.Registry
}

func (tn *testNet) startNode(i int, mutate func(*Config)) *testNode {
	tn.t.Helper()
	st, err := nodestore.Open(tn.t.TempDir(), nil)
	if err != nil {
		tn.t.Fatal(err)
	}
	key, err := nodetls.GenerateKey(nil)
	if err != nil {
		tn.t.Fatal(err)
	}
	cert, err := nodetls.SelfSigned(key, []string{"127.0.0.1"})
	if err != nil {
		tn.t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	cfg := Config{Options: engine.Options{Store: st, ControlPlane: Embedded{tn.chain}, ProtocolKey: tn.net.NodeKeys[i],
		Logger: testLogger(tn.t).With("node", i), Registry: reg, EventPoll: 200 * time.Millisecond}, Certificate: cert, MetricsAddr: "127.0.0.1:0"}
	if mutate != nil {
		mutate(&cfg)
	}
	n, err := New(cfg)
	if err != nil {
		tn.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tnode := &testNode{Node: n, store: st, client: pinnedClient(tn.t, &key.PublicKey), base: "https://" + n.Addr(),
		cancel: cancel, done: make(chan error, 1), reg: reg}
	go func() { tnode.done <- n.Run(ctx) }()
	tn.t.Cleanup(tnode.stop)
	return tnode
}

func (n *testNode) stop() {
	if n.cancel == nil {
		return
	}
	n.cancel()
	if err := <-n.done; err != nil {
		panic(fmt.Sprintf("node run: %v", err))
	}
	n.cancel = nil
	n.client.CloseIdleConnections()
	n.store.Close()
}

func pinnedClient(t testing.TB, pk *ecdsa.PublicKey) *http.Client {
	t.Helper()
	pub, err := nodetls.PublicKeyBytes(pk)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := nodetls.ClientConfig(pub, "127.0.0.1", nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 64}, Timeout: 60 * time.Second}
}

// waitRegistered waits until the node has applied the chain's events so far.
func (n *testNode) waitApplied(t testing.TB, chain *embedded.Chain) {
	t.Helper()
	var seq uint64
	chain.View(func(s *controlplane.State, _ controlplane.Hash) { seq = s.EventSeq() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		h, err := n.e.Health(context.Background(), false)
		if err != nil {
			t.Fatal(err)
		}
		applied := h.EventProgress.Persisted
		if applied >= seq {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("node applied %d events, chain has %d", applied, seq)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type response struct {
	code int
	body []byte
}

func (r response) reason() string {
	var e api.Error
	if json.Unmarshal(r.body, &e) != nil {
		return ""
	}
	return e.Error.Reason()
}

func (n *testNode) do(t testing.TB, method, path string, body []byte, contentType string) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, n.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := n.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, b}
}

func (n *testNode) put(t testing.TB, path string, body []byte) response {
	return n.do(t, "PUT", path, body, api.ContentTypeOctetStream)
}

func (n *testNode) get(t testing.TB, path string) response { return n.do(t, "GET", path, nil, "") }

func expect(t testing.TB, what string, r response, code int, reason string) {
	t.Helper()
	if r.code != code || (reason != "" && r.reason() != reason) {
		t.Fatalf("%s: got %d %s, want %d %s", what, r.code, r.body, code, reason)
	}
}

// testBlob encodes size pseudo-random bytes.
func testBlob(t testing.TB, enc *redstuff.Encoder, size int, seed byte) *redstuff.Encoding {
	t.Helper()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*7) ^ seed ^ byte(i>>8)
	}
	e, err := enc.Encode(data)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func metadataBody(t testing.TB, e *redstuff.Encoding) []byte {
	t.Helper()
	b, err := blob.NewMetadata(&e.Commitment).Metadata.MarshalBCS()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sliverBody(t testing.TB, s redstuff.Sliver) []byte {
	t.Helper()
	b, err := blob.MarshalSliverData(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ownedPairs returns the pairs of blob id that node i owns, and one it does not own.
func (tn *testNet) ownedPairs(id blob.ID, i int) (owned []int, unowned int) {
	var c *cpapi.Committee
	tn.chain.View(func(s *controlplane.State, _ controlplane.Hash) { c, _ = s.Committee(s.Info().Epoch) })
	pk := tn.net.NodeKeys[i].PublicKey()
	mine := map[uint16]bool{}
	for _, m := range c.Members {
		if m.BLSPublicKey == cpapi.BLSPublicKey(pk) {
			for _, s := range m.Shards {
				mine[s] = true
			}
		}
	}
	unowned = -1
	for p := 0; p < c.NShards; p++ {
		if mine[uint16(blob.ShardIndex(id, c.NShards, p))] {
			owned = append(owned, p)
		} else if unowned < 0 {
			unowned = p
		}
	}
	return owned, unowned
}

// upload puts metadata and every owned sliver pair of e on node n.
func (n *testNode) upload(t testing.TB, e *redstuff.Encoding, pairs []int) {
	t.Helper()
	id := blob.NewMetadata(&e.Commitment).ID.String()
	r := n.put(t, api.MetadataPath(id), metadataBody(t, e))
	if r.code != 201 && r.code != 200 {
		t.Fatalf("metadata PUT: %d %s", r.code, r.body)
	}
	for _, p := range pairs {
		pr, se := e.Pair(p)
		for _, s := range []redstuff.Sliver{pr, se} {
			r := n.put(t, api.SliverPath(id, p, s.Axis.String()), sliverBody(t, s))
			if r.code != 201 && r.code != 200 {
				t.Fatalf("sliver PUT %d %s: %d %s", p, s.Axis, r.code, r.body)
			}
		}
	}
}

func bufioReader(r io.Reader) *bufio.Reader { return bufio.NewReader(r) }
