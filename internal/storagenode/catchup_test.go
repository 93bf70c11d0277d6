package storagenode

import (
	"context"
	"errors"
	"strings"
	"testing"

	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/controlplane"
	"github.com/floelabs/floe/internal/controlplane/embedded"
	"github.com/floelabs/floe/internal/controlplane/eventlog"
)

// TestCatchUpAfterPruning: a node stopped while the control plane prunes the events it has
// not applied yet (small RetainEvents and segments) catches up from the state listing when
// restarted: it reports the blobs certified and registered meanwhile, accepts uploads of the
// registered one, recovers the slivers it missed and keeps what it held, and follows the
// events from there on.
func TestCatchUpAfterPruning(t *testing.T) {
	pn := newPeerNetChain(t, testShards, 4, nil, func(o *embedded.Options) {
		o.SnapshotInterval, o.RetainEvents, o.EventSegmentBytes = 1, 1, 256
	})
	for i := range 4 {
		pn.start(i, nil)
	}
	before := testBlob(t, pn.enc, 20_000, 51)
	pn.write(before, nil, -1)
	node := pn.nodes[0]
	node.waitApplied(t, pn.chain)
	last, ok, err := node.store.EventCursor(context.Background())
	if err != nil || !ok {
		t.Fatalf("node 0's event cursor: %v %v", ok, err)
	}
	seq := last + 1 // the next event node 0 needs
	pn.stop(0, false)

	// While node 0 is down: a blob certified without it, one registered only, and more
	// blobs until the events node 0 needs next are pruned.
	missed := testBlob(t, pn.enc, 30_000, 52)
	missedID := pn.write(missed, map[int]bool{0: true}, -1)
	registered := testBlob(t, pn.enc, 10_000, 53)
	pn.register(registered, false)
	for i := 0; !pruned(t, pn.chain, seq); i++ {
		if i == 50 {
			t.Fatalf("events from %d still retained after 50 more registrations", seq)
		}
		pn.register(testBlob(t, pn.enc, 1000, byte(60+i)), false)
	}

	node = pn.start(0, nil)
	node.waitApplied(t, pn.chain)
	regID := blob.NewMetadata(&registered.Commitment).ID
	for _, tc := range []struct {
		id   blob.ID
		want string
	}{{missedID, `"isCertified":true`}, {regID, `"isCertified":false`}, {blob.NewMetadata(&before.Commitment).ID, `"isCertified":true`}} {
		r := node.get(t, api.BlobStatusPath(tc.id.String()))
		if r.code != 200 || !strings.Contains(string(r.body), tc.want) {
			t.Fatalf("status of %s after the catch-up: %d %s, want %s", tc.id, r.code, r.body, tc.want)
		}
	}
	expect(t, "metadata of the blob registered while the node was down", node.put(t, api.MetadataPath(regID.String()), metadataBody(t, registered)), 201, "")
	waitFor(t, "node 0 to recover the blob certified while it was down", func() bool { return pn.holdsAll(0, missed) })
	if !pn.holdsAll(0, before) {
		t.Fatal("node 0 lost slivers it held before the catch-up")
	}
	// It follows events again from the listing's point.
	after := testBlob(t, pn.enc, 5000, 54)
	pn.write(after, nil, -1)
	node.waitApplied(t, pn.chain)
	if r := node.get(t, api.BlobStatusPath(blob.NewMetadata(&after.Commitment).ID.String())); !strings.Contains(string(r.body), `"isCertified":true`) {
		t.Fatalf("status of a blob certified after the catch-up: %s", r.body)
	}
}

// pruned reports whether the chain no longer has the event seq.
func pruned(t *testing.T, chain *embedded.Chain, seq uint64) bool {
	t.Helper()
	var next uint64
	chain.View(func(s *controlplane.State, _ controlplane.Hash) { next = s.EventSeq() })
	if seq >= next {
		return false
	}
	_, err := chain.Events(context.Background(), seq, 1)
	if err != nil && !errors.Is(err, eventlog.ErrPruned) {
		t.Fatal(err)
	}
	return err != nil
}
