package nodestore

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/redstuff"
)

func TestMetadataOps(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	e := newEncoder(t)
	b1 := encodeBlob(t, e, 1, 1000)
	b2 := encodeBlob(t, e, 2, 5000)

	if _, err := s.Metadata(ctx, b1.meta.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Metadata of unknown blob: %v, want ErrNotFound", err)
	}
	for _, b := range []testBlob{b1, b2} {
		if err := s.PutMetadata(ctx, b.meta); err != nil {
			t.Fatalf("PutMetadata: %v", err)
		}
	}
	tests := []struct {
		name string
		b    testBlob
	}{{"small", b1}, {"larger", b2}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := s.HasMetadata(ctx, tc.b.meta.ID)
			if err != nil || !ok {
				t.Fatalf("HasMetadata = %v, %v", ok, err)
			}
			got, err := s.Metadata(ctx, tc.b.meta.ID)
			if err != nil {
				t.Fatalf("Metadata: %v", err)
			}
			if got.ID != tc.b.meta.ID || got.Metadata.UnencodedLength != tc.b.meta.Metadata.UnencodedLength ||
				!slices.Equal(got.Metadata.Hashes, tc.b.meta.Metadata.Hashes) {
				t.Fatalf("Metadata round trip differs")
			}
			if err := got.Verify(e.Params()); err != nil {
				t.Fatalf("stored metadata no longer verifies: %v", err)
			}
		})
	}
	if err := s.DeleteMetadata(ctx, b1.meta.ID); err != nil {
		t.Fatalf("DeleteMetadata: %v", err)
	}
	if ok, _ := s.HasMetadata(ctx, b1.meta.ID); ok {
		t.Fatal("metadata still there after DeleteMetadata")
	}
	if ok, _ := s.HasMetadata(ctx, b2.meta.ID); !ok {
		t.Fatal("DeleteMetadata deleted another blob's metadata")
	}
	if err := s.DeleteMetadata(ctx, b1.meta.ID); err != nil {
		t.Fatalf("DeleteMetadata of a deleted blob: %v", err)
	}
	bad := *b1.meta
	bad.Metadata.EncodingType = 7
	if err := s.PutMetadata(ctx, &bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("PutMetadata of unsupported encoding: %v, want ErrInvalid", err)
	}
}

