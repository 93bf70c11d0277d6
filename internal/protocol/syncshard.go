package protocol

import (
	"fmt"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/bcs"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/redstuff"
)

// SyncShardRequest is Walrus's SyncShardRequest::V1 (spec §5.4): the member that gained Shard
// at the change to Epoch asks the shard's previous owner for up to Count slivers of axis Axis,
// in blob-ID order from Start (inclusive). The signed message is header (intent 3, Epoch) ||
// variant 0 || shard u16 || axis u8 || starting_blob_id || sliver_count u64 || epoch u32.
type SyncShardRequest struct {
	Epoch uint32
	Shard uint16
	Axis  redstuff.Axis
	Start blob.ID
	Count uint64
}

const syncShardBodyLen = 1 + 2 + 1 + blob.IDLen + 8 + 4

// Encode returns the message the requester signs.
func (r SyncShardRequest) Encode() []byte {
	e := bcs.NewEncoder(appendHeader(make([]byte, 0, HeaderLen+syncShardBodyLen), IntentSyncShard, r.Epoch))
	e.Variant(0)
	e.U16(r.Shard)
	e.U8(uint8(r.Axis))
	e.Fixed(r.Start[:])
	e.U64(r.Count)
	e.U32(r.Epoch)
	return e.Bytes()
}

// DecodeSyncShardRequest parses a sync-shard message; the epochs of header and body must agree.
func DecodeSyncShardRequest(msg []byte) (SyncShardRequest, error) {
	var r SyncShardRequest
	epoch, body, err := parseWithIntent(msg, IntentSyncShard)
	if err != nil {
		return r, err
	}
	d := bcs.NewDecoder(body)
	if v := d.Variant(); d.Err() == nil && v != 0 {
		return r, fmt.Errorf("%w: sync shard request version %d", ErrMalformed, v)
	}
	r.Shard = d.U16()
	r.Axis = redstuff.Axis(d.U8())
	d.FixedInto(r.Start[:])
	r.Count = d.U64()
	r.Epoch = d.U32()
	if err := d.Finish(); err != nil {
		return SyncShardRequest{}, fmt.Errorf("%w: sync shard request: %w", ErrMalformed, err)
	}
	if r.Axis != redstuff.Primary && r.Axis != redstuff.Secondary {
		return SyncShardRequest{}, fmt.Errorf("%w: sync shard request axis %d", ErrMalformed, r.Axis)
	}
	if r.Epoch != epoch {
		return SyncShardRequest{}, fmt.Errorf("%w: sync shard request for epoch %d in a message of epoch %d", ErrMalformed, r.Epoch, epoch)
	}
	return r, nil
}

// EncodeSignedMessage returns the BCS SignedMessage: serialized_message (vector<u8>) ||
// signature (vector<u8>, 96 bytes), the body of POST /v1/migrate/sync_shard.
func EncodeSignedMessage(msg []byte, sig crypto.BLSSignature) []byte {
	e := bcs.NewEncoder(make([]byte, 0, len(msg)+len(sig)+8))
	e.ByteVec(msg)
	e.ByteVec(sig[:])
	return e.Bytes()
}

// DecodeSignedMessage parses a BCS SignedMessage. The message aliases b.
func DecodeSignedMessage(b []byte) ([]byte, crypto.BLSSignature, error) {
	var sig crypto.BLSSignature
	d := bcs.NewDecoder(b)
	msg := d.ByteVec()
	s := d.ByteVec()
	if err := d.Finish(); err != nil {
		return nil, sig, fmt.Errorf("%w: signed message: %w", ErrMalformed, err)
	}
	if len(s) != len(sig) {
		return nil, sig, fmt.Errorf("%w: signature of %d bytes, want %d", ErrMalformed, len(s), len(sig))
	}
	copy(sig[:], s)
	return msg, sig, nil
}

// SignSyncShard returns the signed request body of r under key.
func SignSyncShard(key *crypto.BLSSecretKey, r SyncShardRequest) []byte {
	msg := r.Encode()
	return EncodeSignedMessage(msg, key.Sign(msg))
}

// ShardSliver is one (blob ID, sliver) pair of a SyncShardResponse.
type ShardSliver struct {
	BlobID blob.ID
	Sliver redstuff.Sliver
}

// AppendSyncShardResponse appends the BCS SyncShardResponse::V1 of items: variant 0 ||
// vector<(blob_id, Sliver)>, where Sliver is the enum Primary (0) | Secondary (1) of a
// SliverData.
func AppendSyncShardResponse(dst []byte, items []ShardSliver) ([]byte, error) {
	e := bcs.NewEncoder(dst)
	e.Variant(0)
	e.Len(len(items))
	var err error
	for _, it := range items {
		e.Fixed(it.BlobID[:])
		e.Variant(uint32(it.Sliver.Axis))
		b := e.Bytes()
		if b, err = blob.AppendSliverData(b, it.Sliver); err != nil {
			return nil, err
		}
		e = bcs.NewEncoder(b)
	}
	return e.Result()
}

// DecodeSyncShardResponse parses a SyncShardResponse. It checks the structure only; the
// caller verifies each sliver against its blob's metadata. Sliver data aliases b.
func DecodeSyncShardResponse(b []byte) ([]ShardSliver, error) {
	d := bcs.NewDecoder(b)
	if v := d.Variant(); d.Err() == nil && v != 0 {
		return nil, fmt.Errorf("%w: sync shard response version %d", ErrMalformed, v)
	}
	// Each item takes at least 32 + 1 + 1 + 2 + 2 bytes.
	n := d.SeqLen(blob.IDLen + 6)
	out := make([]ShardSliver, 0, n)
	for i := 0; i < n && d.Err() == nil; i++ {
		var it ShardSliver
		d.FixedInto(it.BlobID[:])
		a := d.Variant()
		if d.Err() != nil {
			break
		}
		if a > uint32(redstuff.Secondary) {
			return nil, fmt.Errorf("%w: sync shard response: sliver variant %d", ErrMalformed, a)
		}
		start := d.Offset()
		d.ByteVec()
		d.U16()
		d.U16()
		if d.Err() != nil {
			break
		}
		sl, err := blob.UnmarshalSliverData(b[start:d.Offset()], redstuff.Axis(a))
		if err != nil {
			return nil, fmt.Errorf("%w: sync shard response item %d: %w", ErrMalformed, i, err)
		}
		it.Sliver = sl
		out = append(out, it)
	}
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("%w: sync shard response: %w", ErrMalformed, err)
	}
	return out, nil
}
