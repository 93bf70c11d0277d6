package cpclient_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/internal/controlplane/cpclient"
	"github.com/floelabs/floe/internal/controlplane/cpserver"
	"github.com/floelabs/floe/internal/controlplane/cptest"
	"github.com/floelabs/floe/internal/controlplane/embedded"
	"github.com/floelabs/floe/internal/merkle"
	"github.com/floelabs/floe/internal/protocol"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// serve starts an embedded chain behind a real HTTP server on 127.0.0.1.
func serve(t testing.TB, net_ *cptest.Network) (*cpclient.Client, *embedded.Chain) {
	t.Helper()
	return serveWith(t, &embedded.Options{Genesis: net_.Genesis, Logger: quiet()})
}

func serveWith(t testing.TB, o *embedded.Options) (*cpclient.Client, *embedded.Chain) {
	t.Helper()
	chain, err := embedded.Open(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: cpserver.New(chain, quiet()), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Close()
		chain.Close()
	})
	return cpclient.New("http://"+ln.Addr().String(), nil), chain
}

func TestBlobLifecycleOverHTTP(t *testing.T) {
	nw := cptest.NewNetwork(10, 4, 2, 1e12, []uint64{40, 30, 20, 10}, time.Now())
	c, _ := serve(t, nw)
	ctx := context.Background()
	chainID := nw.Genesis.Params.ChainID
	alice, bob := nw.Users[0], nw.Users[1]

	info, err := c.Info(ctx)
	if err != nil || info.Epoch != 1 || info.CommitteeSize != 4 || info.Params.NShards != 10 {
		t.Fatalf("info %+v %v", info, err)
	}
	cost, err := c.Cost(ctx, 1000, 2)
	if err != nil || cost.EncodedLength != 10680 || cost.StorageCost != 20 || cost.WriteFee != 5 || cost.Total != 25 {
		t.Fatalf("cost %+v %v", cost, err)
	}
	// Register a deletable blob with inline storage.
	size := uint64(1000)
	root := merkle.LeafHash([]byte("blob"))
	bid := blob.DeriveID(blob.RS2, size, root)
	inc, err := c.Execute(ctx, chainID, alice, cpapi.Op{RegisterBlob: &cpapi.RegisterBlobOp{
		EpochsAhead: 2, BlobID: bid, RootHash: cpapi.Hash(root), Size: size, EncodingType: 1, Deletable: true}})
	if err != nil {
		t.Fatal(err)
	}
	obj := inc.Created[1]
	if st, err := c.BlobStatus(ctx, bid); err != nil || st.Status != cpapi.StatusDeletable || st.DeletableCounts.Total != 1 {
		t.Fatalf("status %+v %v", st, err)
	}
	// Certify with a quorum certificate from the committee.
	com, err := c.CurrentCommittee(ctx)
	if err != nil || len(com.Members) != 4 {
		t.Fatalf("committee %+v %v", com, err)
	}
	msg := protocol.StorageConfirmation{Epoch: com.Epoch, BlobID: bid, Persistence: protocol.Deletable(protocol.ObjectID(obj))}.Encode()
	cert, err := nw.Certify(com, msg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Execute(ctx, chainID, bob, cpapi.Op{CertifyBlob: &cpapi.CertifyBlobOp{BlobObjectID: obj, Certificate: cert}}); err != nil {
		t.Fatal(err)
	}
	st, err := c.BlobStatus(ctx, bid)
	if err != nil || st.DeletableCounts.Certified != 1 || st.InitialCertifiedEpoch == nil {
		t.Fatalf("status after certification %+v %v", st, err)
	}
	o, err := c.Object(ctx, obj)
	if err != nil || o.Blob == nil || !o.Blob.Certified || o.Blob.BlobID != bid {
		t.Fatalf("object %+v %v", o, err)
	}
	if bs, err := c.BlobObjects(ctx, bid); err != nil || len(bs) != 1 {
		t.Fatalf("objects %v %v", bs, err)
	}
	owned, err := c.Owned(ctx, cpapi.Address(alice.Address()))
	if err != nil || len(owned.Blobs) != 1 {
		t.Fatalf("owned %+v %v", owned, err)
	}
	// A failing transaction: certifying twice.
	_, err = c.Execute(ctx, chainID, bob, cpapi.Op{CertifyBlob: &cpapi.CertifyBlobOp{BlobObjectID: obj, Certificate: cert}})
	var ce *cpclient.Error
	if !errors.Is(err, cpclient.ErrAlreadyCertified) || !errors.As(err, &ce) || ce.Included == nil {
		t.Fatalf("certify twice: %v", err)
	}
	// Rejected at admission: a replayed transaction.
	raw := nw.Sign(alice, cpapi.Op{Transfer: &cpapi.TransferOp{To: cpapi.Address(bob.Address()), Amount: 1}})
	if _, err := c.Submit(ctx, raw); !errors.Is(err, cpclient.ErrBadNonce) {
		t.Fatalf("replay: %v", err)
	}
	// Unknown object and committee: 404.
	if _, err := c.Object(ctx, cpapi.ObjectID{1}); !errors.Is(err, cpclient.ErrNotFound) {
		t.Fatalf("unknown object: %v", err)
	}
	if _, err := c.Committee(ctx, 99); !errors.Is(err, cpclient.ErrNotFound) {
		t.Fatalf("unknown committee: %v", err)
	}
	// Events: follow from the start and find the registration and certification in order.
	var got []cpapi.EventType
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	errStop := errors.New("stop")
	err = c.Follow(fctx, 0, func(e cpapi.Event) error {
		if e.BlobID == bid {
			got = append(got, e.Type)
		}
		if e.Type == cpapi.EventBlobCertified {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) || len(got) != 2 || got[0] != cpapi.EventBlobRegistered {
		t.Fatalf("follow: %v %v", err, got)
	}
	// Long poll wakes up on a new event.
	info, _ = c.Info(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		time.Sleep(50 * time.Millisecond)
		c.Execute(ctx, chainID, alice, cpapi.Op{DeleteBlob: &cpapi.DeleteBlobOp{BlobObjectID: obj}})
	}()
	ev, err := c.Events(ctx, info.EventSeq, 10, 5*time.Second)
	wg.Wait()
	if err != nil || len(ev.Events) != 1 || ev.Events[0].Type != cpapi.EventBlobDeleted || ev.Next != info.EventSeq+1 {
		t.Fatalf("long poll: %+v %v", ev, err)
	}
	if acc, err := c.Account(ctx, cpapi.Address(alice.Address())); err != nil || acc.Nonce != 2 {
		t.Fatalf("account %+v %v", acc, err)
	}
}

func BenchmarkSubmitTransfers(b *testing.B) {
	const workers = 32
	nw := cptest.NewNetwork(10, 4, workers, 1e15, nil, time.Now())
	c, _ := serve(b, nw)
	ctx := context.Background()
	txs := make([][][]byte, workers)
	per := b.N/workers + 1
	for w := range txs {
		for i := 0; i < per; i++ {
			txs[w] = append(txs[w], nw.Sign(nw.Users[w], cpapi.Op{Transfer: &cpapi.TransferOp{To: cpapi.Address(nw.Users[(w+1)%workers].Address()), Amount: 1}}))
		}
	}
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for _, raw := range txs[w] {
				if _, err := c.Submit(ctx, raw); err != nil {
					b.Error(err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	b.ReportMetric(float64(per*workers)/time.Since(start).Seconds(), "tx/s")
}

// TestExecuteStaleNonce: two clients send from one account; each one's cached nonce goes
// stale when the other sends, and Execute signs again with the current nonce instead of
// failing with bad_nonce.
func TestExecuteStaleNonce(t *testing.T) {
	nw := cptest.NewNetwork(10, 4, 2, 1e12, []uint64{40, 30, 20, 10}, time.Now())
	c1, _ := serve(t, nw)
	c2 := cpclient.New(c1.BaseURL(), nil)
	ctx := context.Background()
	chainID := nw.Genesis.Params.ChainID
	alice, bob := nw.Users[0], nw.Users[1]
	send := func(c *cpclient.Client) {
		t.Helper()
		if _, err := c.Execute(ctx, chainID, alice, cpapi.Op{Transfer: &cpapi.TransferOp{To: cpapi.Address(bob.Address()), Amount: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	send(c1) // c1 caches nonce 1
	send(c2) // c2 reads nonce 1 from the chain and uses it
	send(c1) // c1's cached nonce 1 is stale
	send(c2)
	acc, err := c1.Account(ctx, cpapi.Address(alice.Address()))
	if err != nil || acc.Nonce != 4 {
		t.Fatalf("alice's nonce %d (%v), want 4", acc.Nonce, err)
	}
}

// TestCatchUpFromStateListing: a follower whose cursor fell behind the retained events gets
// events_pruned (410) with the oldest retained sequence number, rebuilds its view from the
// paged listing of the state while transactions keep changing it between pages, follows
// events from the listing's sequence number, and ends with exactly the control plane's blob
// objects and invalid blob IDs.
func TestCatchUpFromStateListing(t *testing.T) {
	nw := cptest.NewNetwork(10, 4, 2, 1e12, []uint64{40, 30, 20, 10}, time.Now())
	c, _ := serveWith(t, &embedded.Options{Genesis: nw.Genesis, Logger: quiet(), SnapshotInterval: 4,
		RetainEvents: 40, EventSegmentBytes: 512})
	ctx := context.Background()
	chainID := nw.Genesis.Params.ChainID
	alice := nw.Users[0]
	var seed int
	register := func() cpapi.ObjectID {
		t.Helper()
		seed++
		root := merkle.LeafHash([]byte{byte(seed), byte(seed >> 8)})
		size := uint64(1000 + seed)
		inc, err := c.Execute(ctx, chainID, alice, cpapi.Op{RegisterBlob: &cpapi.RegisterBlobOp{EpochsAhead: 3,
			BlobID: blob.DeriveID(blob.RS2, size, root), RootHash: cpapi.Hash(root), Size: size, EncodingType: 1, Deletable: true}})
		if err != nil {
			t.Fatal(err)
		}
		return inc.Created[len(inc.Created)-1]
	}
	del := func(obj cpapi.ObjectID) {
		t.Helper()
		if _, err := c.Execute(ctx, chainID, alice, cpapi.Op{DeleteBlob: &cpapi.DeleteBlobOp{BlobObjectID: obj}}); err != nil {
			t.Fatal(err)
		}
	}
	var objs []cpapi.ObjectID
	for i := 0; i < 40; i++ {
		objs = append(objs, register())
		if i%3 == 2 {
			del(objs[i-1])
		}
	}
	com, err := c.CurrentCommittee(ctx)
	if err != nil {
		t.Fatal(err)
	}
	badID := blob.DeriveID(blob.RS2, 77, merkle.LeafHash([]byte("inconsistent")))
	cert, err := nw.Certify(com, protocol.InvalidBlobID{Epoch: com.Epoch, BlobID: badID}.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Execute(ctx, chainID, alice, cpapi.Op{InvalidateBlob: &cpapi.InvalidateBlobOp{Certificate: cert}}); err != nil {
		t.Fatal(err)
	}
	// The follower that was down since the start is told where the events begin.
	_, err = c.Events(ctx, 0, 10, 0)
	var pe *cpclient.EventsPrunedError
	if !errors.As(err, &pe) || !errors.Is(err, cpclient.ErrEventsPruned) || pe.Oldest == 0 {
		t.Fatalf("events from 0: %v", err)
	}
	if page, err := c.Events(ctx, pe.Oldest, 10, 0); err != nil || len(page.Events) == 0 || page.Events[0].Seq != pe.Oldest {
		t.Fatalf("events from the oldest retained %d: %+v %v", pe.Oldest, page, err)
	}
	if err := c.Follow(ctx, 0, func(cpapi.Event) error { return nil }); !errors.Is(err, cpclient.ErrEventsPruned) {
		t.Fatalf("following from 0: %v", err)
	}

	// Rebuild from the listing, three objects a page, changing the state between pages.
	view := map[cpapi.ObjectID]cpapi.Blob{}
	pages := 0
	from, err := c.ListState(ctx, 3, func(p *cpapi.StatePage) error {
		pages++
		for _, b := range p.Blobs {
			view[b.ID] = b
		}
		switch pages % 3 {
		case 0:
			objs = append(objs, register())
		case 1:
			del(objs[len(objs)-1])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if pages < 5 {
		t.Fatalf("the listing took %d pages", pages)
	}
	// Follow events from the listing's point until the follower has seen everything.
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for from < info.EventSeq {
		page, err := c.Events(ctx, from, 100, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			switch e.Type {
			case cpapi.EventBlobRegistered:
				view[e.ObjectID] = cpapi.Blob{ID: e.ObjectID, BlobID: e.BlobID, Owner: e.Owner, Deletable: e.Deletable,
					Storage: cpapi.Storage{End: e.EndEpoch}}
			case cpapi.EventBlobDeleted:
				delete(view, e.ObjectID)
			}
		}
		from = page.Next
	}
	// The view equals the control plane's blob objects.
	want := map[cpapi.ObjectID]bool{}
	var invalid []cpapi.InvalidBlob
	if _, err := c.ListState(ctx, 0, func(p *cpapi.StatePage) error {
		for _, b := range p.Blobs {
			want[b.ID] = true
		}
		invalid = append(invalid, p.Invalid...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(invalid) != 1 || invalid[0].BlobID != badID || invalid[0].Epoch != com.Epoch {
		t.Fatalf("invalid blob IDs in the listing: %+v", invalid)
	}
	owned, err := c.Owned(ctx, cpapi.Address(alice.Address()))
	if err != nil || len(owned.Blobs) != len(want) {
		t.Fatalf("the listing has %d blobs, alice owns %d (%v)", len(want), len(owned.Blobs), err)
	}
	if len(view) != len(want) {
		t.Fatalf("the follower sees %d blobs, the control plane holds %d", len(view), len(want))
	}
	for id, b := range view {
		if !want[id] {
			t.Fatalf("the follower sees blob object %s (%s), which the control plane does not hold", id, b.BlobID)
		}
	}
}
