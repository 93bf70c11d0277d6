package blob

import (
	"bytes"
	"errors"
	"testing"

	"github.com/floelabs/floe/internal/merkle"
	"github.com/floelabs/floe/redstuff"
)

func TestMetadataBCSBytes(t *testing.T) {
	m := Metadata{
		EncodingType:    RS2,
		UnencodedLength: 0x0102030405060708,
		Hashes: []redstuff.PairHashes{
			{Primary: fill(0xaa), Secondary: merkle.Empty},
			{Primary: merkle.Empty, Secondary: fill(0xbb)},
		},
	}
	want := unhex(t, ""+
		"00"+ // BlobMetadata::V1
		"01"+ // RS2
		"0807060504030201"+ // unencoded_length, little-endian
		"02"+ // two pairs
		"01"+rep(0xaa, 32)+"00"+ // Digest, Empty
		"00"+"01"+rep(0xbb, 32)) // Empty, Digest
	got, err := m.MarshalBCS()
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("MarshalBCS = %x, %v\nwant %x", got, err, want)
	}
	if m.BCSSize() != len(want) {
		t.Fatalf("BCSSize = %d, want %d", m.BCSSize(), len(want))
	}
	var back Metadata
	if err := back.UnmarshalBCS(want); err != nil {
		t.Fatal(err)
	}
	if back.EncodingType != RS2 || back.UnencodedLength != m.UnencodedLength || len(back.Hashes) != 2 ||
		back.Hashes[0] != m.Hashes[0] || back.Hashes[1] != m.Hashes[1] {
		t.Fatalf("round trip = %+v", back)
	}

	var id ID
	id[0] = 0x42
	mw := MetadataWithID{ID: id, Metadata: m}
	got, err = mw.MarshalBCS()
	if err != nil || !bytes.Equal(got[:32], id[:]) || !bytes.Equal(got[32:], want) || mw.BCSSize() != len(got) {
		t.Fatalf("MetadataWithID.MarshalBCS = %x, %v", got, err)
	}
	var mwBack MetadataWithID
	if err := mwBack.UnmarshalBCS(got); err != nil || mwBack.ID != id || mwBack.Metadata.UnencodedLength != m.UnencodedLength {
		t.Fatalf("MetadataWithID round trip = %+v, %v", mwBack, err)
	}
}

func TestMetadataSizeN1000(t *testing.T) {
	m := MetadataWithID{Metadata: Metadata{EncodingType: RS2, UnencodedLength: 17, Hashes: testHashes(1000)}}
	m.ID = m.Metadata.ID()
	b, err := m.Metadata.MarshalBCS()
	if err != nil || len(b) != 66012 || m.Metadata.BCSSize() != 66012 {
		t.Fatalf("BlobMetadata for n=1000: %d bytes (size %d), %v; want 66012", len(b), m.Metadata.BCSSize(), err)
	}
	b, err = m.MarshalBCS()
	if err != nil || len(b) != 66044 || m.BCSSize() != 66044 {
		t.Fatalf("BlobMetadataWithId for n=1000: %d bytes, %v; want 66044", len(b), err)
	}
	// 1000 = 0xe8 0x07 in ULEB128, after 32 + 1 + 1 + 8 bytes.
	if b[42] != 0xe8 || b[43] != 0x07 {
		t.Fatalf("length prefix = %x", b[42:44])
	}
	var back MetadataWithID
	if err := back.UnmarshalBCS(b); err != nil {
		t.Fatal(err)
	}
	p, _ := redstuff.NewParams(1000)
	if err := back.Verify(p); err != nil {
		t.Fatalf("Verify after round trip: %v", err)
	}
}

