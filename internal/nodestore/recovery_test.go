package nodestore

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/redstuff"
)

func TestBlobInfosPaging(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	var ids []blob.ID
	for i := 0; i < 7; i++ {
		bid := id(byte(10 + i))
		ids = append(ids, bid)
		err := s.ApplyEvent(ctx, uint64(i), func(tx *EventTx) error {
			_, err := tx.ApplyChange(bid, BlobChange{Kind: Registered, EndEpoch: uint32(5 + i)})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var got []BlobInfoEntry
	var start blob.ID
	for {
		page, err := s.BlobInfos(ctx, start, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 3 {
			t.Fatalf("page of %d entries, limit 3", len(page))
		}
		got = append(got, page...)
		if len(page) < 3 {
			break
		}
		start = page[len(page)-1].ID
		start[blob.IDLen-1]++ // the next ID after the last one (the test IDs end in zero bytes)
	}
	if len(got) != len(ids) {
		t.Fatalf("got %d entries, want %d", len(got), len(ids))
	}
	for i, e := range got {
		if e.ID != ids[i] || e.Info.Permanent.EndEpoch != uint32(5+i) {
			t.Fatalf("entry %d: %s end %d, want %s end %d", i, e.ID, e.Info.Permanent.EndEpoch, ids[i], 5+i)
		}
	}
}

func TestQuarantineOne(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	bid := id(0x42)
	sl := smallSliver(redstuff.Primary, 1, 1)
	if err := s.PutSliver(ctx, 3, bid, sl); err != nil {
		t.Fatal(err)
	}
	ref := SliverRef{3, bid, redstuff.Primary}
	data, err := s.SliverData(ctx, 3, bid, redstuff.Primary)
	if err != nil {
		t.Fatal(err)
	}
	// Stale bytes (the sliver was rewritten since they were read) are not quarantined.
	if moved, err := s.Quarantine(ctx, ref, append(bytes.Clone(data), 0), "stale"); err != nil || moved {
		t.Fatalf("quarantine of stale bytes: moved %v, err %v", moved, err)
	}
	if moved, err := s.Quarantine(ctx, ref, data, "bad hash"); err != nil || !moved {
		t.Fatalf("quarantine: moved %v, err %v", moved, err)
	}
	if _, err := s.Sliver(ctx, 3, bid, redstuff.Primary); !errors.Is(err, ErrNotFound) {
		t.Fatalf("quarantined sliver still served: %v", err)
	}
	missing, err := s.MissingSlivers(ctx, bid, []uint16{3})
	if err != nil || len(missing) != 2 {
		t.Fatalf("missing after quarantine: %v, %v", missing, err)
	}
	q, err := s.Quarantined(ctx)
	if err != nil || len(q) != 1 || q[0].Ref != ref || q[0].Reason != "bad hash" || !bytes.Equal(q[0].Data, data) {
		t.Fatalf("quarantined: %+v, %v", q, err)
	}
	if moved, err := s.Quarantine(ctx, ref, data, "again"); err != nil || moved {
		t.Fatalf("second quarantine: moved %v, err %v", moved, err)
	}
}
