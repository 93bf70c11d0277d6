package blob

import (
	"errors"
	"fmt"

	"github.com/floelabs/floe/internal/bcs"
	"github.com/floelabs/floe/redstuff"
)

// Errors of metadata verification (spec §3.5).
var (
	// ErrHashCount: the metadata does not have exactly one pair of hashes per shard.
	ErrHashCount = errors.New("blob: wrong number of sliver pair hashes")
	// ErrBlobTooLarge: the unencoded length exceeds K_p*K_s*65534.
	ErrBlobTooLarge = errors.New("blob: unencoded length exceeds the maximum blob size")
	// ErrIDMismatch: the blob ID derived from the metadata differs from the claimed one.
	ErrIDMismatch = errors.New("blob: blob ID does not match the metadata")
)

// metadataV1 is the variant index of BlobMetadata::V1.
const metadataV1 = 0

// Metadata is Walrus's BlobMetadata::V1: the encoding type, the unencoded length and the
// hashes of every sliver pair, in pair order. Its BCS form is the body of a metadata upload.
type Metadata struct {
	EncodingType    EncodingType
	UnencodedLength uint64
	Hashes          []redstuff.PairHashes
}

// MetadataWithID is Walrus's BlobMetadataWithId: metadata with the blob ID it claims to
// belong to, as a storage node serves it.
type MetadataWithID struct {
	ID       ID
	Metadata Metadata
}

// NewMetadata returns the metadata of a blob from its RS2 commitment. It uses c.Root for the
// ID rather than recomputing it.
func NewMetadata(c *redstuff.Commitment) *MetadataWithID {
	return &MetadataWithID{
		ID: DeriveID(RS2, c.Length, c.Root),
		Metadata: Metadata{
			EncodingType:    RS2,
			UnencodedLength: c.Length,
			Hashes:          c.Hashes,
		},
	}
}

// ID derives the blob ID the metadata commits to (the Merkle root over its pair hashes).
func (m Metadata) ID() ID {
	return DeriveID(m.EncodingType, m.UnencodedLength, redstuff.RootHash(m.Hashes))
}

// SymbolSize returns the symbol size of the blob under the parameters p.
func (m Metadata) SymbolSize(p redstuff.Params) (int, error) {
	s, err := p.SymbolSize(m.UnencodedLength)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrBlobTooLarge, err)
	}
	return s, nil
}

// check runs the checks of §3.5 that do not involve the ID.
func (m Metadata) check(p redstuff.Params) error {
	if !m.EncodingType.Supported() {
		return fmt.Errorf("%w: %d", ErrUnsupportedEncoding, uint8(m.EncodingType))
	}
	if len(m.Hashes) != p.NShards {
		return fmt.Errorf("%w: %d, want %d", ErrHashCount, len(m.Hashes), p.NShards)
	}
	if limit := p.MaxBlobSize(); m.UnencodedLength > limit {
		return fmt.Errorf("%w: %d bytes > %d for %d shards", ErrBlobTooLarge, m.UnencodedLength, limit, p.NShards)
	}
	return nil
}

// Verify checks the metadata as a storage node or reader does (spec §3.5): a supported
// encoding type, exactly n pair hashes, a length within the maximum blob size, and a blob ID
// that matches the hashes.
func (m MetadataWithID) Verify(p redstuff.Params) error {
	if err := m.Metadata.check(p); err != nil {
		return err
	}
	if got := m.Metadata.ID(); got != m.ID {
		return fmt.Errorf("%w: metadata gives %s, claimed %s", ErrIDMismatch, got, m.ID)
	}
	return nil
}

// BCSSize returns the length of the BCS encoding of m.
func (m Metadata) BCSSize() int {
	s := 1 + 1 + 8 + bcs.ULEB128Size(uint64(len(m.Hashes)))
	for _, h := range m.Hashes {
		s += nodeSize(h.Primary) + nodeSize(h.Secondary)
	}
	return s
}

