package nodestore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/redstuff"
)

func TestScrubQuarantine(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	e := newEncoder(t)
	b1 := encodeBlob(t, e, 11, 4000)
	b2 := encodeBlob(t, e, 12, 700)
	storeAll(t, s, b1, 0, 5)
	storeAll(t, s, b2, 0, 5)
	metas := map[blob.ID]*blob.MetadataWithID{b1.meta.ID: b1.meta, b2.meta.ID: b2.meta}

	// Corruptions: a flipped bit in b1's primary on shard 5, b2's secondary on shard 0
	// swapped for another sliver's data, and undecodable bytes for b1's secondary on shard 0.
	p, _ := b1.pair(5)
	flipped := p
	flipped.Data = slices.Clone(p.Data)
	flipped.Data[len(flipped.Data)/2] ^= 0x10
	if err := s.PutSliver(ctx, 5, b1.meta.ID, flipped); err != nil {
		t.Fatal(err)
	}
	_, q2 := b2.pair(0)
	_, other := b2.pair(5)
	q2.Data = other.Data
	if err := s.PutSliver(ctx, 0, b2.meta.ID, q2); err != nil {
		t.Fatal(err)
	}
	garbage := []byte{0xff, 0xff, 0xff}
	if err := s.write(func(bt *pebble.Batch) error {
		return bt.Set(sliverKey(prefixSliver, 0, b1.meta.ID, redstuff.Secondary), garbage, nil)
	}); err != nil {
		t.Fatal(err)
	}
	// A sliver of a blob without metadata is skipped, not quarantined.
	orphan := id(0xaa)
	if err := s.PutSliver(ctx, 5, orphan, smallSliver(redstuff.Primary, 1, 1)); err != nil {
		t.Fatal(err)
	}

	verify := func(ref SliverRef, sl redstuff.Sliver) error {
		m, ok := metas[ref.BlobID]
		if !ok {
			return fmt.Errorf("%w: no metadata", ErrSkipSliver)
		}
		if pair := blob.PairIndex(ref.BlobID, testShards, int(ref.Shard)); sl.Index != e.Params().SliverIndex(ref.Axis, pair) {
			return fmt.Errorf("sliver index %d on shard %d", sl.Index, ref.Shard)
		}
		return blob.VerifySliver(e, m, sl)
	}
	rep, err := s.Scrub(ctx, verify)
	if err != nil {
		t.Fatal(err)
	}
	wantQ := []SliverRef{
		{0, b1.meta.ID, redstuff.Secondary},
		{0, b2.meta.ID, redstuff.Secondary},
		{5, b1.meta.ID, redstuff.Primary},
	}
	slices.SortFunc(wantQ, func(a, b SliverRef) int {
		return slices.Compare(a.key(prefixSliver), b.key(prefixSliver))
	})
	if !slices.Equal(rep.Quarantined, wantQ) {
		t.Fatalf("quarantined %v, want %v", rep.Quarantined, wantQ)
	}
	if rep.Checked != 8 || rep.Skipped != 1 || rep.Bytes == 0 {
		t.Fatalf("report %+v, want 8 checked, 1 skipped", rep)
	}
	for _, ref := range wantQ {
		if ok, _ := s.HasSliver(ctx, ref.Shard, ref.BlobID, ref.Axis); ok {
			t.Fatalf("quarantined %s is still served", ref)
		}
	}
	missing, _ := s.MissingSlivers(ctx, b1.meta.ID, []uint16{0, 5})
	if len(missing) != 2 {
		t.Fatalf("MissingSlivers after quarantine: %v", missing)
	}
	q, err := s.Quarantined(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(q) != 3 {
		t.Fatalf("Quarantined() has %d entries", len(q))
	}
	for _, x := range q {
		if x.Reason == "" {
			t.Fatalf("quarantined %s without a reason", x.Ref)
		}
		want := mustSliverData(t, flipped)
		switch x.Ref {
		case SliverRef{0, b1.meta.ID, redstuff.Secondary}:
			want = garbage
		case SliverRef{0, b2.meta.ID, redstuff.Secondary}:
			want = mustSliverData(t, q2)
		}
		if !slices.Equal(x.Data, want) {
			t.Fatalf("quarantine of %s did not keep the stored bytes", x.Ref)
		}
	}

	// The node rebuilds the slivers; a second scrub is clean.
	for _, ref := range wantQ {
		b := b1
		if ref.BlobID == b2.meta.ID {
			b = b2
		}
		p, q := b.pair(int(ref.Shard))
		sl := p
		if ref.Axis == redstuff.Secondary {
			sl = q
		}
		if err := s.PutSliver(ctx, ref.Shard, ref.BlobID, sl); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteQuarantined(ctx, ref); err != nil {
			t.Fatal(err)
		}
	}
	rep, err = s.Scrub(ctx, verify)
	if err != nil || len(rep.Quarantined) != 0 || rep.Checked != 8 {
		t.Fatalf("second scrub: %+v, %v", rep, err)
	}
	if q, _ := s.Quarantined(ctx); len(q) != 0 {
		t.Fatalf("quarantine not emptied: %d", len(q))
	}

	// A cancelled scrub stops with ctx's error.
	cctx, cancel := context.WithCancel(ctx)
	calls := 0
	_, err = s.Scrub(cctx, func(SliverRef, redstuff.Sliver) error {
		calls++
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Fatalf("cancelled scrub: %v after %d calls", err, calls)
	}
}

// TestQuarantineSkipsRewritten: a sliver rewritten after the scrubber read it is not moved.
func TestQuarantineSkipsRewritten(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	old := smallSliver(redstuff.Primary, 1, 1)
	if err := s.PutSliver(ctx, 2, id(1), old); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Scrub(ctx, func(ref SliverRef, sl redstuff.Sliver) error {
		// The node rebuilds the sliver while the scrubber is judging the old one.
		if err := s.PutSliver(ctx, ref.Shard, ref.BlobID, smallSliver(redstuff.Primary, 1, 9)); err != nil {
			t.Error(err)
		}
		return errors.New("bad")
	})
	if err != nil || len(rep.Quarantined) != 0 {
		t.Fatalf("scrub: %+v, %v", rep, err)
	}
	got, err := s.Sliver(ctx, 2, id(1), redstuff.Primary)
	if err != nil || got.Data[0] != 9 {
		t.Fatalf("rewritten sliver lost: %v", err)
	}
}

// TestCloseDuringScrub: Close while a scrub's verify calls back into the store neither
// deadlocks nor quarantines slivers whose verification failed only because of the close.
func TestCloseDuringScrub(t *testing.T) {
	ctx := context.Background()
	s, err := Open("db", &Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	for i := byte(1); i <= 5; i++ {
		if err := s.PutSliver(ctx, 1, id(i), smallSliver(redstuff.Primary, 1, i)); err != nil {
			t.Fatal(err)
		}
	}
	closed := make(chan error)
	calls := 0
	rep, err := s.Scrub(ctx, func(ref SliverRef, sl redstuff.Sliver) error {
		calls++
		if calls == 2 {
			go func() { closed <- s.Close() }()
			// Wait until Close has started waiting for the scrub.
			for !s.closing() {
				time.Sleep(time.Millisecond)
			}
		}
		// The node's verify reads the metadata (there is none here): during Close it fails
		// with ErrClosed.
		if _, err := s.Metadata(ctx, ref.BlobID); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		return nil
	})
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("Scrub during Close: %v, want ErrClosed", err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if len(rep.Quarantined) != 0 || calls != 2 {
		t.Fatalf("scrub went on during Close: %d calls, quarantined %v", calls, rep.Quarantined)
	}
}
