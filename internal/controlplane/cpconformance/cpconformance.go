// Package cpconformance is the conformance suite every control-plane driver passes (the
// embedded driver and the CometBFT driver): the same transactions give the same results, the
// same events and the same state hashes as the state machine itself.
//
// The suite submits a script of transactions through the driver's cpserver.Backend
// (sequentially, then a burst of concurrent ones), then replays them on a fresh
// controlplane.State at the heights and block times the driver reported, with empty blocks
// where the driver made blocks without transactions, and requires every transaction result,
// the whole event history and the app hash of the driver's latest state to equal the
// replay's. Drivers differ only in how they order transactions into blocks and when they make
// blocks; everything the state machine computes must be identical.
package cpconformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/controlplane"
	"github.com/floelabs/floe/internal/controlplane/cpserver"
	"github.com/floelabs/floe/internal/controlplane/cptest"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/merkle"
	"github.com/floelabs/floe/internal/protocol"
)

// Open starts a new driver for genesis g; the suite does not close it (use t.Cleanup).
type Open func(t *testing.T, g *controlplane.Genesis) cpserver.Backend

// NewNetwork returns the suite's genesis and keys: 4 storage nodes over 10 shards, 8 funded
// users, one-hour epochs starting a minute ago (so that no epoch changes during the suite
// whatever the driver's block times).
func NewNetwork() *cptest.Network {
	net := cptest.NewNetwork(10, 4, 8, 1e12, nil, time.Now().Add(-time.Minute).Truncate(time.Millisecond))
	net.Genesis.Params.EpochDurationMs = time.Hour.Milliseconds()
	return net
}

// submitted is a transaction the driver included.
type submitted struct {
	raw []byte
	inc *cpapi.Included
}

