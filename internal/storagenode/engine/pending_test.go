package engine

import (
	"errors"
	"testing"
	"time"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/redstuff"
)

func pendingMetadata(id byte) *blob.MetadataWithID {
	return &blob.MetadataWithID{ID: blob.ID{id}, Metadata: blob.Metadata{EncodingType: blob.RS2, UnencodedLength: 1,
		Hashes: make([]redstuff.PairHashes, 4)}}
}

// TestPendingBuffer: the pending buffer holds at most perSource bytes of one uploader; when it
// is full, the oldest entries of the uploader holding more than its fair share make room for
// another's; entries die after the TTL.
func TestPendingBuffer(t *testing.T) {
	size := int64(pendingMetadata(0).BCSSize())
	now := time.Unix(1000, 0)
	p := newPendingBuffer(6*size, 4*size, time.Minute)
	// Source a fills its quota of 4 entries, then is refused.
	for i := range byte(4) {
		if _, err := p.putMetadata(pendingMetadata(i), "a", now.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatalf("entry %d of a: %v", i, err)
		}
	}
	if _, err := p.putMetadata(pendingMetadata(4), "a", now); !errors.Is(err, ErrCacheSaturated) {
		t.Fatalf("a beyond its quota: %v, want ErrCacheSaturated", err)
	}
	// Source b fills the rest of the buffer, then evicts a's oldest entry to get its fair
	// share (half), and no more.
	for i := byte(10); i < 13; i++ {
		if _, err := p.putMetadata(pendingMetadata(i), "b", now); err != nil {
			t.Fatalf("entry %d of b: %v", i, err)
		}
	}
	if _, err := p.putMetadata(pendingMetadata(13), "b", now); !errors.Is(err, ErrCacheSaturated) {
		t.Fatalf("b beyond its fair share of a full buffer: %v, want ErrCacheSaturated", err)
	}
	// A third source gets a third: a's next oldest goes.
	if _, err := p.putMetadata(pendingMetadata(20), "c", now); err != nil {
		t.Fatalf("c into a full buffer: %v", err)
	}
	if p.metadata(blob.ID{0}) != nil || p.metadata(blob.ID{1}) != nil || p.metadata(blob.ID{2}) == nil || p.metadata(blob.ID{10}) == nil {
		t.Fatal("the evictions did not take a's oldest entries")
	}
	if p.size() != 6*size || p.bySource["a"] != 2*size || p.bySource["b"] != 3*size || p.bySource["c"] != size {
		t.Fatalf("accounting: %d bytes, a %d, b %d, c %d", p.size(), p.bySource["a"], p.bySource["b"], p.bySource["c"])
	}
	p.sweep(now.Add(2 * time.Minute))
	if p.size() != 0 || len(p.bySource) != 0 || len(p.entries) != 0 {
		t.Fatalf("after the TTL: %d bytes, %d sources, %d entries", p.size(), len(p.bySource), len(p.entries))
	}
}
