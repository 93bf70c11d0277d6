package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	cpapi "github.com/floelabs/floe/api/controlplane"
	api "github.com/floelabs/floe/api/storagenode"
	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/internal/crypto"
	"github.com/floelabs/floe/internal/devnet"
	"github.com/floelabs/floe/internal/protocol"
	"github.com/floelabs/floe/internal/storagenode/byzantine"
	"github.com/floelabs/floe/redstuff"
)

// TestByzantineNodes restarts one node (25 of 100 shards, at most f = 33) in each Byzantine
// mode in turn: stores and reads still succeed, the client logs the node that served a bad
// sliver, bad metadata or a bad confirmation, or stalled, and a node that dropped uploads
// really holds nothing.
func TestByzantineNodes(t *testing.T) {
	tn := startNet(t, netOptions{Nodes: 4, Shards: 100, ScrubSecs: 3600, RecoveryDelay: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	logs := newCapture()
	_, cfg := tn.sdkClient(slog.New(logs))
	// No metadata cache: every read asks the nodes again, so that a node lying about metadata
	// gets asked.
	cfg.Communication.MetadataCacheEntries = -1
	c, err := client.New(ctx, *cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := rand.New(rand.NewPCG(1, 2))
	kp := tn.enc.Params().PrimarySource
	// A blob stored honestly first, so that a node lying about metadata has another blob's to
	// serve.
	if _, err := c.StoreBytes(ctx, randomBytes(r, 50_000), client.StoreOptions{Epochs: 2}); err != nil {
		t.Fatal(err)
	}
	for k, mode := range byzantine.Modes {
		bad := (k + 1) % tn.nodeCount()
		name := tn.nodeInfo(bad).Name
		t.Run(string(mode), func(t *testing.T) {
			if len(tn.nodeShards(bad)) > tn.f() {
				t.Fatalf("%s holds %d shards, more than f = %d", name, len(tn.nodeShards(bad)), tn.f())
			}
			if err := tn.restart(ctx, bad, string(mode)); err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := tn.restart(ctx, bad, ""); err != nil {
					t.Error(err)
				}
			}()
			logs.reset()
			// store stores a fresh blob while the node lies; it retries (boundedly) with new
			// data until the node holds one of the blob's systematic primary slivers, which
			// every read asks for.
			store := func() (*client.StoreResult, []byte) {
				t.Helper()
				for attempt := 0; ; attempt++ {
					data := randomBytes(r, 200_000+r.IntN(100_000))
					res, err := c.StoreBytes(ctx, data, client.StoreOptions{Epochs: 2})
					if err != nil {
						t.Fatalf("store with %s in mode %s: %v", name, mode, err)
					}
					for _, sh := range tn.nodeShards(bad) {
						if blob.PairIndex(res.BlobID, tn.shards, int(sh)) < kp {
							return res, data
						}
					}
					if attempt == 10 {
						t.Fatalf("%s holds no systematic sliver of 11 blobs in a row", name)
					}
				}
			}
			read := func(res *client.StoreResult, data []byte) {
				t.Helper()
				got, err := c.ReadBytes(ctx, res.BlobID)
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("read with %s in mode %s: %v (%d bytes, want %d)", name, mode, err, len(got), len(data))
				}
			}
			switch mode {
			case byzantine.CorruptSlivers:
				res, data := store()
				read(res, data)
				if len(logs.find(name, "invalid sliver")) == 0 {
					t.Fatalf("the client did not log %s's invalid sliver", name)
				}
				// A range read of a systematic sliver the liar holds falls back to the whole
				// blob.
				var buf bytes.Buffer
				if err := c.ReadRange(ctx, res.BlobID, 10, 1000, &buf); err != nil || !bytes.Equal(buf.Bytes(), data[10:1010]) {
					t.Fatalf("range read: %v", err)
				}
			case byzantine.WrongMetadata:
				res, data := store()
				// The client asks three nodes for metadata at once, fastest first: read until
				// it asked the liar for both lies (another blob's metadata, a wrong hash).
				for i := 0; len(logs.find(name, "invalid metadata")) < 2; i++ {
					if i == 40 {
						t.Fatalf("the client did not log %s's invalid metadata in 40 reads", name)
					}
					read(res, data)
				}
			case byzantine.BadConfirmations:
				// Both lies (wrong key, wrong message) are rejected, and the certificate holds
				// only the honest nodes' confirmations.
				for i := 0; len(logs.find(name, "invalid confirmation")) < 2; i++ {
					if i == 10 {
						t.Fatalf("the client logged %d invalid confirmations of %s in 10 stores", len(logs.find(name, "invalid confirmation")), name)
					}
					res, data := store()
					if res.Confirmations > tn.shards-len(tn.nodeShards(bad)) {
						t.Fatalf("certificate weight %d includes the liar's %d shards", res.Confirmations, len(tn.nodeShards(bad)))
					}
					read(res, data)
				}
			case byzantine.StallSlivers:
				// Reads give up on the node that never answers and decode from the others.
				res, data := store()
				read(res, data)
				if len(logs.find(name, "did not deliver a sliver in time")) == 0 {
					t.Fatalf("the client did not log %s's stalled sliver", name)
				}
			case byzantine.DropUploads:
				res, data := store()
				read(res, data)
				// The node acknowledged the uploads and confirmed, but holds nothing.
				miss, err := tn.missing(ctx, bad, []blob.ID{res.BlobID})
				if err != nil {
					t.Fatal(err)
				}
				if miss != 2*len(tn.nodeShards(bad)) {
					t.Fatalf("%s in mode drop-uploads holds %d of its %d slivers", name, 2*len(tn.nodeShards(bad))-miss, 2*len(tn.nodeShards(bad)))
				}
			}
		})
	}
}

// TestSelfHealing runs the acceptance on real processes (4 nodes x 100 shards): a
// wiped node recovers all its slivers, with recovery traffic per sliver pair near the
// theoretical minimum; a store succeeds with a node holding 25 <= f shards killed and the
// node, restarted, holds the slivers it missed; a corrupted sliver is repaired; an
// inconsistently encoded blob ends marked invalid; reads succeed with two thirds of the
// shards killed.
func TestSelfHealing(t *testing.T) {
	tn := startNet(t, netOptions{Nodes: 4, Shards: 100, ScrubSecs: 1, RecoveryDelay: 500 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	logs := newCapture()
	c, cfg := tn.sdkClient(slog.New(logs))
	r := rand.New(rand.NewPCG(3, 4))
	p := tn.enc.Params()
	wait := func(what string, f func(context.Context) error) {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute) // a liveness bound, not a speed claim
		defer cancel()
		if err := f(wctx); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	const sizeA = 4 << 20
	dataA := randomBytes(r, sizeA)
	resA, err := c.StoreBytes(ctx, dataA, client.StoreOptions{Epochs: 3})
	if err != nil {
		t.Fatal(err)
	}
	ids := []blob.ID{resA.BlobID}
	contents := map[blob.ID][]byte{resA.BlobID: dataA}

	t.Run("wiped node recovers, about one sliver pair of traffic per pair", func(t *testing.T) {
		const w = 2
		if err := tn.wipe(ctx, w); err != nil {
			t.Fatal(err)
		}
		wait("the wiped node's recovery", func(ctx context.Context) error { return tn.waitHolds(ctx, w, ids) })
		symbols, err := tn.metric(ctx, w, "floe_node_recovery_bytes_total", `kind="symbols"`)
		if err != nil {
			t.Fatal(err)
		}
		metadata, err := tn.metric(ctx, w, "floe_node_recovery_bytes_total", `kind="metadata"`)
		if err != nil {
			t.Fatal(err)
		}
		recovered, err := tn.metric(ctx, w, "floe_node_recovered_slivers_total", "")
		if err != nil {
			t.Fatal(err)
		}
		pairs := len(tn.nodeShards(w))
		if int(recovered) != 2*pairs {
			t.Fatalf("the wiped node rebuilt %v slivers, want %d", recovered, 2*pairs)
		}
		e, err := tn.enc.Encode(dataA)
		if err != nil {
			t.Fatal(err)
		}
		perPair := symbols / float64(pairs)
		minimum := float64((p.PrimarySource + p.SecondarySource) * e.SymbolSize)
		ratio := perPair / minimum
		t.Logf("recovery traffic of a %d-byte blob on n = %d: %.0f bytes per sliver pair (%d pairs, %.0f symbol bytes, %.0f metadata bytes); "+
			"minimum (K_p+K_s) x symbol size = %.0f bytes = %.2f/n of the blob; measured %.2fx the minimum, %.4f of the blob = %.2f/n",
			sizeA, p.NShards, perPair, pairs, symbols, metadata, minimum, minimum/sizeA*float64(p.NShards), ratio, perPair/sizeA, perPair/sizeA*float64(p.NShards))
		// Own rebuilt secondary slivers give some of the primary recovery's symbols locally,
		// so a node may fetch less than the minimum; every symbol also carries a Merkle proof.
		if ratio > 2 || ratio < 0.5 {
			t.Fatalf("%.0f recovery bytes per sliver pair is %.2fx the minimum %.0f (want within [0.5, 2])", perPair, ratio, minimum)
		}
		if perPair > sizeA/10 {
			t.Fatalf("%.0f recovery bytes per sliver pair is not far below the blob's %d bytes", perPair, sizeA)
		}
	})

	t.Run("node down during a write holds its slivers after the restart", func(t *testing.T) {
		const down = 3
		if err := tn.net.Node(down).Kill(); err != nil {
			t.Fatal(err)
		}
		dataB := randomBytes(r, 1<<20)
		resB, err := c.StoreBytes(ctx, dataB, client.StoreOptions{Epochs: 3, Permanent: true})
		if err != nil {
			t.Fatalf("store with %d of %d shards killed (f = %d): %v", len(tn.nodeShards(down)), tn.shards, tn.f(), err)
		}
		ids = append(ids, resB.BlobID)
		contents[resB.BlobID] = dataB
		for _, id := range ids {
			if got, err := c.ReadBytes(ctx, id); err != nil || !bytes.Equal(got, contents[id]) {
				t.Fatalf("read with a node down: %v", err)
			}
		}
		if err := tn.start(ctx, down, ""); err != nil {
			t.Fatal(err)
		}
		wait("the restarted node's recovery", func(ctx context.Context) error { return tn.waitHolds(ctx, down, ids) })
	})

	t.Run("corrupted sliver is repaired", func(t *testing.T) {
		const victim = 1
		id := resA.BlobID
		shard := tn.nodeShards(victim)[0]
		pair := blob.PairIndex(id, tn.shards, int(shard))
		if err := tn.net.Node(victim).Stop(10 * time.Second); err != nil {
			t.Fatal(err)
		}
		if ok, err := tn.flipSliver(ctx, victim, id, shard, redstuff.Primary); err != nil || !ok {
			t.Fatalf("flipping a byte of sliver %d: %v %v", pair, ok, err)
		}
		if err := tn.start(ctx, victim, ""); err != nil {
			t.Fatal(err)
		}
		e, err := tn.enc.Encode(dataA)
		if err != nil {
			t.Fatal(err)
		}
		prim, _ := e.Pair(pair)
		want, err := blob.MarshalSliverData(prim)
		if err != nil {
			t.Fatal(err)
		}
		wait("the repair of the corrupted sliver", func(ctx context.Context) error {
			for {
				got, err := tn.get(ctx, victim, api.SliverPath(id.String(), pair, "primary"))
				if err == nil && bytes.Equal(got, want) {
					return nil
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(300 * time.Millisecond):
				}
			}
		})
		q, err := tn.metric(ctx, victim, "floe_node_scrub_quarantined_total", "")
		if err != nil || q < 1 {
			t.Fatalf("scrubber quarantined %v slivers (%v), want at least 1", q, err)
		}
		rec, err := tn.metric(ctx, victim, "floe_node_recovered_slivers_total", `axis="primary"`)
		if err != nil || rec < 1 {
			t.Fatalf("recovered %v primary slivers (%v)", rec, err)
		}
	})

	t.Run("inconsistently encoded blob ends invalid", func(t *testing.T) {
		id := forgeAndStore(ctx, t, tn, cfg.Wallet, randomBytes(r, 30_000))
		wait("the invalid-blob certificate", func(ctx context.Context) error {
			for {
				st, err := tn.cp.BlobStatus(ctx, id)
				if err == nil && st.Status == cpapi.StatusInvalid {
					return nil
				}
				select {
				case <-ctx.Done():
					return fmt.Errorf("blob status %+v (%v): %w", st, err, ctx.Err())
				case <-time.After(300 * time.Millisecond):
				}
			}
		})
		if _, err := c.ReadBytes(ctx, id); !errors.Is(err, client.ErrBlobInvalid) {
			t.Fatalf("read of the invalid blob: %v, want ErrBlobInvalid", err)
		}
	})

	t.Run("reads with two thirds of the shards killed", func(t *testing.T) {
		limit := tn.shards - p.PrimarySource
		killed := 0
		for i := range tn.nodeCount() {
			if killed+len(tn.nodeShards(i)) > limit {
				continue
			}
			if err := tn.net.Node(i).Kill(); err != nil {
				t.Fatal(err)
			}
			killed += len(tn.nodeShards(i))
		}
		if killed*2 < tn.shards {
			t.Fatalf("killed only %d of %d shards", killed, tn.shards)
		}
		t.Logf("killed nodes holding %d of %d shards", killed, tn.shards)
		c2, _ := tn.sdkClient(slog.New(newCapture()))
		for _, id := range ids {
			if got, err := c2.ReadBytes(ctx, id); err != nil || !bytes.Equal(got, contents[id]) {
				t.Fatalf("read with %d of %d shards killed: %v", killed, tn.shards, err)
			}
		}
	})
}

// forgeAndStore stores an inconsistently encoded blob as a malicious writer would: a primary
// sliver of one pair is replaced (and its hash with it, so the metadata is self-consistent),
// and the node holding that pair gets nothing; the others get their slivers, confirm, and the
// writer certifies the blob with their confirmations. It returns the blob ID.
func forgeAndStore(ctx context.Context, t *testing.T, tn *testNet, wallet *crypto.AccountKey, data []byte) blob.ID {
	t.Helper()
	e, err := tn.enc.Encode(data)
	if err != nil {
		t.Fatal(err)
	}
	const victim = 0 // pair whose primary sliver is forged
	f := *e
	f.Primary = slices.Clone(e.Primary)
	f.Primary[victim] = bytes.Clone(e.Primary[victim])
	f.Primary[victim][0] ^= 0xff
	h, err := tn.enc.SliverHash(redstuff.Sliver{Axis: redstuff.Primary, Index: victim, SymbolSize: e.SymbolSize, Data: f.Primary[victim]})
	if err != nil {
		t.Fatal(err)
	}
	f.Hashes = slices.Clone(e.Hashes)
	f.Hashes[victim].Primary = h
	f.Root = redstuff.RootHash(f.Hashes)
	md := blob.NewMetadata(&f.Commitment)
	id := md.ID
	mdBytes, err := md.Metadata.MarshalBCS()
	if err != nil {
		t.Fatal(err)
	}
	com := tn.committee(ctx)
	skipShard := uint16(blob.ShardIndex(id, tn.shards, victim))
	params, err := tn.cp.Params(ctx)
	if err != nil {
		t.Fatal(err)
	}
	inc, err := tn.cp.Execute(ctx, params.ChainID, wallet, cpapi.Op{RegisterBlob: &cpapi.RegisterBlobOp{
		BlobID: id, RootHash: cpapi.Hash(f.Root), Size: f.Length, EncodingType: uint8(blob.RS2), EpochsAhead: 2}})
	if err != nil {
		t.Fatal(err)
	}
	var obj cpapi.ObjectID
	for _, ev := range inc.Events {
		if ev.Type == cpapi.EventBlobRegistered && ev.BlobID == id {
			obj = ev.ObjectID
		}
	}
	var signers []int
	var sigs []crypto.BLSSignature
	var msg []byte
	skipped := ""
	for mi, m := range com.Members {
		if slices.Contains(m.Shards, skipShard) {
			skipped = m.Name
			continue
		}
		i := slices.IndexFunc(tn.info.Nodes, func(n devnet.NodeInfo) bool { return n.Name == m.Name })
		pending := "?" + api.QueryPending + "=true" // the node may not have seen the registration yet
		if err := tn.put(ctx, i, api.MetadataPath(id.String())+pending, mdBytes); err != nil {
			t.Fatal(err)
		}
		for _, sh := range m.Shards {
			pair := blob.PairIndex(id, tn.shards, int(sh))
			prim, sec := f.Pair(pair)
			for _, sl := range []redstuff.Sliver{prim, sec} {
				b, err := blob.MarshalSliverData(sl)
				if err != nil {
					t.Fatal(err)
				}
				if err := tn.put(ctx, i, api.SliverPath(id.String(), pair, sl.Axis.String())+pending, b); err != nil {
					t.Fatal(err)
				}
			}
		}
		// Buffered slivers move to the store when the node sees the registration: ask again
		// (boundedly) while it reports slivers missing.
		var b []byte
		for attempt := 0; ; attempt++ {
			b, err = tn.get(ctx, i, api.PermanentConfirmationPath(id.String())+"?"+api.QueryWaitForReg+"=true&"+api.QueryWaitMillis+"=10000")
			if err == nil {
				break
			}
			if attempt == 40 {
				t.Fatal(err)
			}
			time.Sleep(250 * time.Millisecond)
		}
		var conf api.Success[api.Confirmation]
		if err := json.Unmarshal(b, &conf); err != nil || conf.Success.Data.Signed == nil {
			t.Fatalf("confirmation %s: %v", b, err)
		}
		msg = conf.Success.Data.Signed.SerializedMessage
		signers = append(signers, mi)
		sigs = append(sigs, crypto.BLSSignature(conf.Success.Data.Signed.Signature))
	}
	agg, err := crypto.AggregateSignatures(sigs)
	if err != nil {
		t.Fatal(err)
	}
	bm, err := protocol.Bitmap(len(com.Members), signers)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tn.cp.Execute(ctx, params.ChainID, wallet, cpapi.Op{CertifyBlob: &cpapi.CertifyBlobOp{BlobObjectID: obj,
		Certificate: cpapi.Certificate{Signers: bm, Message: msg, Signature: cpapi.BLSSignature(agg)}}}); err != nil {
		t.Fatal(err)
	}
	t.Logf("forged blob %s certified without %s, which holds the forged pair %d", id, skipped, victim)
	return id
}

// put sends a PUT with an octet-stream body to node i.
func (tn *testNet) put(ctx context.Context, i int, path string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, tn.nodeInfo(i).URL+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", api.ContentTypeOctetStream)
	resp, err := tn.client(i).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("PUT %s on %s: %s: %.200s", path, tn.nodeInfo(i).Name, strconv.Itoa(resp.StatusCode), b)
	}
	return nil
}
