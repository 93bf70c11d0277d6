package protocol

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/crypto"
)

func TestStorageConfirmationBytes(t *testing.T) {
	var id blob.ID
	for i := range id {
		id[i] = byte(i)
	}
	perm := StorageConfirmation{Epoch: 0x01020304, BlobID: id, Persistence: Permanent}.Encode()
	wantPrefix, _ := hex.DecodeString("01000304030201")
	if !bytes.HasPrefix(perm, wantPrefix) || len(perm) != 7+33 || perm[39] != 0 {
		t.Fatalf("permanent confirmation = %x", perm)
	}
	var obj ObjectID
	obj[0], obj[31] = 0xaa, 0xbb
	del := StorageConfirmation{Epoch: 5, BlobID: id, Persistence: Deletable(obj)}.Encode()
	if len(del) != 7+65 || del[39] != 1 || del[40] != 0xaa || del[71] != 0xbb {
		t.Fatalf("deletable confirmation = %x", del)
	}
	for _, msg := range [][]byte{perm, del} {
		c, err := DecodeStorageConfirmation(msg)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(c.Encode(), msg) {
			t.Fatalf("round trip changed %x", msg)
		}
	}
	if _, err := DecodeStorageConfirmation(append(perm, 0)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("trailing byte: %v", err)
	}
	bad := append([]byte(nil), perm...)
	bad[39] = 2
	if _, err := DecodeStorageConfirmation(bad); !errors.Is(err, ErrMalformed) {
		t.Fatalf("bad enum: %v", err)
	}
	inv := InvalidBlobID{Epoch: 5, BlobID: id}.Encode()
	if _, err := DecodeStorageConfirmation(inv); !errors.Is(err, ErrWrongIntent) {
		t.Fatalf("wrong intent: %v", err)
	}
	bad = append([]byte(nil), perm...)
	bad[2] = 4
	if _, err := DecodeStorageConfirmation(bad); !errors.Is(err, ErrMalformed) {
		t.Fatalf("wrong app id: %v", err)
	}
}

func TestInvalidBlobIDAndPoP(t *testing.T) {
	var id blob.ID
	id[3] = 9
	m := InvalidBlobID{Epoch: 7, BlobID: id}
	enc := m.Encode()
	if enc[0] != 2 || len(enc) != 39 {
		t.Fatalf("invalid blob id = %x", enc)
	}
	back, err := DecodeInvalidBlobID(enc)
	if err != nil || back != m {
		t.Fatalf("round trip: %v %+v", err, back)
	}
	key, _ := crypto.BLSKeyFromSeed(bytes.Repeat([]byte{1}, 32))
	acct, _ := crypto.AccountKeyFromSeed(bytes.Repeat([]byte{2}, 32))
	pop := SignProofOfPossession(key, acct.Address(), 3)
	if err := VerifyProofOfPossession(key.PublicKey(), acct.Address(), 3, pop); err != nil {
		t.Fatal(err)
	}
	if err := VerifyProofOfPossession(key.PublicKey(), acct.Address(), 4, pop); err == nil {
		t.Fatal("PoP for another epoch accepted")
	}
	other, _ := crypto.AccountKeyFromSeed(bytes.Repeat([]byte{3}, 32))
	if err := VerifyProofOfPossession(key.PublicKey(), other.Address(), 3, pop); err == nil {
		t.Fatal("PoP for another address accepted")
	}
	pm := ProofOfPossession{Epoch: 3, Address: acct.Address(), PublicKey: key.PublicKey()}
	penc := pm.Encode()
	if penc[0] != 0 || len(penc) != 7+80 {
		t.Fatalf("pop message = %x", penc)
	}
	pback, err := DecodeProofOfPossession(penc)
	if err != nil || pback != pm {
		t.Fatalf("pop round trip: %v", err)
	}
}

type testCommittee struct {
	keys    []*crypto.BLSSecretKey
	members []Member
}

func newTestCommittee(t *testing.T, weights ...int) testCommittee {
	var c testCommittee
	for i, w := range weights {
		k, err := crypto.BLSKeyFromSeed(bytes.Repeat([]byte{byte(i + 1)}, 32))
		if err != nil {
			t.Fatal(err)
		}
		c.keys = append(c.keys, k)
		c.members = append(c.members, Member{PublicKey: k.PublicKey(), Weight: w})
	}
	return c
}

func (c testCommittee) certify(t *testing.T, msg []byte, signers ...int) Certificate {
	var sigs []crypto.BLSSignature
	for _, i := range signers {
		sigs = append(sigs, c.keys[i].Sign(msg))
	}
	agg, err := crypto.AggregateSignatures(sigs)
	if err != nil {
		t.Fatal(err)
	}
	bm, err := Bitmap(len(c.members), signers)
	if err != nil {
		t.Fatal(err)
	}
	return Certificate{Signers: bm, Message: msg, Signature: agg}
}

