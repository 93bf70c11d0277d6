package controlplane

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	cpapi "github.com/floelabs/floe/api/controlplane"
)

// TestOpConversionRoundTrip converts every operation from the wire vocabulary into the state
// machine's and back: nothing may be lost at the edge.
func TestOpConversionRoundTrip(t *testing.T) {
	var obj cpapi.ObjectID
	obj[0], obj[31] = 1, 2
	var to cpapi.Address
	to[3] = 4
	var bk cpapi.BLSPublicKey
	bk[0] = 9
	var sig cpapi.BLSSignature
	sig[2] = 7
	name, addr, com := "n", "a:1", uint16(3)
	cert := cpapi.Certificate{Signers: []byte{1}, Message: []byte{2, 3}, Signature: sig}
	ops := []cpapi.Op{
		{Transfer: &cpapi.TransferOp{To: to, Amount: 5}},
		{RegisterNode: &cpapi.RegisterNodeOp{Name: "x", NetworkAddress: "y", NetworkPublicKey: []byte{1}, BLSPublicKey: bk, ProofOfPossession: sig, Commission: 1, StoragePrice: 2, WritePrice: 3, Capacity: 4}},
		{UpdateNode: &cpapi.UpdateNodeOp{NodeID: obj, Name: &name, NetworkAddress: &addr, NetworkPublicKey: []byte{5}, BLSPublicKey: &bk, ProofOfPossession: &sig, Commission: &com}},
		{UpdateNode: &cpapi.UpdateNodeOp{NodeID: obj}},
		{SetVotes: &cpapi.SetVotesOp{NodeID: obj, StoragePrice: 1, WritePrice: 2, Capacity: 3}},
		{Stake: &cpapi.StakeOp{NodeID: obj, Amount: 6}},
		{WithdrawStake: &cpapi.WithdrawStakeOp{StakeID: obj}},
		{ReserveStorage: &cpapi.ReserveStorageOp{Size: 7, EpochsAhead: 8}},
		{SplitStorage: &cpapi.SplitStorageOp{StorageID: obj, AtEpoch: 2, Size: 3}},
		{FuseStorage: &cpapi.FuseStorageOp{First: obj, Second: cpapi.ObjectID{1}}},
		{RegisterBlob: &cpapi.RegisterBlobOp{StorageID: obj, EpochsAhead: 1, BlobID: [32]byte{4}, RootHash: cpapi.Hash{5}, Size: 6, EncodingType: 1, Deletable: true}},
		{CertifyBlob: &cpapi.CertifyBlobOp{BlobObjectID: obj, Certificate: cert}},
		{InvalidateBlob: &cpapi.InvalidateBlobOp{Certificate: cert}},
		{ExtendBlob: &cpapi.ExtendBlobOp{BlobObjectID: obj, Epochs: 2}},
		{DeleteBlob: &cpapi.DeleteBlobOp{BlobObjectID: obj}},
		{SetAttributes: &cpapi.SetAttributesOp{BlobObjectID: obj, Set: map[string]string{"k": "v"}, Remove: []string{"r"}}},
		{TransferObject: &cpapi.TransferObjectOp{ObjectID: obj, To: to}},
		{ChallengeShare: &cpapi.ChallengeShareOp{Epoch: 3, Round: 1, NodeID: obj, Share: sig}},
		{ChallengeCertificate: &cpapi.ChallengeCertificateOp{Certificate: cert}},
		{ShareBlob: &cpapi.ShareBlobOp{BlobObjectID: obj, Amount: 9}},
		{FundSharedBlob: &cpapi.FundSharedBlobOp{BlobObjectID: obj, Amount: 10}},
		{EpochSyncDone: &cpapi.EpochSyncDoneOp{NodeID: obj, Epoch: 3, Signature: sig}},
		{SetValidator: &cpapi.SetValidatorOp{NodeID: obj, PublicKey: []byte{1, 2}, Signature: []byte{3}}},
		{SetValidator: &cpapi.SetValidatorOp{NodeID: obj}},
	}
	kinds := map[string]bool{}
	for i, w := range ops {
		o := OpFromAPI(&w)
		back := o.API()
		if !reflect.DeepEqual(back, w) {
			t.Errorf("op %d: %+v round-trips to %+v", i, w, back)
		}
		v := reflect.ValueOf(w)
		for f := 0; f < v.NumField(); f++ {
			if !v.Field(f).IsNil() {
				kinds[v.Type().Field(f).Name] = true
			}
		}
	}
	if n := reflect.TypeOf(cpapi.Op{}).NumField(); len(kinds) != n {
		t.Fatalf("the test covers %d of %d operations", len(kinds), n)
	}
}

func TestSignDecode(t *testing.T) {
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
	if !reflect.DeepEqual(back, tx) {
		t.Fatalf("decoded %+v, signed %+v", back, tx)
	}
	payload, _ := tx.Payload()
	if _, err := DecodeTx(Assemble(payload, accountKey(t, 'b').Sign(SigningMessage(payload)))); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("foreign signature: %v", err)
	}
	if _, err := Sign(tx, accountKey(t, 'b')); !errors.Is(err, ErrInvalidTx) {
		t.Fatalf("signing with another key: %v", err)
	}
	if !bytes.Equal(Assemble(payload, alice.Sign(SigningMessage(payload))), raw) {
		t.Fatal("Assemble differs from Sign")
	}
}
