package byzantine

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/redstuff"
)

// TestDiscardVerifies: a discarding node accepts exactly the slivers an honest node would
// store (verified against the blob's metadata) and refuses corrupted, misplaced or
// unannounced ones, and metadata that does not match its blob ID.
func TestDiscardVerifies(t *testing.T) {
	const n = 10
	enc, err := redstuff.New(n)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 30_000)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	e, err := enc.Encode(data)
	if err != nil {
		t.Fatal(err)
	}
	md := blob.NewMetadata(&e.Commitment)
	mdBody, err := md.Metadata.MarshalBCS()
	if err != nil {
		t.Fatal(err)
	}
	d := newDiscarder()
	prim, _ := e.Pair(3)
	body, err := blob.MarshalSliverData(prim)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.check(md.ID, 3, redstuff.Primary, body); !errors.Is(err, errNoMetadata) {
		t.Fatalf("a sliver before its metadata: %v, want errNoMetadata", err)
	}
	var other blob.ID
	other[0] = 1
	if err := d.addMetadata(other, mdBody); err == nil {
		t.Fatal("metadata under another blob ID was accepted")
	}
	if err := d.addMetadata(md.ID, mdBody); err != nil {
		t.Fatal(err)
	}
	for p := range n {
		for _, a := range []redstuff.Axis{redstuff.Primary, redstuff.Secondary} {
			pr, se := e.Pair(p)
			sl := pr
			if a == redstuff.Secondary {
				sl = se
			}
			body, err := blob.MarshalSliverData(sl)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.check(md.ID, p, a, body); err != nil {
				t.Fatalf("pair %d %s: an honest sliver was refused: %v", p, a, err)
			}
			if err := d.check(md.ID, (p+1)%n, a, body); err == nil {
				t.Fatalf("pair %d %s: accepted under another pair", p, a)
			}
			body[len(body)/2] ^= 0x40
			if err := d.check(md.ID, p, a, body); err == nil {
				t.Fatalf("pair %d %s: a corrupted sliver was accepted", p, a)
			}
		}
	}
	// Only the last discardMetadataKept blobs' metadata is kept.
	for i := range 2 * discardMetadataKept {
		m := *md
		m.ID[0], m.ID[1] = byte(i), byte(i>>8)
		d.remember(&m)
	}
	if len(d.mds) != discardMetadataKept || len(d.order) != discardMetadataKept {
		t.Fatalf("%d blobs' metadata kept (%d in order), want %d", len(d.mds), len(d.order), discardMetadataKept)
	}
	if err := d.check(md.ID, 3, redstuff.Primary, body); !errors.Is(err, errNoMetadata) {
		t.Fatalf("a sliver of a forgotten blob: %v, want errNoMetadata", err)
	}
}
