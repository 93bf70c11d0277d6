package protocol

import (
	"bytes"
	"errors"
	"testing"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/redstuff"
)

func TestSyncShardRequestRoundTrip(t *testing.T) {
	key, err := crypto.BLSKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	r := SyncShardRequest{Epoch: 9, Shard: 513, Axis: redstuff.Secondary, Start: blob.ID{1, 2, 3}, Count: 64}
	msg := r.Encode()
	if len(msg) != HeaderLen+syncShardBodyLen || msg[0] != byte(IntentSyncShard) {
		t.Fatalf("message %x", msg)
	}
	body := SignSyncShard(key, r)
	gotMsg, sig, err := DecodeSignedMessage(body)
	if err != nil || !bytes.Equal(gotMsg, msg) {
		t.Fatalf("signed message: %v", err)
	}
	if err := crypto.VerifyBLS(key.PublicKey(), gotMsg, sig); err != nil {
		t.Fatal(err)
	}
	got, err := DecodeSyncShardRequest(gotMsg)
	if err != nil || got != r {
		t.Fatalf("decoded %+v, %v; want %+v", got, err, r)
	}
	// The epochs of header and body must agree; the axis must be one.
	bad := bytes.Clone(msg)
	bad[len(bad)-1] ^= 1
	if _, err := DecodeSyncShardRequest(bad); !errors.Is(err, ErrMalformed) {
		t.Fatalf("epoch mismatch: %v", err)
	}
	bad = bytes.Clone(msg)
	bad[HeaderLen+3] = 2
	if _, err := DecodeSyncShardRequest(bad); !errors.Is(err, ErrMalformed) {
		t.Fatalf("bad axis: %v", err)
	}
	if _, err := DecodeSyncShardRequest(EpochSyncDone{Epoch: 1}.Encode()); !errors.Is(err, ErrWrongIntent) {
		t.Fatalf("wrong intent: %v", err)
	}
}

func TestSyncShardResponseRoundTrip(t *testing.T) {
	items := []ShardSliver{
		{BlobID: blob.ID{1}, Sliver: redstuff.Sliver{Axis: redstuff.Primary, Index: 3, SymbolSize: 2, Data: []byte{1, 2, 3, 4}}},
		{BlobID: blob.ID{2}, Sliver: redstuff.Sliver{Axis: redstuff.Secondary, Index: 0, SymbolSize: 4, Data: []byte{9, 9, 9, 9}}},
	}
	b, err := AppendSyncShardResponse(nil, items)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeSyncShardResponse(b)
	if err != nil || len(got) != 2 {
		t.Fatalf("%v %+v", err, got)
	}
	for i := range items {
		if got[i].BlobID != items[i].BlobID || got[i].Sliver.Axis != items[i].Sliver.Axis || got[i].Sliver.Index != items[i].Sliver.Index ||
			!bytes.Equal(got[i].Sliver.Data, items[i].Sliver.Data) {
			t.Fatalf("item %d: %+v", i, got[i])
		}
	}
	if _, err := DecodeSyncShardResponse(b[:len(b)-1]); !errors.Is(err, ErrMalformed) {
		t.Fatalf("truncated: %v", err)
	}
	if _, err := DecodeSyncShardResponse(append(bytes.Clone(b), 0)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("trailing byte: %v", err)
	}
}

func FuzzSyncShard(f *testing.F) {
	r := SyncShardRequest{Epoch: 2, Shard: 1, Axis: redstuff.Primary, Count: 10}
	f.Add(r.Encode())
	f.Add(EncodeSignedMessage(r.Encode(), crypto.BLSSignature{}))
	resp, _ := AppendSyncShardResponse(nil, []ShardSliver{{Sliver: redstuff.Sliver{Axis: redstuff.Secondary, SymbolSize: 2, Data: []byte{1, 2}}}})
	f.Add(resp)
	f.Add([]byte{0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := DecodeSyncShardRequest(b); err == nil && !bytes.Equal(r.Encode(), b) {
			t.Fatalf("request does not re-encode: %x", b)
		}
		if msg, sig, err := DecodeSignedMessage(b); err == nil && !bytes.Equal(EncodeSignedMessage(msg, sig), b) {
			t.Fatalf("signed message does not re-encode: %x", b)
		}
		if items, err := DecodeSyncShardResponse(b); err == nil {
			again, err := AppendSyncShardResponse(nil, items)
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("response does not re-encode: %x (%v)", b, err)
			}
		}
	})
}
