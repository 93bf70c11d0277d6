package controlplane

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"

	"github.com/floelabs/floe/blob"
)

func testKey(b byte) (ed25519.PrivateKey, PublicKey) {
	k := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, 32))
	var pk PublicKey
	copy(pk[:], k.Public().(ed25519.PublicKey))
	return k, pk
}

func TestTxEncodingCanonical(t *testing.T) {
	key, pub := testKey('a')
	tx := &Tx{ChainID: "c", Sender: pub, Nonce: 7, Op: Op{SetAttributes: &SetAttributesOp{
		Set: map[string]string{"b": "2", "a": "1"}, Remove: []string{"z"}}}}
	raw, err := Sign(tx, key)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeTx(raw)
	if err != nil {
		t.Fatal(err)
	}
	if back.Nonce != 7 || back.Op.SetAttributes.Set["a"] != "1" {
		t.Fatalf("decoded %+v", back)
	}
	payload, _ := tx.Payload()
	if !bytes.Contains(payload, []byte(`{"a":"1","b":"2"}`)) {
		t.Fatalf("map keys not sorted: %s", payload)
	}
	sign := func(p []byte) Signature {
		var s Signature
		copy(s[:], ed25519.Sign(key, SigningMessage(p)))
		return s
	}
	// The same transaction with white space, reordered keys or an unknown field is a different
	// byte string; it must be rejected even when correctly signed.
	for _, variant := range []string{
		strings.Replace(string(payload), `"nonce":7`, `"nonce": 7`, 1),
		strings.Replace(string(payload), `{"a":"1","b":"2"}`, `{"b":"2","a":"1"}`, 1),
		strings.Replace(string(payload), `"nonce":7`, `"nonce":7,"extra":1`, 1),
		strings.Replace(string(payload), `"nonce":7`, `"nonce":7.0`, 1),
	} {
		if _, err := DecodeTx(Assemble([]byte(variant), sign([]byte(variant)))); !errors.Is(err, ErrInvalidTx) {
			t.Errorf("variant %s: %v", variant, err)
		}
	}
	// A signature by another key.
	other, _ := testKey('b')
	var bad Signature
	copy(bad[:], ed25519.Sign(other, SigningMessage(payload)))
	if _, err := DecodeTx(Assemble(payload, bad)); !errors.Is(err, ErrBadSignature) {
		t.Errorf("foreign signature: %v", err)
	}
	if _, err := Sign(tx, other); !errors.Is(err, ErrInvalidTx) {
		t.Errorf("signing with a key that is not the sender's: %v", err)
	}
	// Truncated, extended, wrong version, non-minimal length.
	for name, b := range map[string][]byte{
		"truncated":   raw[:len(raw)-1],
		"extended":    append(append([]byte(nil), raw...), 0),
		"version":     append([]byte{2}, raw[1:]...),
		"empty":       nil,
		"non-minimal": append([]byte{1, 0x80 | raw[1], 0x80, 0}, raw[3:]...),
	} {
		if _, err := DecodeTx(b); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

// TestTxWireGolden pins the wire bytes of transactions of every kind of field (hex, "0x" hex,
// base64 of blob IDs, BLS keys and byte strings, pointers, maps, omitted zero IDs): they are
// signed and hashed, so they must never change. The hashes were computed by the code before the
// wire vocabulary moved to this package (internal/controlplane's Sign at commit eee6b6e).
func TestTxWireGolden(t *testing.T) {
	key, pub := testKey('a')
	var obj ObjectID
	obj[0], obj[31] = 1, 2
	var to Address
	to[1] = 9
	var bid blob.ID
	bid[0], bid[31] = 7, 8
	var root Hash
	root[5] = 0xaa
	var bk BLSPublicKey
	bk[0] = 0x99
	var sig BLSSignature
	sig[1] = 0x42
	name := "n"
	com := uint16(5)
	ops := []Op{
		{TransferObject: &TransferObjectOp{ObjectID: obj, To: to}},
		{RegisterBlob: &RegisterBlobOp{EpochsAhead: 3, BlobID: bid, RootHash: root, Size: 1000, EncodingType: 1, Deletable: true}},
		{RegisterBlob: &RegisterBlobOp{StorageID: obj, BlobID: bid, RootHash: root, Size: 1000, EncodingType: 1}},
		{CertifyBlob: &CertifyBlobOp{BlobObjectID: obj, Certificate: Certificate{Signers: []byte{3, 1}, Message: []byte{1, 2, 3, 4, 5}, Signature: sig}}},
		{RegisterNode: &RegisterNodeOp{Name: "node", NetworkAddress: "127.0.0.1:1", NetworkPublicKey: []byte{1, 2}, BLSPublicKey: bk, ProofOfPossession: sig, Commission: 7, StoragePrice: 1, WritePrice: 2, Capacity: 3}},
		{UpdateNode: &UpdateNodeOp{NodeID: obj, Name: &name, BLSPublicKey: &bk, ProofOfPossession: &sig, Commission: &com}},
		{SetAttributes: &SetAttributesOp{BlobObjectID: obj, Set: map[string]string{"b": "2", "a": "1"}, Remove: []string{"z"}}},
		{SplitStorage: &SplitStorageOp{StorageID: obj, AtEpoch: 4}},
	}
	want := []string{
		"126963c3a88b009b25d6c0a8cc50df86c9f4bbac37a4b877f7f381c3609b7f9c",
		"3e1188ce8e2e1a0117c336c06522f5b9844b4af41047e59631e072e6b6c4e472",
		"c4ebfbd697a9bcba17e9ded91ac09077eaf2a07a608c4734124bb6600c0d6cfb",
		"e67531cd83c23234ec13c1e092f19b148734d1c5ceb0f21c06e7be2cb34a743f",
		"cb1dbc615c9a355aecc54848264bbfc3e3b54dc6c7d3c716b4c076cbf73243f9",
		"fa2344aa8dea2fa81c99214b85080b755dc54ec9486ac47ddf20e52deffc4147",
		"e72aa61b18d4c1341340880678970d12f7ef569a361269179c00d2adef787797",
		"2c2823efbb41b7faac5106021ee91ad66d70b3df9cecb33548fd33bd6c22d502",
	}
	for i, op := range ops {
		tx := &Tx{ChainID: "floe-test", Sender: pub, Nonce: uint64(i), Op: op}
		raw, err := Sign(tx, key)
		if err != nil {
			t.Fatal(err)
		}
		if got := TxHash(raw).String(); got != want[i] {
			t.Errorf("transaction %d: hash %s, want %s", i, got, want[i])
		}
		back, err := DecodeTx(raw)
		if err != nil {
			t.Fatalf("transaction %d: %v", i, err)
		}
		again, err := Sign(back, key)
		if err != nil || !bytes.Equal(again, raw) {
			t.Errorf("transaction %d does not round-trip: %v", i, err)
		}
	}
	payload, _ := (&Tx{ChainID: "floe-test", Sender: pub, Nonce: 3, Op: ops[0]}).Payload()
	const wantPayload = `{"chain_id":"floe-test","sender":"af06a3e3291714e4f356c19c9b15cd1951ec6e6662aa77be07547f289383341d",` +
		`"nonce":3,"op":{"transfer_object":{"object_id":"0x0100000000000000000000000000000000000000000000000000000000000002",` +
		`"to":"0x0009000000000000000000000000000000000000000000000000000000000000"}}}`
	if string(payload) != wantPayload {
		t.Errorf("payload\n%s\nwant\n%s", payload, wantPayload)
	}
	if got := pub.Address().String(); got != "0x5a9834fd1c0e3b26c7bfcc4aa33eb99739bc1e1eeeff07fdb3dfbf2789b2d1b2" {
		t.Errorf("address %s", got)
	}
}

func FuzzDecodeTx(f *testing.F) {
	key, pub := testKey('a')
	for _, op := range []Op{
		{Transfer: &TransferOp{Amount: 1}},
		{RegisterBlob: &RegisterBlobOp{EpochsAhead: 1, Size: 5, EncodingType: 1}},
		{CertifyBlob: &CertifyBlobOp{Certificate: Certificate{Signers: []byte{3}, Message: []byte{1, 0, 3}}}},
		{SetAttributes: &SetAttributesOp{Set: map[string]string{"k": "v"}}},
	} {
		tx := &Tx{ChainID: "c", Sender: pub, Op: op}
		raw, err := Sign(tx, key)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
		payload, _ := tx.Payload()
		f.Add(payload)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// The envelope parser must not panic on anything (signatures cannot be fuzzed).
		_, _ = DecodeTx(b)
		// The payload decoder accepts only canonical payloads: whatever it accepts re-encodes
		// to the same bytes.
		tx, err := DecodePayload(b)
		if err != nil {
			return
		}
		again, err := tx.Payload()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("accepted a non-canonical payload %q", b)
		}
	})
}
