package nodestore

import (
	"context"
	"errors"
	"testing"
)

func ev(seq uint64) EventID { return EventID{TxDigest: [32]byte{byte(seq), 0xee}, Seq: seq} }

func TestBlobInfoApplyAndStatus(t *testing.T) {
	reg := func(seq uint64, end uint32, del bool) BlobChange {
		return BlobChange{Kind: Registered, Event: ev(seq), Epoch: 1, EndEpoch: end, Deletable: del}
	}
	cert := func(seq uint64, epoch, end uint32, del bool) BlobChange {
		return BlobChange{Kind: Certified, Event: ev(seq), Epoch: epoch, EndEpoch: end, Deletable: del}
	}
	tests := []struct {
		name    string
		changes []BlobChange
		epoch   uint32
		want    BlobStatus
		reg     bool
		cert    bool
	}{
		{"nothing", nil, 1, BlobStatus{Kind: StatusNonexistent}, false, false},
		{"permanent registered", []BlobChange{reg(1, 10, false)}, 1,
			BlobStatus{Kind: StatusPermanent, EndEpoch: 10, Event: ev(1)}, true, false},
		{"permanent certified", []BlobChange{reg(1, 10, false), cert(2, 3, 10, false)}, 4,
			BlobStatus{Kind: StatusPermanent, EndEpoch: 10, Certified: true, Event: ev(2), InitialCertifiedEpoch: 3, HasInitialCertified: true}, true, true},
		{"permanent expired", []BlobChange{reg(1, 10, false), cert(2, 3, 10, false)}, 10,
			BlobStatus{Kind: StatusNonexistent}, false, false},
		{"certified short, registered long: certified wins while live",
			[]BlobChange{reg(1, 5, false), cert(2, 2, 5, false), reg(3, 20, false)}, 4,
			BlobStatus{Kind: StatusPermanent, EndEpoch: 5, Certified: true, Event: ev(2), InitialCertifiedEpoch: 2, HasInitialCertified: true}, true, true},
		{"certified expired, registered live",
			[]BlobChange{reg(1, 5, false), cert(2, 2, 5, false), reg(3, 20, false)}, 6,
			BlobStatus{Kind: StatusPermanent, EndEpoch: 20, Event: ev(3), InitialCertifiedEpoch: 2, HasInitialCertified: true}, true, false},
		{"extension", []BlobChange{reg(1, 5, false), cert(2, 2, 5, false),
			{Kind: Extended, Event: ev(3), Epoch: 4, EndEpoch: 30}}, 10,
			BlobStatus{Kind: StatusPermanent, EndEpoch: 30, Certified: true, Event: ev(3), InitialCertifiedEpoch: 2, HasInitialCertified: true}, true, true},
		{"deletable registered", []BlobChange{reg(1, 8, true)}, 2,
			BlobStatus{Kind: StatusDeletable, DeletableTotal: 1}, true, false},
		{"deletable certified twice", []BlobChange{reg(1, 8, true), reg(2, 9, true), cert(3, 2, 8, true), cert(4, 3, 9, true)}, 2,
			BlobStatus{Kind: StatusDeletable, DeletableTotal: 2, DeletableCertified: 2, InitialCertifiedEpoch: 2, HasInitialCertified: true}, true, true},
		{"deletable deleted", []BlobChange{reg(1, 8, true), cert(2, 2, 8, true),
			{Kind: Deleted, Event: ev(3), Epoch: 3, EndEpoch: 8, Deletable: true, WasCertified: true}}, 3,
			BlobStatus{Kind: StatusNonexistent}, false, false},
		{"deletable expired", []BlobChange{reg(1, 8, true)}, 8, BlobStatus{Kind: StatusNonexistent}, false, false},
		{"permanent with deletable counts", []BlobChange{reg(1, 8, true), reg(2, 10, false)}, 2,
			BlobStatus{Kind: StatusPermanent, EndEpoch: 10, Event: ev(2), DeletableTotal: 1}, true, false},
		{"deletable counts vanish when their objects expire", []BlobChange{reg(1, 8, true), reg(2, 10, false)}, 9,
			BlobStatus{Kind: StatusPermanent, EndEpoch: 10, Event: ev(2)}, true, false},
		{"invalid", []BlobChange{reg(1, 10, false), {Kind: Invalidated, Event: ev(5), Epoch: 2},
			{Kind: Invalidated, Event: ev(6), Epoch: 3}}, 2,
			BlobStatus{Kind: StatusInvalid, Event: ev(5)}, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b BlobInfo
			for _, c := range tc.changes {
				if err := b.Apply(c); err != nil {
					t.Fatalf("Apply(%v): %v", c.Kind, err)
				}
			}
			if got := b.Status(tc.epoch); got != tc.want {
				t.Fatalf("Status(%d) =\n %+v, want\n %+v", tc.epoch, got, tc.want)
			}
			if b.IsRegistered(tc.epoch) != tc.reg || b.IsCertified(tc.epoch) != tc.cert {
				t.Fatalf("IsRegistered, IsCertified = %v, %v; want %v, %v", b.IsRegistered(tc.epoch), b.IsCertified(tc.epoch), tc.reg, tc.cert)
			}
			// Every reachable info survives its encoding.
			enc, err := b.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var back BlobInfo
			if err := back.UnmarshalBinary(enc); err != nil {
				t.Fatalf("UnmarshalBinary: %v", err)
			}
			if back != b {
				t.Fatalf("round trip: %+v, want %+v", back, b)
			}
		})
	}
}

