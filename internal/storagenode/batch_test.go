package storagenode

import (
	"bytes"
	"encoding/json"
	"runtime"
	"testing"
	"time"

	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/hugemem"
	"github.com/floelabs/floe/internal/protocol"
	"github.com/floelabs/floe/redstuff"
)

// batchBody frames metadata (if withMD) and both slivers of pairs.
func batchBody(t testing.TB, e *redstuff.Encoding, pairs []int, withMD bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	bw, err := api.NewBatchWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if withMD {
		if err := bw.WriteMetadata(metadataBody(t, e)); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range pairs {
		pr, se := e.Pair(p)
		if err := bw.WriteSliver(uint16(p), false, sliverBody(t, pr)); err != nil {
			t.Fatal(err)
		}
		if err := bw.WriteSliver(uint16(p), true, sliverBody(t, se)); err != nil {
			t.Fatal(err)
		}
	}
	if err := bw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func batchResult(t *testing.T, r response) api.BatchResult {
	t.Helper()
	var s api.Success[api.BatchResult]
	if err := json.Unmarshal(r.body, &s); err != nil {
		t.Fatalf("batch result %s: %v", r.body, err)
	}
	return s.Success.Data
}

func TestSliverBatch(t *testing.T) {
	tn := newTestNet(t, testShards, 2)
	node := tn.startNode(0, nil)
	enc, _ := redstuff.New(testShards)
	e := testBlob(t, enc, 20000, 2)
	id := blob.NewMetadata(&e.Commitment).ID
	owned, unowned := tn.ownedPairs(id, 0)
	path := api.SliverBatchPath(id.String())
	ct := api.ContentTypeSliverBatch

	expect(t, "batch unregistered", node.do(t, "PUT", path, batchBody(t, e, owned, true), ct), 400, api.ReasonNotRegistered)
	tn.register(e, false)
	node.waitApplied(t, tn.chain)

	body := batchBody(t, e, owned, true)
	expect(t, "batch truncated", node.do(t, "PUT", path, body[:len(body)-20], ct), 400, api.ReasonTruncatedBody)
	expect(t, "batch malformed", node.do(t, "PUT", path, append([]byte("XXXX"), body[4:]...), ct), 400, api.ReasonMalformedBody)
	expect(t, "batch unowned", node.do(t, "PUT", path, batchBody(t, e, []int{unowned}, true), ct), 400, api.ReasonShardNotAssigned)
	// A sliver framed under the wrong pair.
	var buf bytes.Buffer
	bw, _ := api.NewBatchWriter(&buf)
	pr, _ := e.Pair(owned[0])
	bw.WriteSliver(uint16((owned[0]+1)%testShards), false, sliverBody(t, pr))
	bw.Close()
	expect(t, "batch wrong pair", node.do(t, "PUT", path, buf.Bytes(), ct), 400, api.ReasonSliverIndexMismatch)

	// Confirmation long-polls are refused before the slivers are in.
	expect(t, "confirmation before batch", node.get(t, api.PermanentConfirmationPath(id.String())), 400, api.ReasonMissingSlivers)
	r := node.do(t, "PUT", path, body, ct)
	expect(t, "batch", r, 200, "")
	// The truncated upload above stored the verified slivers before the point it was cut at.
	if res := batchResult(t, r); res.Stored+res.AlreadyStored != 2*len(owned) || res.Stored == 0 || res.Metadata != api.Stored {
		t.Fatalf("batch result %+v, want %d stored", res, 2*len(owned))
	}
	r = node.do(t, "PUT", path, body, ct)
	if res := batchResult(t, r); res.AlreadyStored != 2*len(owned) || res.Stored != 0 {
		t.Fatalf("repeated batch result %+v", res)
	}
	for _, p := range owned {
		pr, se := e.Pair(p)
		for _, s := range []redstuff.Sliver{pr, se} {
			r := node.get(t, api.SliverPath(id.String(), p, s.Axis.String()))
			if r.code != 200 || !bytes.Equal(r.body, sliverBody(t, s)) {
				t.Fatalf("GET after batch: %d", r.code)
			}
		}
	}
	expect(t, "confirmation after batch", node.get(t, api.PermanentConfirmationPath(id.String())), 200, "")
}

func TestPendingAndDeletable(t *testing.T) {
	tn := newTestNet(t, testShards, 2)
	node := tn.startNode(0, func(c *Config) { c.MaxPendingBytes = 1 << 20 })
	enc, _ := redstuff.New(testShards)
	e := testBlob(t, enc, 3000, 3)
	id := blob.NewMetadata(&e.Commitment).ID
	owned, _ := tn.ownedPairs(id, 0)
	ids := id.String()

	// Pending uploads before the registration are buffered.
	expect(t, "pending metadata", node.put(t, api.MetadataPath(ids)+"?pending=true", metadataBody(t, e)), 202, "")
	if r := node.get(t, api.MetadataStatusPath(ids)); !bytes.Contains(r.body, []byte(`"buffered"`)) {
		t.Fatalf("metadata status: %s", r.body)
	}
	for _, p := range owned {
		pr, se := e.Pair(p)
		expect(t, "pending primary", node.put(t, api.SliverPath(ids, p, "primary")+"?pending=true", sliverBody(t, pr)), 202, "")
		expect(t, "pending secondary", node.put(t, api.SliverPath(ids, p, "secondary")+"?pending=true", sliverBody(t, se)), 202, "")
	}
	if r := node.get(t, api.SliverStatusPath(ids, owned[0], "primary")); !bytes.Contains(r.body, []byte(`"buffered"`)) {
		t.Fatalf("sliver status: %s", r.body)
	}
	// A long-polling confirmation waits for the registration, then finds everything stored.
	done := make(chan response, 1)
	go func() {
		done <- node.get(t, api.DeletableConfirmationPath(ids, "0x"+"00"+string(bytes.Repeat([]byte("0"), 62)))+"?wait_for_registration=true&wait_millis=200")
	}()
	expect(t, "deletable confirmation of an unknown object", <-done, 400, api.ReasonNotRegistered)

	// Register as deletable while a confirmation request is waiting.
	got := make(chan response, 1)
	objCh := make(chan string, 1)
	go func() {
		obj := <-objCh
		got <- node.get(t, api.DeletableConfirmationPath(ids, obj)+"?wait_for_registration=true&wait_millis=5000")
	}()
	obj := tn.register(e, true)
	objCh <- obj.String()
	r := <-got
	expect(t, "deletable confirmation", r, 200, "")
	checkConfirmation(t, r.body, tn.net.NodeKeys[0].PublicKey(), id, protocol.Deletable(protocol.ObjectID(obj)))
	if r := node.get(t, api.SliverStatusPath(ids, owned[0], "primary")); !bytes.Contains(r.body, []byte(`"stored"`)) {
		t.Fatalf("sliver status after registration: %s", r.body)
	}
	expect(t, "permanent confirmation of a deletable blob", node.get(t, api.PermanentConfirmationPath(ids)), 200, "")

	// The pending buffer is bounded.
	big := testBlob(t, enc, 600000, 4)
	bid := blob.NewMetadata(&big.Commitment).ID.String()
	expect(t, "pending metadata 2", node.put(t, api.MetadataPath(bid)+"?pending=true", metadataBody(t, big)), 202, "")
	bOwned, _ := tn.ownedPairs(blob.NewMetadata(&big.Commitment).ID, 0)
	saturated := false
	for _, p := range bOwned {
		pr, se := big.Pair(p)
		for _, s := range []redstuff.Sliver{pr, se} {
			r := node.put(t, api.SliverPath(bid, p, s.Axis.String())+"?pending=true", sliverBody(t, s))
			if r.code == 429 && r.reason() == api.ReasonCacheSaturated {
				saturated = true
			}
		}
	}
	if !saturated {
		t.Fatal("a 1 MiB pending buffer accepted a 600 kB blob's slivers (x4.5)")
	}
}

// TestBatchWaitsForRegistration: a pending batch that arrives just before the node sees its
// blob's registration waits for it and stores its slivers at once, not through the pending
// buffer; one whose registration does not come within the wait is buffered.
func TestBatchWaitsForRegistration(t *testing.T) {
	tn := newTestNet(t, testShards, 2)
	node := tn.startNode(0, nil)
	enc, _ := redstuff.New(testShards)
	ct := api.ContentTypeSliverBatch

	never := testBlob(t, enc, 20000, 7)
	nid := blob.NewMetadata(&never.Commitment).ID
	nOwned, _ := tn.ownedPairs(nid, 0)
	r := node.do(t, "PUT", api.SliverBatchPath(nid.String())+"?pending=true", batchBody(t, never, nOwned, true), ct)
	expect(t, "batch of a blob never registered", r, 200, "")
	if res := batchResult(t, r); !res.Buffered || res.Stored != 2*len(nOwned) {
		t.Fatalf("batch of a blob never registered: %+v, want %d slivers buffered", res, 2*len(nOwned))
	}
	if b := node.metric(t, "floe_node_slivers_total", "outcome", "buffered"); b != float64(2*len(nOwned)) {
		t.Fatalf("%v slivers buffered, want %d", b, 2*len(nOwned))
	}

	e := testBlob(t, enc, 20000, 8)
	id := blob.NewMetadata(&e.Commitment).ID
	owned, _ := tn.ownedPairs(id, 0)
	registered := make(chan struct{})
	go func() {
		defer close(registered)
		time.Sleep(300 * time.Millisecond) // the batch below is on its way by then
		tn.register(e, false)
	}()
	r = node.do(t, "PUT", api.SliverBatchPath(id.String())+"?pending=true", batchBody(t, e, owned, true), ct)
	<-registered
	expect(t, "batch just before its registration", r, 200, "")
	if res := batchResult(t, r); res.Buffered || res.Stored != 2*len(owned) {
		t.Fatalf("batch just before its registration: %+v, want %d slivers stored", res, 2*len(owned))
	}
	if b := node.metric(t, "floe_node_slivers_total", "outcome", "buffered"); b != float64(2*len(nOwned)) {
		t.Fatalf("%v slivers buffered, want only the %d of the blob never registered", b, 2*len(nOwned))
	}
}

// TestSliverBatchFrameMemory: slivers large enough for the huge-page frame buffers
// (hugemem.MinSize) are received into them, and every buffer goes back whatever becomes of
// its frame: stored, already held, refused (wrong pair), cut short (truncated body).
func TestSliverBatchFrameMemory(t *testing.T) {
	tn := newTestNet(t, testShards, 2)
	node := tn.startNode(0, nil)
	enc, _ := redstuff.New(testShards)
	e := testBlob(t, enc, 1_800_000, 5)
	id := blob.NewMetadata(&e.Commitment).ID
	owned, _ := tn.ownedPairs(id, 0)
	if pr, se := e.Pair(owned[0]); len(pr.Data) < hugemem.MinSize || len(se.Data) < hugemem.MinSize {
		t.Fatalf("slivers of %d and %d bytes: too small for the frame memory", len(pr.Data), len(se.Data))
	}
	path := api.SliverBatchPath(id.String())
	ct := api.ContentTypeSliverBatch
	tn.register(e, false)
	node.waitApplied(t, tn.chain)
	inUse := func(what string) {
		t.Helper()
		mapped, out := node.e.Uploads.FrameMemory()
		if runtime.GOOS == "linux" && mapped == 0 {
			t.Fatalf("%s: no frame memory mapped on Linux", what)
		}
		if out != 0 {
			t.Fatalf("%s: %d bytes of frame buffers not given back", what, out)
		}
	}
	body := batchBody(t, e, owned, true)
	expect(t, "batch truncated", node.do(t, "PUT", path, body[:len(body)-len(body)/3], ct), 400, api.ReasonTruncatedBody)
	inUse("truncated")
	var buf bytes.Buffer
	bw, _ := api.NewBatchWriter(&buf)
	pr, _ := e.Pair(owned[0])
	bw.WriteSliver(uint16((owned[0]+1)%testShards), false, sliverBody(t, pr))
	bw.Close()
	expect(t, "batch wrong pair", node.do(t, "PUT", path, buf.Bytes(), ct), 400, api.ReasonSliverIndexMismatch)
	inUse("wrong pair")
	expect(t, "batch", node.do(t, "PUT", path, body, ct), 200, "")
	inUse("stored")
	if res := batchResult(t, node.do(t, "PUT", path, body, ct)); res.AlreadyStored != 2*len(owned) {
		t.Fatalf("repeated batch result %+v", res)
	}
	inUse("already held")
}
