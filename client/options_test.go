package client_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/internal/controlplane/cpclient"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/nodeclient"
	"github.com/floelabs/floe/internal/protocol"
	"github.com/floelabs/floe/redstuff"
)

// TestStoreFailsBeforeUpload: a store that must fail (too many epochs, a wallet that cannot
// pay) fails before any node is sent a byte, with an error that says why.
func TestStoreFailsBeforeUpload(t *testing.T) {
	base := newSeed()
	tn := shared(t)
	ctx := ctxFor(t)
	var uploaded atomic.Int64
	progress := func(done, _ int64) { uploaded.Store(max(uploaded.Load(), done)) }

	rich := newClient(t, tn)
	var phases []client.StorePhase
	if _, err := rich.StoreBytes(ctx, testData(1000, base), client.StoreOptions{Epochs: tn.Net.Genesis.Params.MaxEpochsAhead + 1, Progress: progress,
		Phase: func(p client.StorePhase) { phases = append(phases, p) }}); !errors.Is(err, client.ErrInvalidEpochs) {
		t.Fatalf("store for more epochs than allowed: %v, want ErrInvalidEpochs", err)
	}
	if len(phases) != 0 {
		t.Fatalf("a store refused for its epochs reported phases %v: it must fail before encoding", phases)
	}

	poor, err := client.NewWallet() // never funded
	if err != nil {
		t.Fatal(err)
	}
	c, err := tn.Client(ctx, poor, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, force := range []bool{false, true} {
		_, err := c.StoreBytes(ctx, testData(1000, base+1), client.StoreOptions{Force: force, Progress: progress})
		if !errors.Is(err, client.ErrInsufficientBalance) {
			t.Fatalf("store from an empty wallet (force %v): %v, want ErrInsufficientBalance", force, err)
		}
	}
	if n := uploaded.Load(); n != 0 {
		t.Fatalf("%d bytes were uploaded for stores that could not succeed", n)
	}
}

// TestIgnoreResources: by default a store reuses an owned storage resource that fits; with
// IgnoreResources it buys new storage instead.
func TestIgnoreResources(t *testing.T) {
	base := newSeed()
	tn := shared(t)
	c := newClient(t, tn)
	ctx := ctxFor(t)
	stored := func(seed uint64, opts client.StoreOptions) *client.StoreResult {
		t.Helper()
		opts.Epochs = 2
		res, err := c.StoreBytes(ctx, testData(5000, seed), opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Delete(ctx, res.ObjectID); err != nil { // its storage returns to the wallet
			t.Fatal(err)
		}
		return res
	}
	if first := stored(base, client.StoreOptions{}); first.ResourceOperation != client.RegisterFromScratch {
		t.Fatalf("first store: %s", first.ResourceOperation)
	}
	if again := stored(base+1, client.StoreOptions{IgnoreResources: true}); again.ResourceOperation != client.RegisterFromScratch {
		t.Fatalf("store ignoring the owned storage: %s, want %s", again.ResourceOperation, client.RegisterFromScratch)
	}
	if reused := stored(base+2, client.StoreOptions{}); reused.ResourceOperation != client.ReuseStorage {
		t.Fatalf("store with owned storage: %s, want %s", reused.ResourceOperation, client.ReuseStorage)
	}
}

// TestReadConsistency: a blob whose writer encoded one secondary sliver inconsistently (the
// metadata commits to the forged sliver, so every sliver verifies) reads fine under the
// default and skipped checks, which stream its systematic slivers, and fails with
// ErrBlobInvalid under the strict check, which re-encodes it; an honest blob reads under all
// three, whole and in ranges.
func TestReadConsistency(t *testing.T) {
	base := newSeed()
	tn := shared(t)
	ctx := ctxFor(t)
	w, err := tn.NewWallet(ctx, 1<<40)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tn.Client(ctx, w, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	data := testData(60_000, base)
	honest, err := c.StoreBytes(ctx, data, client.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	forged := forgeAndStore(t, tn, w, testData(60_000, base+1))
	checks := []client.ConsistencyCheck{client.ConsistencyDefault, client.ConsistencyStrict, client.ConsistencySkip}
	for _, check := range checks {
		opts := client.ReadOptions{Consistency: check}
		got, err := c.ReadBytes(ctx, honest.BlobID, opts)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("honest blob, check %d: %v", check, err)
		}
		var buf bytes.Buffer
		if err := c.ReadRange(ctx, honest.BlobID, 1000, 20_000, &buf, opts); err != nil || !bytes.Equal(buf.Bytes(), data[1000:21_000]) {
			t.Fatalf("honest blob, range, check %d: %v", check, err)
		}
		buf.Reset()
		_, err = c.Read(ctx, forged, &buf, opts)
		switch {
		case check == client.ConsistencyStrict && !errors.Is(err, client.ErrBlobInvalid):
			t.Fatalf("forged blob, strict check: %v, want ErrBlobInvalid", err)
		case check == client.ConsistencyStrict && buf.Len() != 0:
			t.Fatalf("forged blob, strict check: %d bytes written before the check", buf.Len())
		case check != client.ConsistencyStrict && err != nil:
			t.Fatalf("forged blob, check %d: %v", check, err)
		}
	}
	// The same through temporary files (as for blobs larger than SpillAbove).
	sc, err := tn.Client(ctx, w, func(cfg *client.Config) { cfg.SpillAbove, cfg.TempDir = 1, t.TempDir() })
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	var buf bytes.Buffer
	if _, err := sc.Read(ctx, forged, &buf, client.ReadOptions{Consistency: client.ConsistencyStrict}); !errors.Is(err, client.ErrBlobInvalid) || buf.Len() != 0 {
		t.Fatalf("forged blob, spilled strict check: %v (%d bytes written), want ErrBlobInvalid and nothing", err, buf.Len())
	}
	if err := sc.ReadRange(ctx, honest.BlobID, 1000, 20_000, &buf, client.ReadOptions{Consistency: client.ConsistencyStrict}); err != nil || !bytes.Equal(buf.Bytes(), data[1000:21_000]) {
		t.Fatalf("honest blob, spilled strict range: %v", err)
	}
	if _, err := c.ReadBytes(ctx, honest.BlobID, client.ReadOptions{}, client.ReadOptions{}); !errors.Is(err, client.ErrInvalidConfig) {
		t.Fatalf("two ReadOptions: %v, want ErrInvalidConfig", err)
	}
}

// forgeAndStore stores data as a malicious writer would: the secondary sliver of pair 1 is
// altered and the metadata commits to the altered sliver, so that every sliver verifies but
// the blob ID is not that of the data's encoding. It returns the blob ID.
func forgeAndStore(t *testing.T, tn *testNetwork, wallet *crypto.AccountKey, data []byte) blob.ID {
	t.Helper()
	ctx := ctxFor(t)
	enc, err := redstuff.New(testShards)
	if err != nil {
		t.Fatal(err)
	}
	e, err := enc.Encode(data)
	if err != nil {
		t.Fatal(err)
	}
	const victim = 1
	f := *e
	_, sec := e.Pair(victim)
	f.Secondary = slices.Clone(e.Secondary)
	f.Secondary[sec.Index] = bytes.Clone(sec.Data)
	f.Secondary[sec.Index][0] ^= 0xff
	h, err := enc.SliverHash(redstuff.Sliver{Axis: redstuff.Secondary, Index: sec.Index, SymbolSize: e.SymbolSize, Data: f.Secondary[sec.Index]})
	if err != nil {
		t.Fatal(err)
	}
	f.Hashes = slices.Clone(e.Hashes)
	f.Hashes[victim].Secondary = h
	f.Root = redstuff.RootHash(f.Hashes)
	md := blob.NewMetadata(&f.Commitment)
	mdBytes, err := md.Metadata.MarshalBCS()
	if err != nil {
		t.Fatal(err)
	}

	cp := cpclient.New(tn.URL, nil)
	chainID := tn.Net.Genesis.Params.ChainID
	inc, err := cp.Execute(ctx, chainID, wallet, cpapi.Op{RegisterBlob: &cpapi.RegisterBlobOp{
		BlobID: md.ID, RootHash: cpapi.Hash(f.Root), Size: f.Length, EncodingType: uint8(blob.RS2), EpochsAhead: 1}})
	if err != nil {
		t.Fatal(err)
	}
	var obj cpapi.ObjectID
	for _, ev := range inc.Events {
		if ev.Type == cpapi.EventBlobRegistered && ev.BlobID == md.ID {
			obj = ev.ObjectID
		}
	}
	com, err := cp.CurrentCommittee(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pool := nodeclient.NewPool(nodeclient.Options{})
	defer pool.Close()
	var (
		signers []int
		sigs    []crypto.BLSSignature
		msg     []byte
	)
	for i, m := range com.Members {
		node, err := pool.Client(nodeclient.Node{Name: m.Name, Address: m.NetworkAddress, NetworkKey: m.NetworkPublicKey,
			BLSKey: crypto.BLSPublicKey(m.BLSPublicKey)})
		if err != nil {
			t.Fatal(err)
		}
		// Upload once the node has seen the registration (asking again until it has).
		waitReg := nodeclient.RetryPolicy{MaxRetries: 100, MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
			Retryable: func(err error) bool {
				return errors.Is(err, nodeclient.ErrNotRegistered) || nodeclient.IsRetryable(err)
			}}
		if err := waitReg.Do(ctx, func() error { _, err := node.PutMetadata(ctx, md.ID, mdBytes, false); return err }); err != nil {
			t.Fatal(err)
		}
		for _, sh := range m.Shards {
			pair := blob.PairIndex(md.ID, testShards, int(sh))
			prim, sec := f.Pair(pair)
			for _, sl := range []redstuff.Sliver{prim, sec} {
				b, err := blob.MarshalSliverData(sl)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := node.PutSliver(ctx, md.ID, pair, sl.Axis, nodeclient.Bytes(b), false); err != nil {
					t.Fatal(err)
				}
			}
		}
		// The node stores the buffered slivers once it sees the registration: ask until it
		// confirms.
		policy := nodeclient.RetryPolicy{MaxRetries: 40, MinBackoff: 50 * time.Millisecond, MaxBackoff: 250 * time.Millisecond,
			Retryable: func(err error) bool {
				return errors.Is(err, nodeclient.ErrMissingSlivers) || nodeclient.IsRetryable(err)
			}}
		var sig crypto.BLSSignature
		err = policy.Do(ctx, func() error {
			var err error
			msg, sig, err = node.Confirmation(ctx, md.ID, protocol.Permanent, com.Epoch, 5*time.Second)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		signers, sigs = append(signers, i), append(sigs, sig)
	}
	agg, err := crypto.AggregateSignatures(sigs)
	if err != nil {
		t.Fatal(err)
	}
	bm, err := protocol.Bitmap(len(com.Members), signers)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cp.Execute(ctx, chainID, wallet, cpapi.Op{CertifyBlob: &cpapi.CertifyBlobOp{BlobObjectID: obj,
		Certificate: cpapi.Certificate{Signers: bm, Message: msg, Signature: cpapi.BLSSignature(agg)}}}); err != nil {
		t.Fatal(err)
	}
	return md.ID
}

// TestStorePhases: a store reports encoding, then uploading (with the sliver bytes' progress
// after it, up to the total), then certifying; a store that finds the blob certified reports
// only encoding.
func TestStorePhases(t *testing.T) {
	tn := shared(t)
	c := newClient(t, tn)
	ctx := ctxFor(t)
	data := testData(300_000, newSeed())
	var events []string
	var last, total int64
	opts := client.StoreOptions{Epochs: 2,
		Phase: func(p client.StorePhase) { events = append(events, string(p)) },
		Progress: func(done, tot int64) {
			if len(events) == 0 || events[len(events)-1] != "progress" {
				events = append(events, "progress")
			}
			last, total = done, tot
		}}
	if _, err := c.StoreBytes(ctx, data, opts); err != nil {
		t.Fatal(err)
	}
	want := []string{string(client.PhaseEncoding), string(client.PhaseUploading), "progress", string(client.PhaseCertifying)}
	if !slices.Equal(events, want) {
		t.Fatalf("events %v, want %v", events, want)
	}
	if total == 0 || last != total {
		t.Fatalf("progress ended at %d of %d", last, total)
	}
	events = nil
	res, err := c.StoreBytes(ctx, data, opts)
	if err != nil || !res.AlreadyCertified {
		t.Fatalf("second store: %+v %v", res, err)
	}
	if want := []string{string(client.PhaseEncoding)}; !slices.Equal(events, want) {
		t.Fatalf("already certified: events %v, want %v", events, want)
	}
}

// TestStoreSpilled stores blobs through temporary files (SpillAbove 1, as for large blobs):
// from a reader (copied to a file first), from a file, and from an io.ReaderAt; each gets the
// blob ID of the in-memory encoding, reads back, and no temporary file is left behind.
func TestStoreSpilled(t *testing.T) {
	base := newSeed()
	tn := shared(t)
	ctx := ctxFor(t)
	tmp := t.TempDir()
	sc := newClientWith(t, tn, func(cfg *client.Config) { cfg.SpillAbove, cfg.TempDir = 1, tmp })
	enc, err := redstuff.New(testShards)
	if err != nil {
		t.Fatal(err)
	}
	for i, size := range []int{1, 1000, 300_000} {
		data := testData(size, base+uint64(i))
		cm, err := enc.Commit(data)
		if err != nil {
			t.Fatal(err)
		}
		want := blob.NewMetadata(cm).ID
		path := filepath.Join(t.TempDir(), "blob")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for how, store := range map[string]func() (*client.StoreResult, error){
			"reader": func() (*client.StoreResult, error) {
				return sc.Store(ctx, bytes.NewReader(data), client.StoreOptions{Force: true})
			},
			"file": func() (*client.StoreResult, error) {
				if _, err := f.Seek(0, io.SeekStart); err != nil {
					return nil, err
				}
				return sc.Store(ctx, f, client.StoreOptions{Force: true})
			},
			"readerAt": func() (*client.StoreResult, error) {
				return sc.StoreReaderAt(ctx, f, int64(size), client.StoreOptions{Force: true})
			},
		} {
			res, err := store()
			if err != nil {
				t.Fatalf("%d bytes from a %s: %v", size, how, err)
			}
			if res.BlobID != want || !res.NewlyCreated {
				t.Fatalf("%d bytes from a %s: blob %s (new %v), want %s", size, how, res.BlobID, res.NewlyCreated, want)
			}
			got, err := sc.ReadBytes(ctx, res.BlobID)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%d bytes from a %s: read back: %v", size, how, err)
			}
		}
	}
	if left, err := os.ReadDir(tmp); err != nil || len(left) != 0 {
		t.Fatalf("spilled stores left %d files behind (%v)", len(left), err)
	}
}
