package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floelabs/floe/blob"
	"github.com/floelabs/floe/client"
)

// The standard test network: 40 shards (f = 13, quorum 27, K_p = 14) on five nodes holding
// 13, 13, 5, 5 and 4 shards, so that node 0 alone holds f shards and nodes 0 and 1 together
// 2f: with them stopped exactly K_p shards remain.
var testStakes = []uint64{13, 13, 5, 5, 4}

const testShards = 40

// sharedNet is started once for the tests that do not stop nodes.
var sharedNet = struct {
	once sync.Once
	tn   *testNetwork
	err  error
}{}

func shared(t *testing.T) *testNetwork {
	t.Helper()
	sharedNet.once.Do(func() {
		sharedNet.tn, sharedNet.err = startNetwork(netOptions{Shards: testShards, Stakes: testStakes, Users: 2, Logger: testLogger()})
	})
	if sharedNet.err != nil {
		t.Fatalf("starting the shared network: %v", sharedNet.err)
	}
	return sharedNet.tn
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedNet.tn != nil {
		sharedNet.tn.Close()
	}
	os.Exit(code)
}

// ctxFor returns a context that ends with the test, or after 5 minutes: a guard against a
// hang, far above what any test takes on an idle machine, so that a loaded one (go test -race
// running packages in parallel on 2 cores) does not fail a slow but progressing test.
func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// newClient returns a client with a new wallet of its own.
func newClient(t *testing.T, tn *testNetwork) *client.Client {
	t.Helper()
	return newClientWith(t, tn, nil)
}

// newClientWith returns a client with a new wallet of its own and its configuration changed
// by mutate (if not nil).
func newClientWith(t *testing.T, tn *testNetwork, mutate func(*client.Config)) *client.Client {
	t.Helper()
	w, err := tn.NewWallet(ctxFor(t), 1<<40)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tn.Client(ctxFor(t), w, mutate)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// steady configures a client for tests that assert which nodes a read gets its slivers from,
// so that the answer does not depend on the machine's load: its stores wait for every node's
// confirmation (not for a 500 ms tail after the quorum, which on a loaded machine can leave a
// node without its slivers until its recovery sweep), and its reads never call a node that
// answers slowly stalled (a node that is down fails at once).
func steady(cfg *client.Config) {
	cfg.Communication.TailBase = time.Hour
	cfg.Communication.ReadStallTimeout = time.Hour
}

// seeds makes the blobs of each test run differ (the shared network outlives -count).
var seeds atomic.Uint64

func init() { seeds.Store(uint64(time.Now().UnixNano())) }

// newSeed returns a seed no other test run uses.
func newSeed() uint64 { return seeds.Add(1 << 20) }

// testData returns size pseudo-random bytes that differ by seed (and from run to run).
func testData(size int, seed uint64) []byte {
	b := make([]byte, size)
	x := seed*0x9e3779b97f4a7c15 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

func TestStoreRead(t *testing.T) {
	base := newSeed()
	tn := shared(t)
	c := newClient(t, tn)
	ctx := ctxFor(t)
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, size := range []int{0, 1, 1 << 10, 1 << 20, 16 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			data := testData(size, base+uint64(i)+100)
			var last, total int64
			calls := 0
			res, err := c.StoreBytes(ctx, data, client.StoreOptions{Epochs: 3, Progress: func(done, tot int64) {
				if done < last {
					t.Errorf("progress went back from %d to %d", last, done)
				}
				last, total = done, tot
				calls++
			}})
			if err != nil {
				t.Fatalf("store: %v", err)
			}
			encoded, err := blob.EncodedLength(uint64(size), testShards)
			if err != nil {
				t.Fatal(err)
			}
			if !res.NewlyCreated || res.AlreadyCertified || res.ResourceOperation != client.RegisterFromScratch {
				t.Errorf("result %+v: want newly created from scratch", res)
			}
			if res.EncodedLength != encoded || res.Size != uint64(size) || res.EndEpoch != info.Epoch+3 || res.EpochsAhead != 3 {
				t.Errorf("result: encoded %d size %d end %d ahead %d; want %d %d %d 3", res.EncodedLength, res.Size, res.EndEpoch, res.EpochsAhead, encoded, size, info.Epoch+3)
			}
			units := (encoded + 1<<20 - 1) / (1 << 20)
			if want := units*info.Prices.WritePrice + units*info.Prices.StoragePrice*3; res.Cost != want || want == 0 {
				t.Errorf("cost %d, want %d", res.Cost, want)
			}
			if res.Blob == nil || !res.Blob.Certified || res.Blob.BlobID != res.BlobID || res.Blob.ID != res.ObjectID || !res.Blob.Deletable || res.Blob.Owner != c.Address() {
				t.Errorf("blob object %+v", res.Blob)
			}
			if res.Confirmations < testShards-(testShards-1)/3 {
				t.Errorf("certificate weight %d below the quorum", res.Confirmations)
			}
			if calls == 0 || last != total || total == 0 {
				t.Errorf("progress: %d calls, last %d of %d", calls, last, total)
			}
			var buf bytes.Buffer
			n, err := c.Read(ctx, res.BlobID, &buf)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if n != int64(size) || !bytes.Equal(buf.Bytes(), data) {
				t.Fatalf("read %d bytes, not the %d stored", n, size)
			}
			got, err := c.BlobSize(ctx, res.BlobID)
			if err != nil || got != uint64(size) {
				t.Fatalf("BlobSize = %d, %v; want %d", got, err, size)
			}
			st, err := c.Status(ctx, res.BlobID)
			if err != nil {
				t.Fatal(err)
			}
			if !st.Certified() || st.Status != client.StatusDeletable || st.DeletableCounts.Certified < 1 {
				t.Errorf("status %+v", st)
			}
		})
	}
}

func TestReadUnknownBlob(t *testing.T) {
	tn := shared(t)
	c := newClient(t, tn)
	var id blob.ID
	id[0] = 7
	if _, err := c.Read(ctxFor(t), id, &bytes.Buffer{}); !errors.Is(err, client.ErrBlobNotFound) {
		t.Fatalf("read of an unknown blob: %v, want ErrBlobNotFound", err)
	}
}
