package controlplane

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/floelabs/floe/internal/protocol"
)

func TestTxEncodingCanonical(t *testing.T) {
	alice := accountKey(t, 'a')
	tx := &Tx{ChainID: "c", Sender: alice.PublicKey(), Nonce: 7, Op: Op{SetAttributes: &SetAttributesOp{
		Set: map[string]string{"b": "2", "a": "1"}, Remove: []string{"z"}}}}
	raw, err := Sign(tx, alice)
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
	// The same transaction with white space, reordered keys or an unknown field is a different
	// byte string; it must be rejected even when correctly signed.
	for _, variant := range []string{
		strings.Replace(string(payload), `"nonce":7`, `"nonce": 7`, 1),
		strings.Replace(string(payload), `{"a":"1","b":"2"}`, `{"b":"2","a":"1"}`, 1),
		strings.Replace(string(payload), `"nonce":7`, `"nonce":7,"extra":1`, 1),
		strings.Replace(string(payload), `"nonce":7`, `"nonce":7.0`, 1),
	} {
		sig := alice.Sign(SigningMessage([]byte(variant)))
		if _, err := DecodeTx(Assemble([]byte(variant), sig)); !errors.Is(err, ErrInvalidTx) {
			t.Errorf("variant %s: %v", variant, err)
		}
	}
	// Truncated, extended, wrong version, non-minimal length.
	for name, b := range map[string][]byte{
		"truncated": raw[:len(raw)-1],
		"extended":  append(append([]byte(nil), raw...), 0),
		"version":   append([]byte{2}, raw[1:]...),
		"empty":     nil,
	} {
		if _, err := DecodeTx(b); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

func FuzzDecodeTx(f *testing.F) {
	alice := accountKey(f, 'a')
	for _, op := range []Op{
		{Transfer: &TransferOp{Amount: 1}},
		{RegisterBlob: &RegisterBlobOp{EpochsAhead: 1, Size: 5, EncodingType: 1}},
		{CertifyBlob: &CertifyBlobOp{Certificate: protocol.Certificate{Signers: []byte{3}, Message: []byte{1, 0, 3}}}},
		{SetAttributes: &SetAttributesOp{Set: map[string]string{"k": "v"}}},
	} {
		raw, err := Sign(&Tx{ChainID: "c", Sender: alice.PublicKey(), Op: op}, alice)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
		payload, _ := (&Tx{ChainID: "c", Sender: alice.PublicKey(), Op: op}).Payload()
		f.Add(payload)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// The envelope parser must not panic on anything (signatures cannot be fuzzed).
		_, _ = DecodeTx(b)
		// The payload decoder accepts only canonical payloads: whatever it accepts re-encodes
		// to the same bytes.
		tx, err := decodePayload(b)
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