func TestBlobInfoBadChanges(t *testing.T) {
	tests := []struct {
		name   string
		before []BlobChange
		bad    BlobChange
	}{
		{"delete permanent", []BlobChange{{Kind: Registered, EndEpoch: 5}}, BlobChange{Kind: Deleted, EndEpoch: 5}},
		{"delete unregistered", nil, BlobChange{Kind: Deleted, Deletable: true}},
		{"delete certified, none certified", []BlobChange{{Kind: Registered, EndEpoch: 5, Deletable: true}},
			BlobChange{Kind: Deleted, Deletable: true, WasCertified: true}},
		{"extend unregistered permanent", nil, BlobChange{Kind: Extended, EndEpoch: 9}},
		{"extend unregistered deletable", nil, BlobChange{Kind: Extended, EndEpoch: 9, Deletable: true}},
		{"unknown kind", nil, BlobChange{Kind: 99}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b BlobInfo
			for _, c := range tc.before {
				if err := b.Apply(c); err != nil {
					t.Fatal(err)
				}
			}
			before := b
			if err := b.Apply(tc.bad); !errors.Is(err, ErrBadChange) {
				t.Fatalf("Apply = %v, want ErrBadChange", err)
			}
			if b != before {
				t.Fatal("a refused change modified the blob info")
			}
		})
	}
}

