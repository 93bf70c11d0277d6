package controlplane

import (
	"errors"
	"testing"

	cpapi "github.com/floelabs/floe/api/controlplane"
)

// TestSharedBlobs: an owned permanent blob becomes shared with its first funds; anyone funds
// it and extends it from its funds; nobody can delete, transfer, relabel or share it again; a
// deletable blob cannot be shared; the blob's status does not change.
func TestSharedBlobs(t *testing.T) {
	h := newHarness(t)
	perm, pbid := h.register(h.alice, 1000, 1, 1, false)
	del, dbid := h.register(h.alice, 1000, 2, 2, true)
	if r := h.certify(h.alice, perm, pbid, false); !r.OK() {
		t.Fatal(r.Err)
	}
	if r := h.certify(h.alice, del, dbid, true); !r.OK() {
		t.Fatal(r.Err)
	}
	if r := h.do(h.alice, Op{ShareBlob: &ShareBlobOp{BlobObjectID: del}}); !errors.Is(r.Err, ErrInvalidTx) {
		t.Fatalf("sharing a deletable blob: %v", r.Err)
	}
	if r := h.do(h.bob, Op{ShareBlob: &ShareBlobOp{BlobObjectID: perm}}); !errors.Is(r.Err, ErrNotOwner) {
		t.Fatalf("sharing another's blob: %v", r.Err)
	}
	if r := h.do(h.alice, Op{FundSharedBlob: &FundSharedBlobOp{BlobObjectID: perm, Amount: 5}}); !errors.Is(r.Err, ErrNotShared) {
		t.Fatalf("funding an unshared blob: %v", r.Err)
	}
	before := h.s.Account(h.alice.Address()).Balance
	r := h.ok(h.alice, Op{ShareBlob: &ShareBlobOp{BlobObjectID: perm, Amount: 15}})
	if e := r.Events[0]; e.Type != EventBlobShared || e.ObjectID != cpapi.ObjectID(perm) || e.Amount != 15 {
		t.Fatalf("share event %+v", e)
	}
	if got := before - h.s.Account(h.alice.Address()).Balance; got != 15 {
		t.Fatalf("sharing took %d", got)
	}
	b, _ := h.s.Blob(perm)
	if !b.Shared || b.Funds != 15 || b.Owner != (cpapi.Address{}) {
		t.Fatalf("shared blob %+v", b)
	}
	if owned := h.s.OwnedBy(h.alice.Address()); len(owned.Blobs) != 1 || owned.Blobs[0].ID != cpapi.ObjectID(del) {
		t.Fatalf("alice still owns %+v", owned.Blobs)
	}
	for name, op := range map[string]Op{
		"share again": {ShareBlob: &ShareBlobOp{BlobObjectID: perm}},
		"transfer":    {TransferObject: &TransferObjectOp{ObjectID: perm, To: h.bob.Address()}},
		"attributes":  {SetAttributes: &SetAttributesOp{BlobObjectID: perm, Set: map[string]string{"k": "v"}}},
	} {
		if r := h.do(h.alice, op); !errors.Is(r.Err, ErrNotOwner) {
			t.Errorf("%s: %v", name, r.Err)
		}
	}
	// Bob funds it and extends it; the funds pay (10 per epoch for this size), not bob.
	h.ok(h.bob, Op{FundSharedBlob: &FundSharedBlobOp{BlobObjectID: perm, Amount: 10}})
	bobBefore := h.s.Account(h.bob.Address()).Balance
	r = h.ok(h.bob, Op{ExtendBlob: &ExtendBlobOp{BlobObjectID: perm, Epochs: 2}})
	if e := r.Events[0]; e.Type != EventBlobExtended || e.EndEpoch != 4 || e.Amount != 20 {
		t.Fatalf("extend event %+v", e)
	}
	if b, _ := h.s.Blob(perm); b.Funds != 5 || b.Storage.End != 4 {
		t.Fatalf("after the extension %+v", b)
	}
	if h.s.Account(h.bob.Address()).Balance != bobBefore {
		t.Fatal("the extender paid")
	}
	if r := h.do(h.bob, Op{ExtendBlob: &ExtendBlobOp{BlobObjectID: perm, Epochs: 1}}); !errors.Is(r.Err, ErrInsufficientBalance) {
		t.Fatalf("extension beyond the funds: %v", r.Err)
	}
	if r := h.do(h.bob, Op{FundSharedBlob: &FundSharedBlobOp{BlobObjectID: perm}}); !errors.Is(r.Err, ErrInvalidTx) {
		t.Fatalf("funding nothing: %v", r.Err)
	}
	if st := h.s.BlobStatus(pbid); st.Status != StatusPermanent || !st.IsCertified || st.EndEpoch != 4 {
		t.Fatalf("status %+v", st)
	}
}
