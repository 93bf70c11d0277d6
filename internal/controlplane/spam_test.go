package controlplane

import (
	"bytes"
	"errors"
	"testing"

	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/protocol"
)

// TestUnfundedSenderCreatesNoAccount (issue 11 item 5): transactions from keys that never
// received tokens, included in a block anyway (a proposer does not have to respect admission),
// fail and leave no account and no nonce behind; the ledger does not grow with them. A
// certificate transaction from such a key succeeds and creates its account. Today's main
// creates an account with nonce 1 for every one of them.
func TestUnfundedSenderCreatesNoAccount(t *testing.T) {
	h := newHarness(t)
	before := len(h.s.d.Accounts)
	var txs [][]byte
	for i := range 50 {
		k := accountKey(t, byte(i))
		if k.Address() == h.alice.Address() || k.Address() == h.bob.Address() {
			continue
		}
		txs = append(txs, h.sign(k, Op{Transfer: &TransferOp{To: h.alice.Address(), Amount: 1}}))
		obj, _ := h.register(h.alice, 1000, byte(i), 1, true)
		txs = append(txs, h.sign(k, Op{DeleteBlob: &DeleteBlobOp{BlobObjectID: obj}}))
	}
	accounts := len(h.s.d.Accounts)
	res := h.block(txs...)
	for i, r := range res.Results {
		if r.OK() {
			t.Fatalf("transaction %d from an unfunded key succeeded", i)
		}
	}
	if n := len(h.s.d.Accounts); n != accounts {
		t.Fatalf("%d accounts after a block of failing transactions from fresh keys, %d before", n, accounts)
	}
	if accounts != before {
		t.Fatalf("registering blobs created %d accounts", accounts-before)
	}
	// A funded sender's failing transaction still uses its nonce (it can never be replayed).
	n := h.s.Account(h.alice.Address()).Nonce
	if r := h.do(h.alice, Op{DeleteBlob: &DeleteBlobOp{BlobObjectID: ObjectID{1}}}); r.OK() || h.s.Account(h.alice.Address()).Nonce != n+1 {
		t.Fatalf("a funded sender's failing transaction: %+v, nonce %d after %d", r, h.s.Account(h.alice.Address()).Nonce, n)
	}
	// A storage node's key without tokens certifies an invalid blob ID: that creates its
	// account, with its nonce used.
	node := accountKey(t, 'N')
	bid, _ := testBlob(4242, 9)
	w := h.memberIndexByWeight()
	msg := protocol.InvalidBlobID{Epoch: h.s.Epoch(), BlobID: bid}.Encode()
	if r := h.do(node, Op{InvalidateBlob: &InvalidateBlobOp{Certificate: h.cert(msg, w[0])}}); !r.OK() {
		t.Fatalf("invalidation from an unfunded key: %v", r.Err)
	}
	if a := h.s.Account(node.Address()); a.Nonce != 1 || a.Balance != 0 {
		t.Fatalf("the certifying key's account: %+v", a)
	}
}

// TestAdmissionRejectsWhatCannotPay: CheckTx (both drivers and the embedded driver's Submit
// use it) refuses transactions that can only fail for want of tokens, and anything but a
// verifying certificate from a key that never received tokens.
func TestAdmissionRejectsWhatCannotPay(t *testing.T) {
	h := newHarness(t)
	obj, bid := h.register(h.alice, 1000, 1, 2, false)
	fresh := accountKey(t, 'F')
	poor := accountKey(t, 'P')
	h.ok(h.alice, Op{Transfer: &TransferOp{To: poor.Address(), Amount: 10}})
	w := h.memberIndexByWeight()
	confirm := protocol.StorageConfirmation{Epoch: h.s.Epoch(), BlobID: bid, Persistence: protocol.Permanent}.Encode()
	invalid := protocol.InvalidBlobID{Epoch: h.s.Epoch(), BlobID: bid}.Encode()
	goodCert := h.cert(confirm, w[0], w[1])
	weakCert := h.cert(confirm, w[3]) // 1 of 10 shards: no quorum
	badSig := h.cert(confirm, w[0], w[1])
	badSig.Signature = h.cert(invalid, w[0], w[1]).Signature
	balance := h.s.Account(h.alice.Address()).Balance
	for _, c := range []struct {
		name string
		key  string
		op   Op
		want error
	}{
		{"transfer within the balance", "alice", Op{Transfer: &TransferOp{To: fresh.Address(), Amount: balance}}, nil},
		{"transfer above the balance", "alice", Op{Transfer: &TransferOp{To: fresh.Address(), Amount: balance + 1}}, ErrInsufficientBalance},
		{"stake above the balance", "alice", Op{Stake: &StakeOp{NodeID: ObjectID(obj), Amount: balance + 1}}, ErrInsufficientBalance},
		{"storage above the balance", "alice", Op{ReserveStorage: &ReserveStorageOp{Size: 1 << 50, EpochsAhead: 5}}, ErrInsufficientBalance},
		{"registration above the balance", "poor", Op{RegisterBlob: &RegisterBlobOp{EpochsAhead: 5, Size: 1 << 20, EncodingType: 1}}, ErrInsufficientBalance},
		{"registration within the balance", "poor", Op{RegisterBlob: &RegisterBlobOp{EpochsAhead: 0, StorageID: obj, Size: 1, EncodingType: 1}}, nil},
		{"write fee above the balance", "poor", Op{RegisterBlob: &RegisterBlobOp{StorageID: obj, Size: 1 << 20, EncodingType: 1}}, ErrInsufficientBalance},
		{"an operation that costs nothing", "alice", Op{DeleteBlob: &DeleteBlobOp{BlobObjectID: obj}}, nil},
		{"a fresh key's transfer of nothing", "fresh", Op{Transfer: &TransferOp{To: h.alice.Address()}}, ErrInsufficientBalance},
		{"a fresh key's free operation", "fresh", Op{SetAttributes: &SetAttributesOp{BlobObjectID: obj}}, ErrInsufficientBalance},
		{"a fresh key's verifying certificate", "fresh", Op{CertifyBlob: &CertifyBlobOp{BlobObjectID: obj, Certificate: goodCert}}, nil},
		{"a fresh key's certificate without quorum", "fresh", Op{CertifyBlob: &CertifyBlobOp{BlobObjectID: obj, Certificate: weakCert}}, ErrCertificate},
		{"a fresh key's certificate with a bad signature", "fresh", Op{CertifyBlob: &CertifyBlobOp{BlobObjectID: obj, Certificate: badSig}}, ErrCertificate},
		{"a fresh key's validity certificate", "fresh", Op{InvalidateBlob: &InvalidateBlobOp{Certificate: h.cert(invalid, w[0])}}, nil},
		{"a certificate of another epoch", "fresh", Op{InvalidateBlob: &InvalidateBlobOp{Certificate: h.cert(
			protocol.InvalidBlobID{Epoch: h.s.Epoch() + 1, BlobID: bid}.Encode(), w[0])}}, ErrWrongEpoch},
	} {
		key := map[string]*crypto.AccountKey{"alice": h.alice, "fresh": fresh, "poor": poor}[c.key]
		h.nonces[key.Address()] = h.s.Account(key.Address()).Nonce
		_, err := h.s.CheckTx(h.sign(key, c.op))
		if (c.want == nil) != (err == nil) || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if !bytes.Equal(weakCert.Message, confirm) {
		t.Fatal("test set-up")
	}
}