func TestBlobInfoDecodeRefusals(t *testing.T) {
	var good BlobInfo
	_ = good.Apply(BlobChange{Kind: Registered, EndEpoch: 4, Event: ev(1)})
	enc, _ := good.MarshalBinary()
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), enc...)) }
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"version 0", mod(func(b []byte) []byte { b[0] = 0; return b })},
		{"version 2", mod(func(b []byte) []byte { b[0] = 2; return b })},
		{"short", enc[:len(enc)-1]},
		{"long", append(append([]byte(nil), enc...), 0)},
		{"unknown flag", mod(func(b []byte) []byte { b[1] |= 0x80; return b })},
		{"invalid epoch without flag", mod(func(b []byte) []byte { b[2] = 1; return b })},
		{"initial certified epoch without flag", mod(func(b []byte) []byte { b[len(b)-1] = 1; return b })},
		{"certified lifetime with zero count", mod(func(b []byte) []byte { b[2+4+eventIDLen+lifetimeLen+4] = 1; return b })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b BlobInfo
			if err := b.UnmarshalBinary(tc.data); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("UnmarshalBinary = %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestApplyEventCursor(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	if _, ok, err := s.EventCursor(ctx); ok || err != nil {
		t.Fatalf("fresh store has a cursor: %v, %v", ok, err)
	}
	register := func(tx *EventTx) error {
		_, err := tx.ApplyChange(id(1), BlobChange{Kind: Registered, EndEpoch: 9, Event: ev(3)})
		return err
	}
	if err := s.ApplyEvent(ctx, 3, register); err != nil {
		t.Fatal(err)
	}
	// Replaying the same or an older event is refused and changes nothing.
	for _, seq := range []uint64{3, 2, 0} {
		if err := s.ApplyEvent(ctx, seq, register); !errors.Is(err, ErrEventApplied) {
			t.Fatalf("ApplyEvent(%d) after 3: %v, want ErrEventApplied", seq, err)
		}
	}
	info, err := s.BlobInfo(ctx, id(1))
	if err != nil || info.Permanent.Count != 1 {
		t.Fatalf("blob info after replays: %+v, %v (count must be 1)", info, err)
	}

	// A failing event leaves neither its changes nor the cursor behind, even the changes
	// it made before failing.
	boom := errors.New("boom")
	err = s.ApplyEvent(ctx, 4, func(tx *EventTx) error {
		if _, err := tx.ApplyChange(id(1), BlobChange{Kind: Certified, EndEpoch: 9, Epoch: 2, Event: ev(4)}); err != nil {
			return err
		}
		if _, err := tx.ApplyChange(id(2), BlobChange{Kind: Registered, EndEpoch: 9, Event: ev(4)}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("ApplyEvent: %v, want boom", err)
	}
	if seq, _, _ := s.EventCursor(ctx); seq != 3 {
		t.Fatalf("cursor moved to %d by a failed event", seq)
	}
	if info, _ := s.BlobInfo(ctx, id(1)); info.PermanentCertified.Count != 0 {
		t.Fatal("a failed event's change was stored")
	}
	if _, err := s.BlobInfo(ctx, id(2)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a failed event's new blob info was stored: %v", err)
	}

	// Reads inside a transaction see its own earlier writes; several events in one call.
	err = s.ApplyEvent(ctx, 6, func(tx *EventTx) error {
		for _, c := range []BlobChange{
			{Kind: Certified, EndEpoch: 9, Epoch: 2, Event: ev(5)},
			{Kind: Extended, EndEpoch: 12, Epoch: 2, Event: ev(6)},
		} {
			if _, err := tx.ApplyChange(id(1), c); err != nil {
				return err
			}
		}
		info, ok, err := tx.BlobInfo(id(1))
		if err != nil || !ok || info.PermanentCertified.EndEpoch != 12 {
			t.Errorf("in-transaction read: %+v, %v, %v", info, ok, err)
		}
		return tx.DeleteBlobInfo(id(9))
	})
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.BlobStatus(ctx, id(1), 10)
	if err != nil || st.Kind != StatusPermanent || !st.Certified || st.EndEpoch != 12 || st.Event != ev(6) {
		t.Fatalf("status = %+v, %v", st, err)
	}
	if st, err := s.BlobStatus(ctx, id(7), 1); err != nil || st.Kind != StatusNonexistent {
		t.Fatalf("status of unknown blob = %+v, %v", st, err)
	}
	if seq, ok, _ := s.EventCursor(ctx); !ok || seq != 6 {
		t.Fatalf("cursor = %d, want 6", seq)
	}
}

// TestApplyEventConcurrent: concurrent appliers of the same events apply each exactly once.
func TestApplyEventConcurrent(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	const events = 40
	done := make(chan int, 4)
	for w := 0; w < 4; w++ {
		go func() {
			applied := 0
			for seq := uint64(1); seq <= events; seq++ {
				err := s.ApplyEvent(ctx, seq, func(tx *EventTx) error {
					_, err := tx.ApplyChange(id(1), BlobChange{Kind: Registered, EndEpoch: 100, Event: ev(seq)})
					return err
				})
				switch {
				case err == nil:
					applied++
				case !errors.Is(err, ErrEventApplied):
					t.Errorf("ApplyEvent(%d): %v", seq, err)
				}
			}
			done <- applied
		}()
	}
	total := 0
	for w := 0; w < 4; w++ {
		total += <-done
	}
	info, err := s.BlobInfo(ctx, id(1))
	if err != nil {
		t.Fatal(err)
	}
	// Appliers go in order, so no event is skipped, and none is applied twice.
	if total != events || info.Permanent.Count != events {
		t.Fatalf("%d successful ApplyEvent calls, count %d; want %d", total, info.Permanent.Count, events)
	}
}
