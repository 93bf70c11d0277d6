package client_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/internal/crypto"
)

func TestAlreadyCertified(t *testing.T) {
	base := newSeed()
	tn := shared(t)
	c := newClient(t, tn)
	ctx := ctxFor(t)
	data := testData(5000, base+1)
	first, err := c.StoreBytes(ctx, data, client.StoreOptions{Epochs: 2})
	if err != nil {
		t.Fatal(err)
	}
	// Same or fewer epochs: the owned certified object is enough.
	for _, epochs := range []uint32{1, 2} {
		again, err := c.StoreBytes(ctx, data, client.StoreOptions{Epochs: epochs})
		if err != nil {
			t.Fatal(err)
		}
		if !again.AlreadyCertified || again.NewlyCreated || again.ObjectID != first.ObjectID || again.EndEpoch != first.EndEpoch || again.Cost != 0 {
			t.Fatalf("second store for %d epochs: %+v; want already certified by %s", epochs, again, first.ObjectID)
		}
	}
	// More epochs than the object has: a new object.
	longer, err := c.StoreBytes(ctx, data, client.StoreOptions{Epochs: 4})
	if err != nil {
		t.Fatal(err)
	}
	if !longer.NewlyCreated || longer.ObjectID == first.ObjectID || longer.EndEpoch != first.EndEpoch+2 {
		t.Fatalf("store for more epochs: %+v", longer)
	}
	// Force: a new object even though one is certified.
	forced, err := c.StoreBytes(ctx, data, client.StoreOptions{Epochs: 1, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if !forced.NewlyCreated || forced.ObjectID == first.ObjectID || forced.ObjectID == longer.ObjectID {
		t.Fatalf("forced store: %+v", forced)
	}

	// A permanent blob certified by another account counts for everybody, and carries the
	// certifying event as the nodes report it.
	pdata := testData(3000, base+2)
	perm, err := c.StoreBytes(ctx, pdata, client.StoreOptions{Epochs: 3, Permanent: true})
	if err != nil {
		t.Fatal(err)
	}
	if perm.Blob == nil || perm.Blob.Deletable {
		t.Fatalf("permanent store: %+v", perm.Blob)
	}
	other := newClient(t, tn)
	res, err := other.StoreBytes(ctx, pdata, client.StoreOptions{Epochs: 2, Permanent: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.AlreadyCertified || res.ObjectID != perm.ObjectID || res.EndEpoch != perm.EndEpoch {
		t.Fatalf("store of a blob certified permanently by another account: %+v", res)
	}
	st, err := other.Status(ctx, perm.BlobID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != client.StatusPermanent || !st.IsCertified || st.EndEpoch != perm.EndEpoch || st.ObjectID != perm.ObjectID {
		t.Fatalf("status %+v", st)
	}
}

func TestReadRange(t *testing.T) {
	base := newSeed()
	tn := shared(t)
	c := newClient(t, tn)
	ctx := ctxFor(t)
	data := testData(1<<20+12345, base+3)
	res, err := c.StoreBytes(ctx, data, client.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A row of the message matrix (one systematic primary sliver) is K_s symbols.
	rowLen := uint64(len(data)) / 14 // about; the ranges below cross rows wherever they fall
	n := uint64(len(data))
	for _, r := range [][2]uint64{{0, 1}, {0, n}, {n - 1, 1}, {rowLen - 10, 20}, {rowLen * 3, rowLen*2 + 7}, {12345, 0}, {n, 0}} {
		var buf bytes.Buffer
		if err := c.ReadRange(ctx, res.BlobID, r[0], r[1], &buf); err != nil {
			t.Fatalf("range %v: %v", r, err)
		}
		if !bytes.Equal(buf.Bytes(), data[r[0]:r[0]+r[1]]) {
			t.Fatalf("range %v: wrong bytes", r)
		}
	}
	for _, r := range [][2]uint64{{n, 1}, {n - 1, 2}, {n + 1, 0}, {1, ^uint64(0)}} {
		if err := c.ReadRange(ctx, res.BlobID, r[0], r[1], &bytes.Buffer{}); !errors.Is(err, client.ErrInvalidRange) {
			t.Fatalf("range %v: %v, want ErrInvalidRange", r, err)
		}
	}
}

func TestDeleteExtendList(t *testing.T) {
	base := newSeed()
	tn := shared(t)
	c := newClient(t, tn)
	ctx := ctxFor(t)
	data := testData(70000, base+4)
	res, err := c.StoreBytes(ctx, data, client.StoreOptions{Epochs: 2})
	if err != nil {
		t.Fatal(err)
	}
	ext, err := c.Extend(ctx, res.ObjectID, 3)
	if err != nil {
		t.Fatal(err)
	}
	if ext.Blob.Storage.End != res.EndEpoch+3 || ext.Cost == 0 {
		t.Fatalf("extend: end %d cost %d; want end %d", ext.Blob.Storage.End, ext.Cost, res.EndEpoch+3)
	}
	blobs, err := c.ListBlobs(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(blobs) != 1 || blobs[0].ID != res.ObjectID || blobs[0].Storage.End != res.EndEpoch+3 {
		t.Fatalf("list: %+v", blobs)
	}
	ob, err := c.BlobByObjectID(ctx, res.ObjectID)
	if err != nil || ob.BlobID != res.BlobID {
		t.Fatalf("by object ID: %+v, %v", ob, err)
	}

	if err := c.Delete(ctx, res.ObjectID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(ctx, res.BlobID, &bytes.Buffer{}); !errors.Is(err, client.ErrBlobNotFound) {
		t.Fatalf("read after delete: %v, want ErrBlobNotFound", err)
	}
	if _, err := c.BlobSize(ctx, res.BlobID); !errors.Is(err, client.ErrBlobNotFound) {
		t.Fatalf("size after delete: %v, want ErrBlobNotFound", err)
	}
	if _, err := c.BlobByObjectID(ctx, res.ObjectID); !errors.Is(err, client.ErrBlobNotFound) {
		t.Fatalf("object after delete: %v, want ErrBlobNotFound", err)
	}
	if err := c.Delete(ctx, res.ObjectID); err == nil {
		t.Fatal("second delete succeeded")
	}
	// The storage came back: storing again reuses it and pays only the write fee.
	again, err := c.StoreBytes(ctx, data, client.StoreOptions{Epochs: 2})
	if err != nil {
		t.Fatal(err)
	}
	if again.ResourceOperation != client.ReuseStorage || again.EndEpoch != res.EndEpoch+3 || again.Cost >= res.Cost {
		t.Fatalf("store after delete: %+v (first cost %d)", again, res.Cost)
	}
	var buf bytes.Buffer
	if _, err := c.Read(ctx, again.BlobID, &buf); err != nil || !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("read after store again: %v", err)
	}

	// Transfer on store.
	to := client.Address(tn.Net.Users[0].Address()) // any address
	sent, err := c.StoreBytes(ctx, testData(100, base+5), client.StoreOptions{SendObjectTo: &to})
	if err != nil {
		t.Fatal(err)
	}
	if sent.Blob == nil || sent.Blob.Owner != to {
		t.Fatalf("sent object owner: %+v", sent.Blob)
	}
}

func TestReadOnlyClient(t *testing.T) {
	base := newSeed()
	tn := shared(t)
	ctx := ctxFor(t)
	c, err := client.New(ctx, client.Config{ControlPlaneURL: tn.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.StoreBytes(ctx, []byte("x"), client.StoreOptions{}); !errors.Is(err, client.ErrNoWallet) {
		t.Fatalf("store without a wallet: %v", err)
	}
	w := newClient(t, tn)
	data := testData(2222, base+6)
	res, err := w.StoreBytes(ctx, data, client.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := c.Read(ctx, res.BlobID, &buf); err != nil || !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("read-only read: %v", err)
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	k, err := crypto.AccountKeyFromSeed(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	wallet := `{"type": "ed25519", "address": "` + k.Address().String() + `", "seed": "` + "0909090909090909090909090909090909090909090909090909090909090909" + `"}`
	if err := os.WriteFile(filepath.Join(dir, "wallet.json"), []byte(wallet), 0o600); err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg, err := client.LoadConfig(write("ok.yaml", `
control_plane_url: http://127.0.0.1:7070
wallet: wallet.json
n_shards: 1000
communication:
  max_concurrent_writes: 7
  max_concurrent_sliver_reads: 33
  max_data_in_flight: 1000000
  tail_base: 250ms
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ControlPlaneURL != "http://127.0.0.1:7070" || cfg.NShards != 1000 || cfg.Wallet == nil || cfg.Wallet.Address() != k.Address() ||
		cfg.Communication.MaxConcurrentWrites != 7 || cfg.Communication.MaxConcurrentSliverReads != 33 ||
		cfg.Communication.MaxDataInFlight != 1000000 || cfg.Communication.TailBase.Milliseconds() != 250 {
		t.Fatalf("config %+v", cfg)
	}
	for name, body := range map[string]string{
		"nourl.yaml":     "wallet: wallet.json\n",
		"nowallet.yaml":  "control_plane_url: http://x\nwallet: missing.json\n",
		"badyaml.yaml":   "control_plane_url: [\n",
		"badfield.yaml":  "control_plane_url: http://x\ncommunication: {max_concurrent_writes: many}\n",
		"badwallet.yaml": "control_plane_url: http://x\nwallet: ok.yaml\n",
	} {
		if _, err := client.LoadConfig(write(name, body)); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
	wrongAddr := `{"type": "ed25519", "address": "0x` + "00000000000000000000000000000000000000000000000000000000000000aa" + `", "seed": "0909090909090909090909090909090909090909090909090909090909090909"}`
	p := write("wrong.json", wrongAddr)
	if _, err := client.LoadWallet(p); !errors.Is(err, client.ErrInvalidConfig) {
		t.Fatalf("wallet with the wrong address: %v", err)
	}
	_ = blob.ID{}
}
