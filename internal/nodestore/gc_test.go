package nodestore

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/redstuff"
)

// gcBlob describes one blob of the GC test: its events and what must remain at epoch 10.
type gcBlob struct {
	name      string
	changes   []BlobChange
	keepData  bool
	keepInfo  bool
	collected bool // counted as Expired
	invalid   bool // counted as Invalid
}

func TestCollectGarbage(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	const epoch = 10
	reg := func(end uint32, del bool) BlobChange {
		return BlobChange{Kind: Registered, EndEpoch: end, Deletable: del, Event: ev(1)}
	}
	blobs := []gcBlob{
		{name: "live permanent", changes: []BlobChange{reg(11, false)}, keepData: true, keepInfo: true},
		{name: "expired exactly now", changes: []BlobChange{reg(10, false)}, collected: true},
		{name: "long expired", changes: []BlobChange{reg(3, false)}, collected: true},
		{name: "live deletable", changes: []BlobChange{reg(20, true)}, keepData: true, keepInfo: true},
		{name: "deleted deletable", changes: []BlobChange{reg(20, true), {Kind: Deleted, Deletable: true, EndEpoch: 20}}, collected: true},
		{name: "one of two deletables deleted", changes: []BlobChange{reg(20, true), reg(20, true), {Kind: Deleted, Deletable: true, EndEpoch: 20}},
			keepData: true, keepInfo: true},
		{name: "expired permanent, live deletable", changes: []BlobChange{reg(5, false), reg(15, true)}, keepData: true, keepInfo: true},
		{name: "extended", changes: []BlobChange{reg(5, false), {Kind: Extended, EndEpoch: 12}}, keepData: true, keepInfo: true},
		{name: "invalid, registration live", changes: []BlobChange{reg(30, false), {Kind: Invalidated, Epoch: 4, Event: ev(9)}},
			keepInfo: true, invalid: true},
		{name: "invalid, registration over", changes: []BlobChange{reg(8, false), {Kind: Invalidated, Epoch: 4}}, invalid: true},
	}
	shards := []uint16{1, 4, 600}
	ids := make([]blob.ID, len(blobs))
	for i, b := range blobs {
		ids[i] = id(byte(i + 1))
		if err := s.ApplyEvent(ctx, uint64(i+1), func(tx *EventTx) error {
			for _, c := range b.changes {
				if _, err := tx.ApplyChange(ids[i], c); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatalf("%s: %v", b.name, err)
		}
		batch := s.NewBatch()
		md := &blob.MetadataWithID{ID: ids[i], Metadata: blob.Metadata{EncodingType: blob.RS2, UnencodedLength: 5}}
		if err := batch.PutMetadata(md); err != nil {
			t.Fatal(err)
		}
		for _, sh := range shards {
			for _, a := range []redstuff.Axis{redstuff.Primary, redstuff.Secondary} {
				if err := batch.PutSliver(sh, ids[i], smallSliver(a, 3, byte(i))); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := s.Commit(ctx, batch); err != nil {
			t.Fatal(err)
		}
		batch.Close()
	}
	// A quarantined sliver of an expired blob goes too.
	if _, err := s.quarantine(SliverRef{600, ids[1], redstuff.Primary}, nil, mustSliverData(t, smallSliver(redstuff.Primary, 3, 1)), "test"); err != nil {
		t.Fatal(err)
	}

	rep, err := s.CollectGarbage(ctx, epoch)
	if err != nil {
		t.Fatal(err)
	}
	var want GCReport
	want.BlobsScanned = len(blobs)
	for _, b := range blobs {
		if b.collected {
			want.Expired++
		}
		if b.invalid {
			want.Invalid++
		}
		if !b.keepInfo {
			want.InfosDeleted++
		}
		if !b.keepData {
			want.MetadataDeleted++
			want.SliversDeleted += 2 * len(shards)
		}
	}
	want.SliversDeleted-- // the quarantined one
	want.QuarantinedDeleted = 1
	if rep != want {
		t.Fatalf("report =\n %+v, want\n %+v", rep, want)
	}
	for i, b := range blobs {
		t.Run(b.name, func(t *testing.T) {
			hasMD, err := s.HasMetadata(ctx, ids[i])
			if err != nil {
				t.Fatal(err)
			}
			missing, err := s.MissingSlivers(ctx, ids[i], shards)
			if err != nil {
				t.Fatal(err)
			}
			if b.keepData != hasMD || b.keepData != (len(missing) == 0) {
				t.Fatalf("metadata %v, %d slivers missing; keepData %v", hasMD, len(missing), b.keepData)
			}
			if !b.keepData && len(missing) != 2*len(shards) {
				t.Fatalf("%d of %d slivers deleted", len(missing), 2*len(shards))
			}
			_, err = s.BlobInfo(ctx, ids[i])
			if b.keepInfo != (err == nil) || (err != nil && !errors.Is(err, ErrNotFound)) {
				t.Fatalf("blob info: %v; keepInfo %v", err, b.keepInfo)
			}
		})
	}
	if q, _ := s.Quarantined(ctx); len(q) != 0 {
		t.Fatalf("quarantined slivers of collected blobs remain: %v", q)
	}
	// The invalid blob keeps answering "invalid".
	if st, _ := s.BlobStatus(ctx, ids[8], epoch); st.Kind != StatusInvalid || st.Event != ev(9) {
		t.Fatalf("status of kept invalid blob = %+v", st)
	}

	// A second run finds nothing more to do.
	rep, err = s.CollectGarbage(ctx, epoch)
	if err != nil {
		t.Fatal(err)
	}
	if (rep != GCReport{BlobsScanned: 6}) {
		t.Fatalf("second run: %+v", rep)
	}
	// Later, everything has expired.
	rep, err = s.CollectGarbage(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Expired != 5 || rep.Invalid != 1 || rep.InfosDeleted != 6 {
		t.Fatalf("run at epoch 100: %+v", rep)
	}
	if shards, _ := s.Shards(ctx); len(shards) != 0 {
		t.Fatalf("slivers left on shards %v", shards)
	}
}

// TestCollectGarbageChunks runs GC over more blobs than one chunk and stops on cancellation.
func TestCollectGarbageChunks(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	const n = gcChunk*2 + 7
	err := s.ApplyEvent(ctx, 1, func(tx *EventTx) error {
		for i := 0; i < n; i++ {
			var x blob.ID
			copy(x[:], fmt.Sprintf("%08d", i))
			if _, err := tx.ApplyChange(x, BlobChange{Kind: Registered, EndEpoch: uint32(1 + i%2)}); err != nil {
				return err
			}
			if err := tx.b.Set(sliverKey(prefixSliver, uint16(i%3), x, redstuff.Primary), mustSliverData(t, smallSliver(redstuff.Primary, 0, 1)), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.CollectGarbage(cctx, 5); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled GC: %v", err)
	}
	rep, err := s.CollectGarbage(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := (n + 1) / 2; rep.Expired != want || rep.SliversDeleted != want || rep.BlobsScanned != n {
		t.Fatalf("report %+v, want %d expired of %d", rep, want, n)
	}
}

func mustSliverData(t testing.TB, sl redstuff.Sliver) []byte {
	t.Helper()
	v, err := blob.MarshalSliverData(sl)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