func TestMetadataDecodeErrors(t *testing.T) {
	good := unhex(t, "00 01 1100000000000000 01 01"+rep(0xaa, 32)+"00")
	var m Metadata
	if err := m.UnmarshalBCS(good); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"variant 1", append([]byte{0x01}, good[1:]...), ErrUnknownVariant},
		{"RaptorQ (type 0)", append([]byte{0x00, 0x00}, good[2:]...), ErrUnsupportedEncoding},
		{"type 2", append([]byte{0x00, 0x02}, good[2:]...), ErrUnsupportedEncoding},
		{"non-canonical type", append([]byte{0x00, 0x81, 0x00}, good[2:]...), ErrMalformed},
		{"node tag 2", unhex(t, "00 01 1100000000000000 01 02"+rep(0xaa, 32)+"00"), ErrUnknownVariant},
		{"Digest(0)", unhex(t, "00 01 1100000000000000 01 01"+rep(0, 32)+"00"), ErrNonCanonicalNode},
		{"truncated", good[:len(good)-1], ErrMalformed},
		{"trailing", append(append([]byte(nil), good...), 0), ErrMalformed},
		{"count beyond input", unhex(t, "00 01 1100000000000000 05 0000 0000"), ErrMalformed},
		{"too many pairs", append(unhex(t, "00 01 1100000000000000 808004"), make([]byte, 2*65536)...), ErrHashCount},
	}
	for _, tc := range tests {
		before := m
		err := m.UnmarshalBCS(tc.in)
		if !errors.Is(err, tc.want) || !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
		if m.UnencodedLength != before.UnencodedLength || len(m.Hashes) != len(before.Hashes) {
			t.Errorf("%s: failed decode changed the value", tc.name)
		}
		var mw MetadataWithID
		if err := mw.UnmarshalBCS(append(make([]byte, 32), tc.in...)); !errors.Is(err, tc.want) {
			t.Errorf("%s (with ID): err = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestMetadataEncodeErrors(t *testing.T) {
	m := Metadata{EncodingType: 0, Hashes: testHashes(4)}
	if _, err := m.MarshalBCS(); !errors.Is(err, ErrUnsupportedEncoding) {
		t.Errorf("type 0: err = %v", err)
	}
	m = Metadata{EncodingType: RS2, Hashes: make([]redstuff.PairHashes, 65536)}
	if _, err := m.MarshalBCS(); !errors.Is(err, ErrHashCount) {
		t.Errorf("65536 pairs: err = %v", err)
	}
}

func TestMetadataID(t *testing.T) {
	m := Metadata{EncodingType: RS2, UnencodedLength: 33, Hashes: testHashes(10)}
	want := DeriveID(RS2, 33, redstuff.RootHash(m.Hashes))
	if m.ID() != want {
		t.Fatalf("ID = %s, want %s", m.ID(), want)
	}
	// The ID commits to every field.
	m2 := m
	m2.UnencodedLength = 34
	m3 := Metadata{EncodingType: RS2, UnencodedLength: 33, Hashes: testHashes(10)}
	m3.Hashes[9].Secondary = merkle.Empty
	if m2.ID() == want || m3.ID() == want {
		t.Fatal("ID does not depend on the length or the hashes")
	}
}

func TestMetadataVerify(t *testing.T) {
	p, err := redstuff.NewParams(10)
	if err != nil {
		t.Fatal(err)
	}
	valid := func() MetadataWithID {
		m := MetadataWithID{Metadata: Metadata{EncodingType: RS2, UnencodedLength: 1000, Hashes: testHashes(10)}}
		m.ID = m.Metadata.ID()
		return m
	}
	if err := valid().Verify(p); err != nil {
		t.Fatalf("valid metadata: %v", err)
	}
	tests := []struct {
		name   string
		modify func(*MetadataWithID)
		want   error
	}{
		{"wrong ID", func(m *MetadataWithID) { m.ID[5] ^= 1 }, ErrIDMismatch},
		{"changed hash", func(m *MetadataWithID) { m.Metadata.Hashes[3].Primary[0] ^= 1 }, ErrIDMismatch},
		{"too few hashes", func(m *MetadataWithID) {
			m.Metadata.Hashes = m.Metadata.Hashes[:9]
			m.ID = m.Metadata.ID()
		}, ErrHashCount},
		{"too many hashes", func(m *MetadataWithID) {
			m.Metadata.Hashes = testHashes(11)
			m.ID = m.Metadata.ID()
		}, ErrHashCount},
		{"unsupported type", func(m *MetadataWithID) {
			m.Metadata.EncodingType = 0
			m.ID = m.Metadata.ID()
		}, ErrUnsupportedEncoding},
		{"too large", func(m *MetadataWithID) {
			m.Metadata.UnencodedLength = p.MaxBlobSize() + 1
			m.ID = m.Metadata.ID()
		}, ErrBlobTooLarge},
	}
	for _, tc := range tests {
		m := valid()
		tc.modify(&m)
		if err := m.Verify(p); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	// The largest blob is allowed.
	m := valid()
	m.Metadata.UnencodedLength = p.MaxBlobSize()
	m.ID = m.Metadata.ID()
	if err := m.Verify(p); err != nil {
		t.Errorf("max blob size: %v", err)
	}
}

func TestMetadataSymbolSize(t *testing.T) {
	p, _ := redstuff.NewParams(10) // K_p*K_s = 28
	tests := []struct {
		length uint64
		want   int
	}{{0, 2}, {1, 2}, {56, 2}, {57, 4}, {28 * 3, 4}, {28*65534 - 1, 65534}}
	for _, tc := range tests {
		m := Metadata{EncodingType: RS2, UnencodedLength: tc.length}
		if got, err := m.SymbolSize(p); err != nil || got != tc.want {
			t.Errorf("SymbolSize(%d) = %d, %v; want %d", tc.length, got, err, tc.want)
		}
	}
	m := Metadata{EncodingType: RS2, UnencodedLength: 28*65534 + 1}
	if _, err := m.SymbolSize(p); !errors.Is(err, ErrBlobTooLarge) || !errors.Is(err, redstuff.ErrDataTooLarge) {
		t.Errorf("too large: err = %v", err)
	}
}

func TestNewMetadataFromEncoding(t *testing.T) {
	enc, err := redstuff.New(10)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("the quick brown fox jumps over the lazy dog")
	c, err := enc.Commit(data)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	m := NewMetadata(c)
	if err := m.Verify(enc.Params()); err != nil {
		t.Fatalf("metadata of a real encoding does not verify: %v", err)
	}
	if m.ID != m.Metadata.ID() || m.Metadata.UnencodedLength != uint64(len(data)) {
		t.Fatalf("NewMetadata = %+v", m)
	}
}