func TestSliverOps(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	e := newEncoder(t)
	b := encodeBlob(t, e, 3, 3000)
	id := b.meta.ID
	p, q := b.pair(4)

	if err := s.PutSliverPair(ctx, 4, id, p, q); err != nil {
		t.Fatalf("PutSliverPair: %v", err)
	}
	raw, err := blob.MarshalSliverData(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutSliverData(ctx, 7, id, redstuff.Primary, raw); err != nil {
		t.Fatalf("PutSliverData: %v", err)
	}
	tests := []struct {
		name  string
		shard uint16
		axis  redstuff.Axis
		want  *redstuff.Sliver
	}{
		{"pair primary", 4, redstuff.Primary, &p},
		{"pair secondary", 4, redstuff.Secondary, &q},
		{"raw primary", 7, redstuff.Primary, &p},
		{"absent secondary", 7, redstuff.Secondary, nil},
		{"absent shard", 5, redstuff.Primary, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := s.HasSliver(ctx, tc.shard, id, tc.axis)
			if err != nil || ok != (tc.want != nil) {
				t.Fatalf("HasSliver = %v, %v", ok, err)
			}
			got, err := s.Sliver(ctx, tc.shard, id, tc.axis)
			if tc.want == nil {
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("Sliver: %v, want ErrNotFound", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Sliver: %v", err)
			}
			if !sliverEqual(got, *tc.want) {
				t.Fatalf("Sliver differs from what was stored")
			}
			if err := blob.VerifySliver(e, b.meta, got); err != nil {
				t.Fatalf("stored sliver no longer verifies: %v", err)
			}
			data, err := s.SliverData(ctx, tc.shard, id, tc.axis)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := blob.MarshalSliverData(*tc.want)
			if string(data) != string(want) {
				t.Fatal("SliverData is not the BCS SliverData of the sliver")
			}
		})
	}

	missing, err := s.MissingSlivers(ctx, id, []uint16{4, 7, 9})
	if err != nil {
		t.Fatal(err)
	}
	wantMissing := []SliverRef{{7, id, redstuff.Secondary}, {9, id, redstuff.Primary}, {9, id, redstuff.Secondary}}
	if !slices.Equal(missing, wantMissing) {
		t.Fatalf("MissingSlivers = %v, want %v", missing, wantMissing)
	}

	if err := s.DeleteSliver(ctx, 4, id, redstuff.Primary); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.HasSliver(ctx, 4, id, redstuff.Primary); ok {
		t.Fatal("sliver still there after DeleteSliver")
	}
	if ok, _ := s.HasSliver(ctx, 4, id, redstuff.Secondary); !ok {
		t.Fatal("DeleteSliver deleted the other axis")
	}
}

func TestSliverRefusals(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	good := smallSliver(redstuff.Primary, 1, 1)
	tests := []struct {
		name string
		put  func() error
	}{
		{"odd symbol size", func() error {
			return s.PutSliver(ctx, 0, id(1), redstuff.Sliver{Axis: redstuff.Primary, SymbolSize: 3, Data: make([]byte, 6)})
		}},
		{"partial symbol", func() error {
			return s.PutSliver(ctx, 0, id(1), redstuff.Sliver{Axis: redstuff.Primary, SymbolSize: 2, Data: make([]byte, 5)})
		}},
		{"index beyond u16", func() error {
			return s.PutSliver(ctx, 0, id(1), redstuff.Sliver{Axis: redstuff.Primary, Index: 70000, SymbolSize: 2, Data: make([]byte, 4)})
		}},
		{"bad axis", func() error {
			sl := good
			sl.Axis = 2
			return s.PutSliver(ctx, 0, id(1), sl)
		}},
		{"pair axes swapped", func() error {
			return s.PutSliverPair(ctx, 0, id(1), smallSliver(redstuff.Secondary, 1, 1), good)
		}},
		{"malformed BCS", func() error { return s.PutSliverData(ctx, 0, id(1), redstuff.Primary, []byte{5, 1, 2}) }},
		{"raw bad axis", func() error { return s.PutSliverData(ctx, 0, id(1), 3, []byte{0, 2, 0, 0, 0}) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.put(); !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
	if shards, err := s.Shards(ctx); err != nil || len(shards) != 0 {
		t.Fatalf("refused writes stored something: shards %v, %v", shards, err)
	}
}

func TestShardIteration(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	// Blob IDs 1..9 on shards 2 and 300 (both axes), and 0xffff with one blob.
	for i := byte(9); i >= 1; i-- {
		for _, sh := range []uint16{300, 2} {
			if err := s.PutSliverPair(ctx, sh, id(i), smallSliver(redstuff.Primary, int(i), i), smallSliver(redstuff.Secondary, int(i), i+100)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.PutSliver(ctx, 0xffff, id(1), smallSliver(redstuff.Secondary, 0, 7)); err != nil {
		t.Fatal(err)
	}
	shards, err := s.Shards(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint16{2, 300, 0xffff}; !slices.Equal(shards, want) {
		t.Fatalf("Shards = %v, want %v", shards, want)
	}

	ids := func(out []ShardSliver) []byte {
		var r []byte
		for _, x := range out {
			r = append(r, x.BlobID[0])
		}
		return r
	}
	tests := []struct {
		name  string
		shard uint16
		axis  redstuff.Axis
		start blob.ID
		limit int
		want  []byte
	}{
		{"all primary", 2, redstuff.Primary, blob.ID{}, 0, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"all secondary", 300, redstuff.Secondary, blob.ID{}, 0, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"page from 4", 2, redstuff.Secondary, id(4), 3, []byte{4, 5, 6}},
		{"start between IDs", 2, redstuff.Primary, blob.ID{4, 1}, 2, []byte{5, 6}},
		{"past the end", 2, redstuff.Primary, id(10), 5, nil},
		{"empty shard", 3, redstuff.Primary, blob.ID{}, 5, nil},
		{"last shard", 0xffff, redstuff.Secondary, blob.ID{}, 0, []byte{1}},
		{"last shard other axis", 0xffff, redstuff.Primary, blob.ID{}, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := s.ShardSlivers(ctx, tc.shard, tc.axis, tc.start, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(out); !slices.Equal(got, tc.want) {
				t.Fatalf("blob IDs = %v, want %v", got, tc.want)
			}
			for _, x := range out {
				want := smallSliver(tc.axis, int(x.BlobID[0]), x.BlobID[0])
				if tc.axis == redstuff.Secondary {
					want = smallSliver(tc.axis, int(x.BlobID[0]), x.BlobID[0]+100)
				}
				if tc.shard == 0xffff {
					want = smallSliver(tc.axis, 0, 7)
				}
				if !sliverEqual(x.Sliver, want) {
					t.Fatalf("sliver of blob %d differs", x.BlobID[0])
				}
			}
		})
	}

	if err := s.DropShard(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if shards, _ := s.Shards(ctx); !slices.Equal(shards, []uint16{300, 0xffff}) {
		t.Fatalf("Shards after DropShard(2) = %v", shards)
	}
	if out, _ := s.ShardSlivers(ctx, 300, redstuff.Primary, blob.ID{}, 0); len(out) != 9 {
		t.Fatalf("DropShard(2) touched shard 300: %d slivers left", len(out))
	}
	if err := s.DropShard(ctx, 0xffff); err != nil {
		t.Fatal(err)
	}
	if shards, _ := s.Shards(ctx); !slices.Equal(shards, []uint16{300}) {
		t.Fatalf("Shards after DropShard(0xffff) = %v", shards)
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e := newEncoder(t)
	b := encodeBlob(t, e, 5, 2000)
	s, err := Open(dir, &Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	storeAll(t, s, b, 0, 3, 9)
	var info BlobInfo
	if err := s.ApplyEvent(ctx, 12, func(tx *EventTx) error {
		var err error
		info, err = tx.ApplyChange(b.meta.ID, BlobChange{Kind: Registered, EndEpoch: 5, Event: EventID{Seq: 12}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Metadata(ctx, b.meta.ID); !errors.Is(err, ErrClosed) {
		t.Fatalf("Metadata after Close: %v, want ErrClosed", err)
	}
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v, want ErrClosed", err)
	}

	s, err = Open(dir, &Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Metadata(ctx, b.meta.ID); err != nil {
		t.Fatalf("metadata lost on reopen: %v", err)
	}
	for _, sh := range []uint16{0, 3, 9} {
		p, q := b.pair(int(sh))
		for _, want := range []redstuff.Sliver{p, q} {
			got, err := s.Sliver(ctx, sh, b.meta.ID, want.Axis)
			if err != nil || !sliverEqual(got, want) {
				t.Fatalf("sliver %d/%s lost on reopen: %v", sh, want.Axis, err)
			}
		}
	}
	got, err := s.BlobInfo(ctx, b.meta.ID)
	if err != nil || got != info {
		t.Fatalf("blob info after reopen = %+v, %v; want %+v", got, err, info)
	}
	if seq, ok, err := s.EventCursor(ctx); err != nil || !ok || seq != 12 {
		t.Fatalf("cursor after reopen = %d, %v, %v", seq, ok, err)
	}
	if u, err := s.DiskUsage(); err != nil || u == 0 {
		t.Fatalf("DiskUsage = %d, %v", u, err)
	}
}

func TestFormatVersion(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(db *pebble.DB) error
		wantErr bool
	}{
		{"empty database becomes a store", func(*pebble.DB) error { return nil }, false},
		{"current version", func(db *pebble.DB) error {
			return db.Set(keyFormatVersion, binary.BigEndian.AppendUint32(nil, FormatVersion), pebble.Sync)
		}, false},
		{"future version", func(db *pebble.DB) error {
			return db.Set(keyFormatVersion, binary.BigEndian.AppendUint32(nil, FormatVersion+1), pebble.Sync)
		}, true},
		{"garbled version", func(db *pebble.DB) error { return db.Set(keyFormatVersion, []byte{1}, pebble.Sync) }, true},
		{"not a node store", func(db *pebble.DB) error { return db.Set([]byte("other"), []byte("x"), pebble.Sync) }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfs.NewMem()
			db, err := pebble.Open("db", quietPebble(fs))
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.prepare(db); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			s, err := Open("db", &Options{FS: fs})
			if tc.wantErr {
				if !errors.Is(err, ErrFormatVersion) {
					t.Fatalf("Open: %v, want ErrFormatVersion", err)
				}
				// The refusal must leave the directory usable by a newer build: the
				// version record is untouched and the lock released.
				db, err := pebble.Open("db", quietPebble(fs))
				if err != nil {
					t.Fatalf("reopen after refusal: %v", err)
				}
				db.Close()
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			s.Close()
			s, err = Open("db", &Options{FS: fs})
			if err != nil {
				t.Fatalf("second Open: %v", err)
			}
			s.Close()
		})
	}
}

func TestContextCancelled(t *testing.T) {
	s := openMem(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.PutSliver(ctx, 0, id(1), smallSliver(redstuff.Primary, 0, 1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("PutSliver with cancelled ctx: %v", err)
	}
	if ok, _ := s.HasSliver(context.Background(), 0, id(1), redstuff.Primary); ok {
		t.Fatal("a cancelled write was stored")
	}
}

// quietPebble returns Pebble options on fs that discard Pebble's logs.
func quietPebble(fs vfs.FS) *pebble.Options {
	return &pebble.Options{FS: fs, Logger: pebbleLogger{log: slog.New(slog.DiscardHandler)}}
}

// TestShardsReused: Shards answers what the store holds after every kind of write that adds
// or removes slivers, and reuses its last listing across writes that cannot change it
// (metadata) and none other.
func TestShardsReused(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir(), &Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	bid := blob.ID{9}
	want := func(shards ...uint16) {
		t.Helper()
		got, err := s.Shards(ctx)
		if err != nil || !slices.Equal(got, shards) {
			t.Fatalf("Shards = %v, %v; want %v", got, err, shards)
		}
		if again, _ := s.Shards(ctx); !slices.Equal(again, got) {
			t.Fatalf("Shards asked again = %v, want %v", again, got)
		}
	}
	want()
	put := func(shard uint16) {
		t.Helper()
		if err := s.PutSliver(ctx, shard, bid, smallSliver(redstuff.Primary, int(shard), 1)); err != nil {
			t.Fatal(err)
		}
	}
	put(3)
	want(3)
	e := newEncoder(t)
	gen := s.sliverWrites.Load()
	if err := s.PutMetadata(ctx, encodeBlob(t, e, 1, 1000).meta); err != nil {
		t.Fatal(err)
	}
	if s.sliverWrites.Load() != gen {
		t.Fatal("a metadata write counts as one that may change the shards held")
	}
	want(3)
	put(7)
	put(5)
	want(3, 5, 7)
	if err := s.DeleteSliver(ctx, 5, bid, redstuff.Primary); err != nil {
		t.Fatal(err)
	}
	want(3, 7)
	if err := s.DropShard(ctx, 3); err != nil {
		t.Fatal(err)
	}
	want(7)
	// A listing must not be mistaken for the caller's: changing it changes no later answer.
	got, _ := s.Shards(ctx)
	got[0] = 100
	want(7)
}
