package storagenode

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync/atomic"
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
	"github.com/floelabs/floe/internal/protocol"
	"github.com/floelabs/floe/internal/storagenode/engine"
	"github.com/floelabs/floe/redstuff"
)

// peerNet is a test network whose genesis names the nodes' real loopback addresses and TLS
// keys, so that its nodes reach each other (recovery, inconsistency proofs).
type peerNet struct {
	*testNet
	enc   *redstuff.Encoder
	certs []tls.Certificate
	pubs  [][]byte
	addrs []string
	lns   []net.Listener // bound before the genesis; used by the first start
	dirs  []string       // store directories
	nodes []*testNode    // running nodes (nil if stopped)
}

func newPeerNet(t *testing.T, nShards, nodes int) *peerNet {
	t.Helper()
	return newPeerNetWith(t, nShards, nodes, nil)
}

// newPeerNetWith is newPeerNet with the genesis parameters changed by params (if not nil).
func newPeerNetWith(t *testing.T, nShards, nodes int, params func(*controlplane.Params)) *peerNet {
	t.Helper()
	return newPeerNetChain(t, nShards, nodes, params, nil)
}

// newPeerNetChain is newPeerNetWith with the control plane's options changed by opts (if
// not nil).
func newPeerNetChain(t testing.TB, nShards, nodes int, params func(*controlplane.Params), opts func(*embedded.Options)) *peerNet {
	t.Helper()
	cpn := cptest.NewNetwork(nShards, nodes, 2, 1<<50, nil, time.Now())
	pn := &peerNet{nodes: make([]*testNode, nodes)}
	for i := 0; i < nodes; i++ {
		key, err := nodetls.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := nodetls.SelfSigned(key, []string{"127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		pub, err := nodetls.PublicKeyBytes(&key.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		pn.certs, pn.pubs, pn.lns = append(pn.certs, cert), append(pn.pubs, pub), append(pn.lns, ln)
		pn.addrs = append(pn.addrs, ln.Addr().String())
		pn.dirs = append(pn.dirs, t.TempDir())
		g := &cpn.Genesis.Nodes[i]
		g.NetworkAddress, g.NetworkPublicKey = ln.Addr().String(), pub
	}
	if params != nil {
		params(&cpn.Genesis.Params)
	}
	dir := t.TempDir()
	o := &embedded.Options{Genesis: cpn.Genesis, Logger: testLogger(t)}
	if opts != nil {
		opts(o)
	}
	chain, err := embedded.Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { chain.Close() })
	pn.testNet = &testNet{t: t, net: cpn, chain: chain, dir: dir}
	if pn.enc, err = redstuff.New(nShards); err != nil {
		t.Fatal(err)
	}
	return pn
}

// start starts node i on its address with its store directory and fast recovery timings.
func (pn *peerNet) start(i int, mutate func(*Config)) *testNode {
	t := pn.t
	t.Helper()
	ln := pn.lns[i]
	pn.lns[i] = nil
	if ln == nil {
		var err error
		for try := 0; ; try++ {
			if ln, err = net.Listen("tcp", pn.addrs[i]); err == nil {
				break
			}
			if try == 50 {
				t.Fatalf("re-listening on %s: %v", pn.addrs[i], err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	st, err := nodestore.Open(pn.dirs[i], nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	cfg := Config{Options: engine.Options{Store: st, ControlPlane: Embedded{pn.chain}, ProtocolKey: pn.net.NodeKeys[i],
		Logger: testLogger(t).With("node", i), Registry: reg, EventPoll: 100 * time.Millisecond,
		RecoveryDelay: 50 * time.Millisecond, RecoveryBackoff: 50 * time.Millisecond, RecoveryMaxBackoff: time.Second,
		PeerTimeout: 20 * time.Second}, Certificate: pn.certs[i], Listener: ln}
	if mutate != nil {
		mutate(&cfg)
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	client := pinnedClientBytes(t, pn.pubs[i])
	tnode := &testNode{Node: n, store: st, client: client, base: "https://" + n.Addr(), cancel: cancel, done: make(chan error, 1), reg: reg}
	go func() { tnode.done <- n.Run(ctx) }()
	t.Cleanup(tnode.stop)
	pn.nodes[i] = tnode
	return tnode
}

// stop stops node i; wipe also deletes its store.
func (pn *peerNet) stop(i int, wipe bool) {
	pn.nodes[i].stop()
	pn.nodes[i] = nil
	if wipe {
		pn.dirs[i] = pn.t.TempDir()
	}
}

func pinnedClientBytes(t testing.TB, pub []byte) *http.Client {
	t.Helper()
	cfg, err := nodetls.ClientConfig(pub, "127.0.0.1", nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}, Timeout: 60 * time.Second}
}

// write registers e, uploads its metadata and owned slivers to every running node not in
// skip (and, for skipPair, every pair but that one), and certifies it with the committee's
// keys. It returns the blob ID.
func (pn *peerNet) write(e *redstuff.Encoding, skip map[int]bool, skipPair int) blob.ID {
	t := pn.t
	t.Helper()
	md := blob.NewMetadata(&e.Commitment)
	obj := pn.register(e, false)
	for i, node := range pn.nodes {
		if node == nil || skip[i] {
			continue
		}
		node.waitApplied(t, pn.chain)
		owned, _ := pn.ownedPairs(md.ID, i)
		owned = slices.DeleteFunc(owned, func(p int) bool { return p == skipPair })
		node.upload(t, e, owned)
	}
	var c *cpapi.Committee
	pn.chain.View(func(s *controlplane.State, _ controlplane.Hash) { c, _ = s.Committee(s.Info().Epoch) })
	msg := protocol.StorageConfirmation{Epoch: c.Epoch, BlobID: md.ID, Persistence: protocol.Permanent}.Encode()
	cert, err := pn.net.Certify(c, msg, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw := pn.net.Sign(pn.net.Users[0], cpapi.Op{CertifyBlob: &cpapi.CertifyBlobOp{BlobObjectID: obj, Certificate: cert}})
	out, err := pn.chain.Submit(context.Background(), raw)
	if err != nil || !out.OK() {
		t.Fatalf("certify: %v %s %s", err, out.Code, out.Error)
	}
	return md.ID
}

// waitFor polls cond until it holds; the deadline only bounds a test that would hang.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// holdsAll reports whether node i stores every sliver of its pairs of e, byte-identical.
func (pn *peerNet) holdsAll(i int, e *redstuff.Encoding) bool {
	t := pn.t
	t.Helper()
	node := pn.nodes[i]
	id := blob.NewMetadata(&e.Commitment).ID
	owned, _ := pn.ownedPairs(id, i)
	for _, p := range owned {
		shard := uint16(blob.ShardIndex(id, pn.enc.Params().NShards, p))
		pr, se := e.Pair(p)
		for _, want := range []redstuff.Sliver{pr, se} {
			got, err := node.store.Sliver(context.Background(), shard, id, want.Axis)
			if errors.Is(err, nodestore.ErrNotFound) {
				return false
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Index != want.Index || got.SymbolSize != want.SymbolSize || !bytes.Equal(got.Data, want.Data) {
				t.Fatalf("node %d holds a wrong %s sliver of pair %d", i, want.Axis, p)
			}
		}
	}
	return true
}

// metric sums the samples of the named metric in the node's registry whose labels include
// the given name=value pairs.
func (n *testNode) metric(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	fams, err := n.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, l := range m.GetLabel() {
					found = found || (l.GetName() == labels[i] && l.GetValue() == labels[i+1])
				}
				if !found {
					continue metrics
				}
			}
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

// TestRecoveryAbsentNode: a node that was down while a blob was written and certified
// rebuilds its slivers from recovery symbols once it starts, and the bytes it fetches for that
// are about those of its sliver pairs, not the blob's.
func TestRecoveryAbsentNode(t *testing.T) {
	for _, tc := range []struct{ shards, nodes, size int }{{testShards, 4, 200_000}, {100, 10, 1 << 20}} {
		t.Run(fmt.Sprintf("n=%d", tc.shards), func(t *testing.T) {
			if tc.shards > testShards && testing.Short() {
				t.Skip("short")
			}
			testRecoveryAbsentNode(t, tc.shards, tc.nodes, tc.size)
		})
	}
}

func testRecoveryAbsentNode(t *testing.T, shards, nodes, size int) {
	pn := newPeerNet(t, shards, nodes)
	for i := 1; i < nodes; i++ {
		pn.start(i, nil)
	}
	e := testBlob(t, pn.enc, size, 21)
	id := pn.write(e, map[int]bool{0: true}, -1)
	node := pn.start(0, nil)
	waitFor(t, "node 0 to recover its slivers", func() bool { return pn.holdsAll(0, e) })
	owned, _ := pn.ownedPairs(id, 0)
	w := len(owned)
	waitFor(t, "the recovered-slivers count", func() bool { return node.metric(t, "floe_node_recovered_slivers_total") >= float64(2*w) })
	p := pn.enc.Params()
	symBytes := node.metric(t, "floe_node_recovery_bytes_total", "kind", "symbols")
	mdBytes := node.metric(t, "floe_node_recovery_bytes_total", "kind", "metadata")
	recovered := node.metric(t, "floe_node_recovered_slivers_total")
	if recovered != float64(2*w) {
		t.Fatalf("recovered %v slivers, want %d", recovered, 2*w)
	}
	// One sliver pair takes K_p + K_s symbols (fewer once the node's own rebuilt secondary
	// slivers serve as sources), each with a Merkle proof of ceil(log2 n) nodes.
	proof := 0
	for l := 1; l < p.NShards; l *= 2 {
		proof++
	}
	perSymbol := e.SymbolSize + 1 + 2 + 3 + 3 + proof*(1+32)
	ideal := float64(w * (p.PrimarySource + p.SecondarySource) * perSymbol)
	floor := float64(w * (p.PrimarySource + p.SecondarySource - w) * e.SymbolSize)
	perPair := symBytes / float64(w)
	t.Logf("n=%d, blob %d bytes, symbol size %d: recovery fetched %.0f symbol bytes (+%.0f metadata) for %d pairs: %.0f per pair "+
		"= %.3f of the blob (2/n = %.3f; (K_p+K_s) symbols with proofs = %.0f)",
		p.NShards, size, e.SymbolSize, symBytes, mdBytes, w, perPair, perPair/float64(size), 2/float64(p.NShards), ideal/float64(w))
	if symBytes > 1.5*ideal || symBytes < floor {
		t.Fatalf("recovery fetched %.0f symbol bytes for %d pairs, want between %.0f and 1.5 x %.0f", symBytes, w, floor, ideal)
	}
	if symBytes >= float64(size) {
		t.Fatalf("recovery of %d pairs fetched %.0f bytes, the whole blob is %d", w, symBytes, size)
	}
}

// TestEventCursorAfterRestart: a restarted node's event cursor metric is the cursor it
// resumes from, before any new event arrives.
func TestEventCursorAfterRestart(t *testing.T) {
	pn := newPeerNet(t, testShards, 4)
	for i := range 4 {
		pn.start(i, nil)
	}
	pn.write(testBlob(t, pn.enc, 50_000, 5), nil, -1)
	eventSeq := func() (seq uint64) {
		pn.chain.View(func(s *controlplane.State, _ controlplane.Hash) { seq = s.Info().EventSeq })
		return seq
	}
	seq := eventSeq()
	waitFor(t, "node 0 to apply every event", func() bool { return pn.nodes[0].metric(t, "floe_node_event_cursor")+1 >= float64(seq) })
	want := pn.nodes[0].metric(t, "floe_node_event_cursor")
	pn.stop(0, false)
	node := pn.start(0, nil)
	waitFor(t, "node 0 to run again", func() bool {
		_, err := node.client.Get(node.base + "/v1/health")
		return err == nil
	})
	if got := node.metric(t, "floe_node_event_cursor"); got != want || eventSeq() != seq {
		t.Fatalf("after a restart without new events the event cursor metric is %v, want %v", got, want)
	}
}

// TestRecoveryWipedStore: a node whose store is wiped recovers every sliver of every certified
// blob of its shards (metadata from its peers), and a node that missed a blob while its
// recovery was off recovers it after a restart (the start-up sweep).
func TestRecoveryWipedStore(t *testing.T) {
	pn := newPeerNet(t, testShards, 4)
	for i := 0; i < 4; i++ {
		cfgMut := func(c *Config) {}
		if i == 2 {
			cfgMut = func(c *Config) { c.DisableRecovery = true }
		}
		pn.start(i, cfgMut)
	}
	blobs := []*redstuff.Encoding{testBlob(t, pn.enc, 30_000, 31), testBlob(t, pn.enc, 5_000, 32)}
	for _, e := range blobs {
		pn.write(e, map[int]bool{2: true}, -1) // node 2 gets nothing
	}
	for _, e := range blobs {
		if !pn.holdsAll(1, e) {
			t.Fatal("node 1 misses slivers before the wipe")
		}
	}
	pn.stop(1, true)
	pn.nodes[2].waitApplied(t, pn.chain)
	pn.stop(2, false)
	// Node 2 restarts with a grace period it will not reach: only the sweep can queue.
	pn.start(2, func(c *Config) { c.RecoveryDelay = time.Hour })
	pn.start(1, nil)
	waitFor(t, "the wiped node to recover every blob", func() bool {
		return pn.holdsAll(1, blobs[0]) && pn.holdsAll(1, blobs[1])
	})
	waitFor(t, "the restarted node to recover every blob", func() bool {
		return pn.holdsAll(2, blobs[0]) && pn.holdsAll(2, blobs[1])
	})
	for _, i := range []int{1, 2} {
		for _, e := range blobs {
			id := blob.NewMetadata(&e.Commitment).ID
			if _, err := pn.nodes[i].store.Metadata(context.Background(), id); err != nil {
				t.Fatalf("node %d metadata of %s: %v", i, id, err)
			}
			// The node now signs a storage confirmation.
			expect(t, "confirmation after recovery", pn.nodes[i].get(t, api.PermanentConfirmationPath(id.String())), 200, "")
		}
	}
}

// forgedBlob encodes size bytes, then replaces primary sliver victim with other bytes and
// commits to them (recomputed pair hash and root): an inconsistently encoded blob whose
// metadata verifies.
func forgedBlob(t testing.TB, enc *redstuff.Encoder, size int, seed byte, victim int) *redstuff.Encoding {
	t.Helper()
	e := testBlob(t, enc, size, seed)
	f := *e
	f.Primary = slices.Clone(e.Primary)
	f.Primary[victim] = bytes.Clone(e.Primary[victim])
	f.Primary[victim][0] ^= 0xff
	h, err := enc.SliverHash(redstuff.Sliver{Axis: redstuff.Primary, Index: victim, SymbolSize: e.SymbolSize, Data: f.Primary[victim]})
	if err != nil {
		t.Fatal(err)
	}
	f.Hashes = slices.Clone(e.Hashes)
	f.Hashes[victim].Primary = h
	f.Root = redstuff.RootHash(f.Hashes)
	return &f
}

// forgedProof returns the inconsistency proof of f's victim primary sliver.
func forgedProof(t testing.TB, enc *redstuff.Encoder, f *redstuff.Encoding, victim int) *redstuff.InconsistencyProof {
	t.Helper()
	n := enc.Params().NShards
	var syms []redstuff.RecoverySymbol
	for j := 0; j < n; j++ {
		src := redstuff.Sliver{Axis: redstuff.Secondary, Index: j, SymbolSize: f.SymbolSize, Data: f.Secondary[j]}
		rs, err := enc.RecoverySymbols(src, []int{victim})
		if err != nil {
			t.Fatal(err)
		}
		syms = append(syms, rs...)
	}
	_, proof, err := enc.RecoverSliver(redstuff.Primary, victim, f.SymbolSize, syms, f.Hashes)
	if !errors.Is(err, redstuff.ErrInconsistent) || proof == nil {
		t.Fatalf("forged blob: %v", err)
	}
	return proof
}

// TestInconsistentBlobInvalidated: the node that the writer skipped rebuilds a sliver that
// does not match the metadata, proves it, collects invalid-blob attestations and gets the blob
// marked invalid on the control plane; every node then reports it invalid, refuses its uploads
// and serves none of it.
func TestInconsistentBlobInvalidated(t *testing.T) {
	pn := newPeerNet(t, testShards, 4)
	const victim = 1
	f := forgedBlob(t, pn.enc, 20_000, 41, victim)
	md := blob.NewMetadata(&f.Commitment)
	id := md.ID
	prover := -1
	for i := range pn.nodes {
		if owned, _ := pn.ownedPairs(id, i); slices.Contains(owned, victim) {
			prover = i
		}
	}
	for i := range pn.nodes {
		pn.start(i, nil)
	}
	// The proof route refuses a proof against a consistent blob and garbage.
	honest := testBlob(t, pn.enc, 20_000, 41)
	hid := pn.write(honest, nil, -1)
	hp := forgedProof(t, pn.enc, f, victim)
	hb, err := blob.MarshalInconsistencyProof(hp)
	if err != nil {
		t.Fatal(err)
	}
	other := pn.nodes[(prover+1)%len(pn.nodes)]
	expect(t, "proof against a consistent blob", other.do(t, "POST", api.InconsistencyProofPath(hid.String(), "primary"), hb, api.ContentTypeOctetStream),
		400, api.ReasonInvalidProof)
	expect(t, "garbage proof", other.do(t, "POST", api.InconsistencyProofPath(hid.String(), "primary"), []byte{1, 2, 3}, api.ContentTypeOctetStream),
		400, api.ReasonMalformedBody)

	pn.write(f, nil, victim) // the writer skips the forged sliver's pair
	waitFor(t, "the blob to be marked invalid on the control plane", func() bool {
		var st cpapi.BlobStatus
		pn.chain.View(func(s *controlplane.State, _ controlplane.Hash) { st = s.BlobStatus(id) })
		return st.Status == cpapi.StatusInvalid
	})
	waitFor(t, "the prover's invalidation count", func() bool { return pn.nodes[prover].metric(t, "floe_node_invalidations_submitted_total") >= 1 })
	attested := 0.0
	for _, node := range pn.nodes {
		attested += node.metric(t, "floe_node_inconsistency_proofs_total", "outcome", "attested")
	}
	if attested < 1 {
		t.Fatal("no node attested the proof")
	}
	for i, node := range pn.nodes {
		node.waitApplied(t, pn.chain)
		r := node.get(t, api.BlobStatusPath(id.String()))
		if r.code != 200 || !bytes.Contains(r.body, []byte(`"invalid"`)) {
			t.Fatalf("node %d status: %d %s", i, r.code, r.body)
		}
		expect(t, "metadata PUT of an invalid blob", node.put(t, api.MetadataPath(id.String()), metadataBody(t, f)), 400, api.ReasonInvalidBlob)
		owned, _ := pn.ownedPairs(id, i)
		for _, p := range owned {
			expect(t, "sliver GET of an invalid blob", node.get(t, api.SliverPath(id.String(), p, "secondary")), 400, api.ReasonInvalidBlob)
			pr, _ := f.Pair(p)
			expect(t, "sliver PUT of an invalid blob", node.put(t, api.SliverPath(id.String(), p, "primary"), sliverBody(t, pr)), 400, api.ReasonInvalidBlob)
			shard := uint16(blob.ShardIndex(id, testShards, p))
			if missing, err := node.store.MissingSlivers(context.Background(), id, []uint16{shard}); err != nil || len(missing) != 2 {
				t.Fatalf("node %d still holds slivers of the invalid blob (missing %v, %v)", i, missing, err)
			}
		}
	}
	// The consistent blob is untouched.
	if !pn.holdsAll(0, honest) {
		t.Fatal("node 0 lost slivers of the consistent blob")
	}
}

// TestCorruptSliverRepaired: a sliver whose stored bytes no longer match its hash is found
// by the scrubber, or when the node serves recovery symbols from it, quarantined and rebuilt
// from the other nodes.
func TestCorruptSliverRepaired(t *testing.T) {
	pn := newPeerNet(t, testShards, 4)
	for i := range pn.nodes {
		pn.start(i, func(c *Config) {
			if i == 0 {
				c.ScrubInterval = 100 * time.Millisecond
			}
		})
	}
	e := testBlob(t, pn.enc, 50_000, 51)
	id := pn.write(e, nil, -1)
	ctx := context.Background()
	corrupt := func(i int, a redstuff.Axis) (uint16, int) {
		owned, _ := pn.ownedPairs(id, i)
		shard := uint16(blob.ShardIndex(id, testShards, owned[0]))
		data, err := pn.nodes[i].store.SliverData(ctx, shard, id, a)
		if err != nil {
			t.Fatal(err)
		}
		data = bytes.Clone(data)
		data[len(data)/2] ^= 0x5a // inside the symbols: still decodes, no longer matches its hash
		if err := pn.nodes[i].store.PutSliverData(ctx, shard, id, a, data); err != nil {
			t.Fatal(err)
		}
		return shard, owned[0]
	}

	// Node 0: found by its scrubber.
	corrupt(0, redstuff.Secondary)
	waitFor(t, "node 0's scrubber to quarantine the sliver", func() bool {
		return pn.nodes[0].metric(t, "floe_node_scrub_quarantined_total") >= 1
	})
	waitFor(t, "node 0 to repair the sliver", func() bool { return pn.holdsAll(0, e) })

	// Node 1 (no scrubber): found when serving recovery symbols from it; the corrupt sliver's
	// symbols are not served.
	_, pair := corrupt(1, redstuff.Primary)
	target := pn.enc.Params().SliverIndex(redstuff.Secondary, (pair+1)%testShards)
	r := pn.nodes[1].get(t, api.RecoverySymbolsForSliverPath(id.String(), target, "secondary"))
	if r.code == 200 {
		syms, err := blob.UnmarshalGeneralRecoverySymbols(r.body)
		if err != nil {
			t.Fatal(err)
		}
		for _, sym := range syms {
			if sym.SourceIndex == pair {
				t.Fatal("node 1 served a recovery symbol from its corrupt sliver")
			}
			if err := blob.VerifyRecoverySymbol(pn.enc, blob.NewMetadata(&e.Commitment), sym); err != nil {
				t.Fatalf("node 1 served an invalid symbol: %v", err)
			}
		}
	} else {
		expect(t, "recovery symbols from a node whose only source is corrupt", r, 404, api.ReasonSliverNotFound)
	}
	if got := pn.nodes[1].metric(t, "floe_node_read_quarantined_total"); got != 1 {
		t.Fatalf("node 1 quarantined %v slivers on reads, want 1", got)
	}
	waitFor(t, "node 1 to repair the sliver", func() bool { return pn.holdsAll(1, e) })
	// The rebuilt sliver is stored before its quarantine record is dropped.
	waitFor(t, "node 1's quarantine to empty after the repair", func() bool {
		q, err := pn.nodes[1].store.Quarantined(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(q) == 0
	})

	// Node 2 verifies what it serves: a corrupt sliver is not served but repaired.
	pn.stop(2, false)
	pn.start(2, func(c *Config) { c.VerifyReads = true })
	_, pair = corrupt(2, redstuff.Primary)
	expect(t, "GET of a corrupt sliver", pn.nodes[2].get(t, api.SliverPath(id.String(), pair, "primary")), 404, api.ReasonSliverNotFound)
	waitFor(t, "node 2 to repair the sliver", func() bool { return pn.holdsAll(2, e) })
	expect(t, "GET of the repaired sliver", pn.nodes[2].get(t, api.SliverPath(id.String(), pair, "primary")), 200, "")
	if got := pn.nodes[2].metric(t, "floe_node_read_quarantined_total"); got != 1 {
		t.Fatalf("node 2 quarantined %v slivers on reads, want 1", got)
	}
}

// TestRecoveryLyingPeer: a peer that answers recovery-symbol requests with symbols that do not
// match their proofs is worked around: the recovering node rejects them and rebuilds its
// slivers from the honest nodes.
func TestRecoveryLyingPeer(t *testing.T) {
	pn := newPeerNet(t, testShards, 4)
	pn.start(1, nil)
	pn.start(2, nil)
	// Several blobs: each recovery asks the peers in a random order, and the liar must be
	// asked at least once (the chance it never is, over 8 recovery phases, is below 1e-3).
	var blobs []*redstuff.Encoding
	encodings := map[blob.ID]*redstuff.Encoding{}
	for i := range 4 {
		e := testBlob(t, pn.enc, 20_000, byte(61+i))
		blobs = append(blobs, e)
		encodings[blob.NewMetadata(&e.Commitment).ID] = e
	}
	// Node 3 is replaced by a liar on its address and key; node 0 is absent during the write.
	var lies atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+api.RouteRecoverySymbols, func(w http.ResponseWriter, r *http.Request) {
		bid, err := blob.ParseID(r.PathValue("blob_id"))
		e := encodings[bid]
		if err != nil || e == nil {
			http.Error(w, "unknown blob", 404)
			return
		}
		q := r.URL.Query()
		src, err := blob.ParseAxis(q.Get(api.QueryProofAxis))
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		var out []redstuff.RecoverySymbol
		for _, s := range q[api.QuerySymbolID] {
			sid, err := blob.ParseSymbolID(s)
			if err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			source, _ := e.Pair(int(sid.Primary))
			target := int(sid.Secondary)
			if src == redstuff.Secondary {
				_, source = e.Pair(pn.enc.Params().PairIndex(redstuff.Secondary, int(sid.Secondary)))
				target = int(sid.Primary)
			}
			syms, err := pn.enc.RecoverySymbols(source, []int{target})
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			syms[0].Data[0] ^= 1 // a lie: the proof no longer matches
			out = append(out, syms...)
		}
		lies.Add(int64(len(out)))
		b, err := blob.MarshalGeneralRecoverySymbols(out)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", api.ContentTypeOctetStream)
		_, _ = w.Write(b)
	})
	pn.impostor(3, mux)
	pn.writeWithout0(blobs)
	pn.start(0, nil)
	for _, e := range blobs {
		waitFor(t, "node 0 to recover despite the liar", func() bool { return pn.holdsAll(0, e) })
	}
	if lies.Load() == 0 {
		t.Fatal("the liar was never asked: the test proves nothing")
	}
}

// TestRecoveryStalledPeer: a peer that accepts recovery-symbol requests and never answers
// does not hold up recovery for the peer timeout (set to an hour here): after RecoveryHedge the
// node asks other peers in its place, and asks the stalled one last from then on.
func TestRecoveryStalledPeer(t *testing.T) {
	pn := newPeerNet(t, testShards, 4)
	pn.start(1, nil)
	pn.start(2, nil)
	var blobs []*redstuff.Encoding
	for i := range 4 {
		blobs = append(blobs, testBlob(t, pn.enc, 20_000, byte(91+i)))
	}
	var stalled atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+api.RouteRecoverySymbols, func(w http.ResponseWriter, r *http.Request) {
		stalled.Add(1)
		<-r.Context().Done()
	})
	pn.impostor(3, mux)
	pn.writeWithout0(blobs)
	pn.start(0, func(c *Config) {
		c.PeerTimeout = time.Hour
		c.RecoveryHedge = 100 * time.Millisecond
		c.RecoveryWorkers = 1
	})
	for _, e := range blobs {
		waitFor(t, "node 0 to recover despite the stalled peer", func() bool { return pn.holdsAll(0, e) })
	}
	if stalled.Load() == 0 {
		t.Fatal("the stalled peer was never asked: the test proves nothing")
	}
	// Once it stalled, later recoveries ask it last (not at all here: the others suffice).
	if n := stalled.Load(); n > 2 {
		t.Fatalf("the stalled peer was asked %d times over 4 blobs", n)
	}
}

// impostor serves h on node i's address with its TLS identity, in place of the node, and
// like a node plain HTTP to its loopback peers.
func (pn *peerNet) impostor(i int, h http.Handler) {
	srv := &http.Server{Handler: h, TLSConfig: nodetls.ServerConfig(pn.certs[i]), ReadHeaderTimeout: 5 * time.Second, Protocols: nodeProtocols()}
	ln := pn.lns[i]
	pn.lns[i] = nil
	go func() { _ = srv.Serve(nodetls.NewListener(ln, srv.TLSConfig, nodetls.ListenerOptions{})) }()
	pn.t.Cleanup(func() { srv.Close() })
}

// writeWithout0 writes the blobs with node 0 absent, checking that the shard layout leaves
// node 0 enough sources besides node 3 (the impostor) to recover each.
func (pn *peerNet) writeWithout0(blobs []*redstuff.Encoding) {
	pn.t.Helper()
	for _, e := range blobs {
		id := pn.write(e, map[int]bool{0: true}, -1)
		owned, _ := pn.ownedPairs(id, 0)
		impostorPairs, _ := pn.ownedPairs(id, 3)
		p := pn.enc.Params()
		if honest := testShards - len(owned) - len(impostorPairs); honest < p.PrimarySource || honest+len(owned) < p.SecondarySource {
			pn.t.Fatalf("shard layout leaves too few honest sources (%d)", honest)
		}
	}
}