// Run runs the suite against the driver open starts.
func Run(t *testing.T, open Open) {
	t.Helper()
	net := NewNetwork()
	b := open(t, net.Genesis)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var log []submitted
	submit := func(key *crypto.AccountKey, op cpapi.Op) *cpapi.Included {
		t.Helper()
		raw := net.Sign(key, op)
		inc, err := b.Submit(ctx, raw)
		if err != nil {
			t.Fatalf("submit %+v: %v", op, err)
		}
		log = append(log, submitted{raw, inc})
		return inc
	}
	mustOK := func(inc *cpapi.Included) *cpapi.Included {
		t.Helper()
		if !inc.OK() {
			t.Fatalf("transaction failed: %s %s", inc.Code, inc.Error)
		}
		return inc
	}
	alice, bob := net.Users[0], net.Users[1]

	mustOK(submit(alice, cpapi.Op{Transfer: &cpapi.TransferOp{To: cpapi.Address(bob.Address()), Amount: 1000}}))
	st := mustOK(submit(alice, cpapi.Op{ReserveStorage: &cpapi.ReserveStorageOp{Size: 64 * cpapi.MiB, EpochsAhead: 3}}))
	if len(st.Created) != 1 {
		t.Fatalf("reserve created %v", st.Created)
	}
	mustOK(submit(alice, cpapi.Op{SplitStorage: &cpapi.SplitStorageOp{StorageID: st.Created[0], Size: 16 * cpapi.MiB}}))
	root := merkle.LeafHash([]byte("conformance"))
	const size = 100_000
	bid := blob.DeriveID(blob.RS2, size, root)
	reg := mustOK(submit(bob, cpapi.Op{RegisterBlob: &cpapi.RegisterBlobOp{EpochsAhead: 2, BlobID: bid,
		RootHash: cpapi.Hash(root), Size: size, EncodingType: uint8(blob.RS2), Deletable: true}}))
	blobObj := reg.Created[len(reg.Created)-1]
	var committee *cpapi.Committee
	b.View(func(s *controlplane.State, _ controlplane.Hash) {
		if c, ok := s.Committee(s.Epoch()); ok {
			committee = c
		}
	})
	if committee == nil {
		t.Fatal("no committee")
	}
	msg := protocol.StorageConfirmation{Epoch: committee.Epoch, BlobID: bid, Persistence: protocol.Deletable(protocol.ObjectID(blobObj))}.Encode()
	cert, err := net.Certify(committee, msg, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustOK(submit(alice, cpapi.Op{CertifyBlob: &cpapi.CertifyBlobOp{BlobObjectID: blobObj, Certificate: cert}}))
	mustOK(submit(bob, cpapi.Op{SetAttributes: &cpapi.SetAttributesOp{BlobObjectID: blobObj, Set: map[string]string{"type": "text/plain"}}}))

	// Executed and rejected: the nonce is used, nothing else changes.
	for _, c := range []struct {
		key  *crypto.AccountKey
		op   cpapi.Op
		code error
	}{
		{alice, cpapi.Op{DeleteBlob: &cpapi.DeleteBlobOp{BlobObjectID: cpapi.ObjectID{1}}}, controlplane.ErrNotFound},
		{alice, cpapi.Op{CertifyBlob: &cpapi.CertifyBlobOp{BlobObjectID: blobObj, Certificate: cert}}, controlplane.ErrAlreadyCertified},
		{alice, cpapi.Op{DeleteBlob: &cpapi.DeleteBlobOp{BlobObjectID: blobObj}}, controlplane.ErrNotOwner},
	} {
		inc := submit(c.key, c.op)
		if inc.OK() || controlplane.ErrorForCode(inc.Code) != c.code {
			t.Fatalf("%+v: code %q, want %v", c.op, inc.Code, c.code)
		}
	}
	mustOK(submit(bob, cpapi.Op{DeleteBlob: &cpapi.DeleteBlobOp{BlobObjectID: blobObj}}))

	// Rejected at admission: nothing is included.
	nonce := func(k *crypto.AccountKey) (n uint64) {
		b.View(func(s *controlplane.State, _ controlplane.Hash) { n = s.Account(k.Address()).Nonce })
		return n
	}
	next := nonce(alice)
	net.SetNonce(alice, next-1)
	if _, err := b.Submit(ctx, net.Sign(alice, cpapi.Op{Transfer: &cpapi.TransferOp{To: cpapi.Address(bob.Address()), Amount: 1}})); !errors.Is(err, controlplane.ErrBadNonce) {
		t.Fatalf("replayed nonce: %v", err)
	}
	net.SetNonce(alice, next)
	bad := net.Sign(alice, cpapi.Op{Transfer: &cpapi.TransferOp{To: cpapi.Address(bob.Address()), Amount: 1}})
	bad[len(bad)-1] ^= 1
	if _, err := b.Submit(ctx, bad); !errors.Is(err, controlplane.ErrBadSignature) {
		t.Fatalf("bad signature: %v", err)
	}
	if _, err := b.Submit(ctx, []byte{9, 9, 9}); !errors.Is(err, controlplane.ErrInvalidTx) {
		t.Fatalf("garbage: %v", err)
	}
	// What the sender cannot pay, and anything but a certificate from a key that never
	// received tokens, is rejected at admission.
	if _, err := b.Submit(ctx, net.Sign(alice, cpapi.Op{Transfer: &cpapi.TransferOp{To: cpapi.Address(bob.Address()), Amount: 1e15}})); !errors.Is(err, controlplane.ErrInsufficientBalance) {
		t.Fatalf("a transfer the sender cannot pay: %v", err)
	}
	net.SetNonce(alice, next)
	fresh, err := crypto.AccountKeyFromSeed(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Submit(ctx, net.Sign(fresh, cpapi.Op{SetAttributes: &cpapi.SetAttributesOp{BlobObjectID: blobObj}})); !errors.Is(err, controlplane.ErrInsufficientBalance) {
		t.Fatalf("a transaction from a key that never received tokens: %v", err)
	}
	// A certificate is admitted from such a key (storage nodes send them from accounts that
	// may hold nothing) if it verifies; then its account exists.
	net.SetNonce(fresh, 0)
	badID := blob.DeriveID(blob.RS2, 77, merkle.LeafHash([]byte("inconsistent")))
	forged, err := net.Certify(committee, protocol.InvalidBlobID{Epoch: committee.Epoch + 1, BlobID: badID}.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Submit(ctx, net.Sign(fresh, cpapi.Op{InvalidateBlob: &cpapi.InvalidateBlobOp{Certificate: forged}})); !errors.Is(err, controlplane.ErrWrongEpoch) {
		t.Fatalf("a certificate of another epoch from a key without tokens: %v", err)
	}
	net.SetNonce(fresh, 0)
	inv, err := net.Certify(committee, protocol.InvalidBlobID{Epoch: committee.Epoch, BlobID: badID}.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	mustOK(submit(fresh, cpapi.Op{InvalidateBlob: &cpapi.InvalidateBlobOp{Certificate: inv}}))
	net.SetNonce(alice, next)

	// A burst from distinct senders: the driver may put several in one block.
	senders := net.Users
	raws := make([][]byte, len(senders))
	for i, k := range senders {
		raws[i] = net.Sign(k, cpapi.Op{Transfer: &cpapi.TransferOp{To: cpapi.Address(net.Users[(i+1)%len(net.Users)].Address()), Amount: uint64(10 + i)}})
	}
	incs := make([]*cpapi.Included, len(raws))
	errs := make([]error, len(raws))
	var wg sync.WaitGroup
	for i, raw := range raws {
		wg.Go(func() { incs[i], errs[i] = b.Submit(ctx, raw) })
	}
	wg.Wait()
	for i := range raws {
		if errs[i] != nil || !incs[i].OK() {
			t.Fatalf("burst %d: %v %+v", i, errs[i], incs[i])
		}
		log = append(log, submitted{raws[i], incs[i]})
	}

	if err := Check(ctx, b, net.Genesis, log2pairs(log)); err != nil {
		t.Fatal(err)
	}
}

// Tx is a transaction a driver included, with its outcome.
type Tx struct {
	Raw      []byte
	Included *cpapi.Included
}

func log2pairs(l []submitted) []Tx {
	out := make([]Tx, len(l))
	for i, s := range l {
		out[i] = Tx{s.raw, s.inc}
	}
	return out
}

// Check replays txs (every transaction the driver included since genesis, in any order) on
// the state machine at the heights and times the driver reported and compares every result,
// the event history and the app hash of the driver's current state. Within a block,
// transactions are ordered by the sequence numbers of their events, so every transaction
// that shares a block with another must have emitted events.
func Check(ctx context.Context, b cpserver.Backend, g *controlplane.Genesis, txs []Tx) error {
	blocks := map[uint64][]Tx{}
	for _, tx := range txs {
		h := tx.Included.Height
		blocks[h] = append(blocks[h], tx)
	}
	for h, bl := range blocks {
		if len(bl) == 1 {
			continue
		}
		for _, tx := range bl {
			if len(tx.Included.Events) == 0 {
				return fmt.Errorf("block %d: a transaction without events shares the block; its position is unknown", h)
			}
		}
		slices.SortFunc(bl, func(x, y Tx) int { return int(x.Included.Events[0].Seq) - int(y.Included.Events[0].Seq) })
	}
	// The driver's current height, time and hash (View may be ahead of the last transaction).
	var height uint64
	var timeMs int64
	var hash controlplane.Hash
	var seq uint64
	b.View(func(s *controlplane.State, h controlplane.Hash) {
		height, timeMs, hash, seq = s.Height(), s.TimeMs(), h, s.EventSeq()
	})
	ref, events, err := controlplane.NewState(g)
	if err != nil {
		return err
	}
	for h := uint64(1); h <= height; h++ {
		bl := blocks[h]
		at := ref.TimeMs()
		if len(bl) > 0 {
			at = bl[0].Included.TimeMs
		} else if h == height {
			at = timeMs
		}
		raws := make([][]byte, len(bl))
		for i, tx := range bl {
			raws[i] = tx.Raw
			if tx.Included.TimeMs != at {
				return fmt.Errorf("block %d: transactions report times %d and %d", h, at, tx.Included.TimeMs)
			}
		}
		res, err := ref.ApplyBlock(h, time.UnixMilli(at), raws)
		if err != nil {
			return fmt.Errorf("replaying block %d: %w", h, err)
		}
		if len(bl) == 0 && len(res.BlockEvents) > 0 {
			return fmt.Errorf("replayed empty block %d emitted events; the suite assumes none", h)
		}
		for i, tx := range bl {
			want, have := res.Included(i).TxResult, tx.Included.TxResult
			wj, _ := json.Marshal(want)
			hj, _ := json.Marshal(have)
			if string(wj) != string(hj) {
				return fmt.Errorf("block %d tx %d: driver result\n%s\nstate machine\n%s", h, i, hj, wj)
			}
		}
		events = append(events, res.Events()...)
	}
	if height < maxHeight(blocks) {
		return fmt.Errorf("driver state at height %d, behind its own transactions at %d", height, maxHeight(blocks))
	}
	if ref.Hash() != hash {
		return fmt.Errorf("app hash at height %d: driver %s, state machine %s", height, hash, ref.Hash())
	}
	if uint64(len(events)) != seq {
		return fmt.Errorf("driver has emitted %d events, state machine %d", seq, len(events))
	}
	var have []cpapi.Event
	for uint64(len(have)) < seq {
		wctx, cancel := context.WithTimeout(ctx, time.Second)
		evs, err := b.Events(wctx, uint64(len(have)), 1000)
		cancel()
		if err != nil {
			return fmt.Errorf("events: %w", err)
		}
		if len(evs) == 0 && ctx.Err() != nil {
			return fmt.Errorf("events: only %d of %d: %w", len(have), seq, ctx.Err())
		}
		have = append(have, evs...)
	}
	hj, _ := json.Marshal(have[:seq])
	wj, _ := json.Marshal(events)
	if string(hj) != string(wj) {
		return fmt.Errorf("event history differs:\ndriver        %s\nstate machine %s", hj, wj)
	}
	return nil
}

func maxHeight(blocks map[uint64][]Tx) uint64 {
	var m uint64
	for h := range blocks {
		m = max(m, h)
	}
	return m
}