func TestCertificateVerify(t *testing.T) {
	// n = 10 shards over 4 members (4,3,2,1): quorum needs 3w >= 21 (w >= 7), validity 3w >= 11 (w >= 4).
	c := newTestCommittee(t, 4, 3, 2, 1)
	msg := StorageConfirmation{Epoch: 1}.Encode()
	const n = 10
	if err := c.certify(t, msg, 0, 1).Verify(c.members, n, Quorum); err != nil {
		t.Fatalf("weight 7 quorum: %v", err)
	}
	if err := c.certify(t, msg, 0, 2).Verify(c.members, n, Quorum); !errors.Is(err, ErrInsufficientWeight) {
		t.Fatalf("weight 6 quorum: %v", err)
	}
	if err := c.certify(t, msg, 0).Verify(c.members, n, Validity); err != nil {
		t.Fatalf("weight 4 validity: %v", err)
	}
	if err := c.certify(t, msg, 1).Verify(c.members, n, Validity); !errors.Is(err, ErrInsufficientWeight) {
		t.Fatalf("weight 3 validity: %v", err)
	}
	// Bitmap claims a signer that did not sign.
	cert := c.certify(t, msg, 0, 1)
	cert.Signers[0] |= 1 << 3
	if err := cert.Verify(c.members, n, Quorum); !errors.Is(err, ErrBadCertificate) {
		t.Fatalf("extra claimed signer: %v", err)
	}
	// Over another message.
	cert = c.certify(t, msg, 0, 1)
	cert.Message = StorageConfirmation{Epoch: 2}.Encode()
	if err := cert.Verify(c.members, n, Quorum); !errors.Is(err, ErrBadCertificate) {
		t.Fatalf("other message: %v", err)
	}
	// Bits beyond the members.
	cert = c.certify(t, msg, 0, 1)
	cert.Signers[0] |= 1 << 4
	if err := cert.Verify(c.members, n, Quorum); !errors.Is(err, ErrBitmap) {
		t.Fatalf("bit beyond members: %v", err)
	}
	cert = c.certify(t, msg, 0, 1)
	cert.Signers = append(cert.Signers, 0)
	if err := cert.Verify(c.members, n, Quorum); !errors.Is(err, ErrBitmap) {
		t.Fatalf("long bitmap: %v", err)
	}
	// A shorter bitmap reads as zeros: no signers, no weight.
	cert.Signers = nil
	if err := cert.Verify(c.members, n, Validity); !errors.Is(err, ErrInsufficientWeight) {
		t.Fatalf("empty bitmap: %v", err)
	}
}

func TestThresholdArithmetic(t *testing.T) {
	// Off-chain n-f and on-chain 3w >= 2n+1 coincide for every n (spec §1).
	for n := 4; n <= 1000; n++ {
		f := (n - 1) / 3
		for _, w := range []int{n - f - 1, n - f} {
			if got, want := Quorum.Reached(w, n), w >= n-f; got != want {
				t.Fatalf("n=%d w=%d quorum=%v want %v", n, w, got, want)
			}
		}
		// Validity (3w >= n+1) is at least f+1 and never more than f+2: when 3 divides n it
		// needs f+2 (n=6: f=1 but 2 shards are only a third).
		if Validity.Reached(f, n) || !Validity.Reached(f+2, n) {
			t.Fatalf("n=%d: validity threshold outside f+1..f+2", n)
		}
	}
	if got, _ := SignerIndices([]byte{0b101, 0b1}, 9); len(got) != 3 || got[0] != 0 || got[1] != 2 || got[2] != 8 {
		t.Fatalf("SignerIndices = %v", got)
	}
}

func FuzzDecodeMessages(f *testing.F) {
	var id blob.ID
	f.Add(StorageConfirmation{Epoch: 1, BlobID: id}.Encode())
	f.Add(StorageConfirmation{Epoch: 1, BlobID: id, Persistence: Deletable(ObjectID{1})}.Encode())
	f.Add(InvalidBlobID{Epoch: 2}.Encode())
	f.Add(ProofOfPossession{Epoch: 3}.Encode())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, msg []byte) {
		if c, err := DecodeStorageConfirmation(msg); err == nil && !bytes.Equal(c.Encode(), msg) {
			t.Fatalf("confirmation not canonical: %x", msg)
		}
		if m, err := DecodeInvalidBlobID(msg); err == nil && !bytes.Equal(m.Encode(), msg) {
			t.Fatalf("invalid blob id not canonical: %x", msg)
		}
		if p, err := DecodeProofOfPossession(msg); err == nil && !bytes.Equal(p.Encode(), msg) {
			t.Fatalf("pop not canonical: %x", msg)
		}
	})
}

func FuzzSignerIndices(f *testing.F) {
	f.Add([]byte{0xff}, 5)
	f.Fuzz(func(t *testing.T, bm []byte, members int) {
		if members < 0 || members > 4096 {
			return
		}
		idx, err := SignerIndices(bm, members)
		if err != nil {
			return
		}
		back, err := Bitmap(members, idx)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(bytes.TrimRight(back, "\x00"), bytes.TrimRight(bm, "\x00")) {
			t.Fatalf("bitmap %x -> %v -> %x", bm, idx, back)
		}
	})
}
