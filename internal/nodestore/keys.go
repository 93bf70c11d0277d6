package nodestore

import (
	"encoding/binary"
	"fmt"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/redstuff"
)

// Every key the store writes is built in this file. The first byte of a key is its prefix;
// prefixes never change meaning within a format version (FormatVersion), and a new kind of
// record gets a new prefix.
//
//	prefix  key                                          value
//	0x00    0x00 "format-version"                        u32 big-endian: FormatVersion
//	0x00    0x00 "event-cursor"                          u64 big-endian: last applied event seq
//	0x01    0x01 blob_id[32]                             BCS BlobMetadata (V1), see metadata.go
//	0x02    0x02 blob_id[32]                             BlobInfo record, see blobinfo.go
//	0x03    0x03 shard u16 BE, blob_id[32], axis u8      BCS SliverData, exactly as served, or
//	                                                     a reference into an extent file
//	                                                     (extents.go), which a SliverData
//	                                                     never is
//	0x04    0x04 shard u16 BE, blob_id[32], axis u8      quarantine record, see scrub.go
//
// Slivers (and quarantined slivers) are shard-major: all the slivers of one shard form one
// contiguous key range [0x03 shard, 0x03 shard+1), so a shard can be dropped with a single range
// deletion and streamed in blob-ID order (the order of Walrus's sync_shard). Within a blob the
// primary sliver (axis 0) sorts before the secondary sliver (axis 1). Shard indices and blob IDs
// are written big-endian/raw so that byte order equals numeric order.
const (
	prefixSystem     byte = 0x00
	prefixMetadata   byte = 0x01
	prefixBlobInfo   byte = 0x02
	prefixSliver     byte = 0x03
	prefixQuarantine byte = 0x04
)

// Lengths of the keys with fixed layouts.
const (
	blobKeyLen   = 1 + blob.IDLen         // metadata and blob info
	shardKeyLen  = 1 + 2                  // prefix of one shard's range
	sliverKeyLen = 1 + 2 + blob.IDLen + 1 // sliver and quarantine keys
)

// System keys.
var (
	keyFormatVersion = []byte("\x00format-version")
	keyEventCursor   = []byte("\x00event-cursor")
)

// metadataKey is 0x01 || blob ID.
func metadataKey(id blob.ID) []byte { return blobKey(prefixMetadata, id) }

// blobInfoKey is 0x02 || blob ID.
func blobInfoKey(id blob.ID) []byte { return blobKey(prefixBlobInfo, id) }

func blobKey(prefix byte, id blob.ID) []byte {
	k := make([]byte, blobKeyLen)
	k[0] = prefix
	copy(k[1:], id[:])
	return k
}

// blobIDFromKey returns the blob ID of a metadata or blob-info key.
func blobIDFromKey(k []byte) (blob.ID, error) {
	if len(k) != blobKeyLen {
		return blob.ID{}, fmt.Errorf("%w: key %x has %d bytes, want %d", ErrCorrupt, k, len(k), blobKeyLen)
	}
	return blob.ID(k[1:]), nil
}

// sliverKey is prefix || shard (BE) || blob ID || axis, for prefix 0x03 (stored slivers) or
// 0x04 (quarantined slivers).
func sliverKey(prefix byte, shard uint16, id blob.ID, a redstuff.Axis) []byte {
	k := make([]byte, sliverKeyLen)
	k[0] = prefix
	binary.BigEndian.PutUint16(k[1:], shard)
	copy(k[3:], id[:])
	k[sliverKeyLen-1] = byte(a)
	return k
}

// shardBlobPrefix is prefix || shard || blob ID: the keys of both slivers of one blob on one
// shard.
func shardBlobPrefix(prefix byte, shard uint16, id blob.ID) []byte {
	return sliverKey(prefix, shard, id, 0)[:sliverKeyLen-1]
}

// shardRange returns [prefix shard, prefix shard+1): every key of one shard under prefix.
// For the last shard the upper bound is prefix+1.
func shardRange(prefix byte, shard uint16) (lower, upper []byte) {
	lower = []byte{prefix, byte(shard >> 8), byte(shard)}
	if shard == 0xffff {
		return lower, []byte{prefix + 1}
	}
	next := shard + 1
	return lower, []byte{prefix, byte(next >> 8), byte(next)}
}

// prefixRange returns [prefix, prefix+1): every key under a one-byte prefix.
func prefixRange(prefix byte) (lower, upper []byte) {
	return []byte{prefix}, []byte{prefix + 1}
}

// parseSliverKey decodes a sliver or quarantine key.
func parseSliverKey(k []byte) (SliverRef, error) {
	if len(k) != sliverKeyLen || (k[0] != prefixSliver && k[0] != prefixQuarantine) {
		return SliverRef{}, fmt.Errorf("%w: %x is not a sliver key", ErrCorrupt, k)
	}
	a := redstuff.Axis(k[sliverKeyLen-1])
	if a != redstuff.Primary && a != redstuff.Secondary {
		return SliverRef{}, fmt.Errorf("%w: sliver key %x has axis %d", ErrCorrupt, k, a)
	}
	return SliverRef{
		Shard:  binary.BigEndian.Uint16(k[1:]),
		BlobID: blob.ID(k[3 : 3+blob.IDLen]),
		Axis:   a,
	}, nil
}
