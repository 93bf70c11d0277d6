package nodestore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/redstuff"
)

// Fuzz tests for every decoder of stored records: none panics, every refusal wraps ErrCorrupt
// and every accepted record re-encodes to the same bytes (one encoding per value).

func FuzzBlobInfo(f *testing.F) {
	var b BlobInfo
	enc0, _ := b.MarshalBinary()
	f.Add(enc0)
	for _, c := range []BlobChange{
		{Kind: Registered, EndEpoch: 7, Event: ev(1)},
		{Kind: Certified, EndEpoch: 7, Epoch: 2, Event: ev(2)},
		{Kind: Registered, EndEpoch: 9, Deletable: true},
		{Kind: Invalidated, Epoch: 3, Event: ev(4)},
	} {
		_ = b.Apply(c)
		enc, _ := b.MarshalBinary()
		f.Add(enc)
	}
	f.Add([]byte{})
	f.Add([]byte{2})
	f.Fuzz(func(t *testing.T, data []byte) {
		var b BlobInfo
		err := b.UnmarshalBinary(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error does not wrap ErrCorrupt: %v", err)
			}
			return
		}
		enc, err := b.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc, data) {
			t.Fatalf("re-encoding differs:\n%x\n%x", enc, data)
		}
		// Status and the predicates never panic on any decodable record.
		_ = b.Status(binary.LittleEndian.Uint32(append(data[len(data)-4:], 0, 0, 0, 0)))
		_ = b.IsRegistered(5)
	})
}

func FuzzQuarantineRecord(f *testing.F) {
	f.Add(encodeQuarantine("hash mismatch", []byte{1, 2, 3}))
	f.Add(encodeQuarantine("", nil))
	f.Add([]byte{1, 0x80, 0x00})
	f.Add([]byte{1, 5, 'a'})
	f.Fuzz(func(t *testing.T, data []byte) {
		reason, rest, err := decodeQuarantine(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error does not wrap ErrCorrupt: %v", err)
			}
			return
		}
		if enc := encodeQuarantine(reason, rest); !bytes.Equal(enc, data) {
			t.Fatalf("re-encoding differs:\n%x\n%x", enc, data)
		}
	})
}

func FuzzSliverRecord(f *testing.F) {
	for _, sl := range []redstuff.Sliver{smallSliver(redstuff.Primary, 3, 1), {Axis: redstuff.Secondary, SymbolSize: 2}} {
		v, _ := blob.MarshalSliverData(sl)
		f.Add(v, uint8(sl.Axis))
	}
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f}, uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, axis uint8) {
		a := redstuff.Axis(axis % 2)
		sl, err := decodeSliver(a, data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error does not wrap ErrCorrupt: %v", err)
			}
			return
		}
		enc, err := encodeSliver(sl)
		if err != nil {
			t.Fatalf("a decoded sliver does not encode: %v", err)
		}
		if !bytes.Equal(enc, data) {
			t.Fatalf("re-encoding differs:\n%x\n%x", enc, data)
		}
	})
}

func FuzzMetadataRecord(f *testing.F) {
	md := &blob.MetadataWithID{Metadata: blob.Metadata{EncodingType: blob.RS2, UnencodedLength: 99,
		Hashes: make([]redstuff.PairHashes, 4)}}
	md.Metadata.Hashes[1].Primary[3] = 7
	v, _ := encodeMetadata(md)
	f.Add(v)
	f.Add([]byte{0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeMetadata(blob.ID{1}, data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error does not wrap ErrCorrupt: %v", err)
			}
			return
		}
		enc, err := encodeMetadata(m)
		if err != nil {
			t.Fatalf("decoded metadata does not encode: %v", err)
		}
		if !bytes.Equal(enc, data) {
			t.Fatalf("re-encoding differs:\n%x\n%x", enc, data)
		}
	})
}

func FuzzKeysAndCursor(f *testing.F) {
	f.Add(sliverKey(prefixSliver, 7, id(3), redstuff.Secondary))
	f.Add(sliverKey(prefixQuarantine, 0xffff, id(9), redstuff.Primary))
	f.Add(blobInfoKey(id(4)))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 5})
	f.Fuzz(func(t *testing.T, data []byte) {
		if ref, err := parseSliverKey(data); err == nil {
			if !bytes.Equal(sliverKey(data[0], ref.Shard, ref.BlobID, ref.Axis), data) {
				t.Fatalf("sliver key %x does not round-trip", data)
			}
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error does not wrap ErrCorrupt: %v", err)
		}
		if x, err := blobIDFromKey(data); err == nil {
			if !bytes.Equal(blobKey(data[0], x), data) {
				t.Fatalf("blob key %x does not round-trip", data)
			}
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error does not wrap ErrCorrupt: %v", err)
		}
		if seq, err := decodeCursor(data); err == nil {
			if !bytes.Equal(binary.BigEndian.AppendUint64(nil, seq), data) {
				t.Fatalf("cursor %x does not round-trip", data)
			}
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error does not wrap ErrCorrupt: %v", err)
		}
	})
}