func (m Metadata) encode(e *bcs.Encoder) {
	if !m.EncodingType.Supported() {
		e.Fail(fmt.Errorf("%w: %d", ErrUnsupportedEncoding, uint8(m.EncodingType)))
		return
	}
	if len(m.Hashes) > maxCount {
		e.Fail(fmt.Errorf("%w: %d pair hashes > %d", ErrHashCount, len(m.Hashes), maxCount))
		return
	}
	e.Variant(metadataV1)
	e.Variant(uint32(m.EncodingType))
	e.U64(m.UnencodedLength)
	e.Len(len(m.Hashes))
	for _, h := range m.Hashes {
		encodeNode(e, h.Primary)
		encodeNode(e, h.Secondary)
	}
}

func (m *Metadata) decode(d *bcs.Decoder) {
	if v := d.Variant(); v != metadataV1 && d.Err() == nil {
		d.Fail(fmt.Errorf("%w: BlobMetadata %d", ErrUnknownVariant, v))
		return
	}
	t := d.Variant()
	if d.Err() == nil && t != uint32(RS2) {
		d.Fail(fmt.Errorf("%w: %d", ErrUnsupportedEncoding, t))
		return
	}
	length := d.U64()
	n := d.SeqLen(minPairSize)
	if n > maxCount {
		d.Fail(fmt.Errorf("%w: %d pair hashes > %d", ErrHashCount, n, maxCount))
	}
	if d.Err() != nil {
		return
	}
	hashes := make([]redstuff.PairHashes, n)
	for i := range hashes {
		hashes[i].Primary = decodeNode(d)
		hashes[i].Secondary = decodeNode(d)
	}
	*m = Metadata{EncodingType: EncodingType(t), UnencodedLength: length, Hashes: hashes}
}

// AppendBCS appends the BCS encoding of m (BlobMetadata) to dst.
func (m Metadata) AppendBCS(dst []byte) ([]byte, error) {
	e := bcs.NewEncoder(dst)
	m.encode(e)
	return e.Result()
}

// MarshalBCS returns the BCS encoding of m (BlobMetadata): the body of a metadata upload.
func (m Metadata) MarshalBCS() ([]byte, error) {
	return m.AppendBCS(make([]byte, 0, m.BCSSize()))
}

// UnmarshalBCS decodes a BCS BlobMetadata into m. It rejects encoding types other than RS2
// and more than 65 535 pair hashes but does not verify the metadata (see
// MetadataWithID.Verify). On error m is unchanged.
func (m *Metadata) UnmarshalBCS(b []byte) error {
	d := bcs.NewDecoder(b)
	var v Metadata
	v.decode(d)
	if err := d.Finish(); err != nil {
		return malformed("BlobMetadata", err)
	}
	*m = v
	return nil
}

// BCSSize returns the length of the BCS encoding of m.
func (m MetadataWithID) BCSSize() int { return IDLen + m.Metadata.BCSSize() }

// AppendBCS appends the BCS encoding of m (BlobMetadataWithId) to dst.
func (m MetadataWithID) AppendBCS(dst []byte) ([]byte, error) {
	e := bcs.NewEncoder(dst)
	e.Fixed(m.ID[:])
	m.Metadata.encode(e)
	return e.Result()
}

// MarshalBCS returns the BCS encoding of m (BlobMetadataWithId), as a node serves it.
func (m MetadataWithID) MarshalBCS() ([]byte, error) {
	return m.AppendBCS(make([]byte, 0, m.BCSSize()))
}

// UnmarshalBCS decodes a BCS BlobMetadataWithId into m without verifying it. On error m is
// unchanged.
func (m *MetadataWithID) UnmarshalBCS(b []byte) error {
	d := bcs.NewDecoder(b)
	var v MetadataWithID
	d.FixedInto(v.ID[:])
	v.Metadata.decode(d)
	if err := d.Finish(); err != nil {
		return malformed("BlobMetadataWithId", err)
	}
	*m = v
	return nil
}
