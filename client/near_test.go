package client_test

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/floelabs/floe/client"
	"github.com/floelabs/floe/internal/netem"
)

// nearNetwork starts 6 nodes on 127.0.0.1, each behind a netem proxy (the address it
// registers): nodes 0-2 at 2 ms round trip from the client, nodes 3-5 at 2 s (far enough that
// decoding beats streaming from them even under the race detector on a loaded machine, where
// decoding a small blob costs up to tens of microseconds a byte).
func nearNetwork(t *testing.T) (*testNetwork, []*netem.Proxy) {
	t.Helper()
	const nodes = 6
	proxies := make([]*netem.Proxy, nodes)
	tn := newNetwork(t, netOptions{Shards: 60, Stakes: []uint64{1, 1, 1, 1, 1, 1},
		Route: func(i int, addr string) (string, error) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return "", err
			}
			link := netem.Link{Delay: time.Millisecond}
			if i >= nodes/2 {
				link.Delay = time.Second
			}
			p, err := netem.New(ln, netem.Config{Target: addr, Up: link, Down: link, Handshake: true})
			if err != nil {
				ln.Close()
				return "", err
			}
			go p.Serve()
			t.Cleanup(func() { p.Close() })
			proxies[i] = p
			return ln.Addr().String(), nil
		}})
	return tn, proxies
}

// sent returns the bytes the proxies of nodes [from, to) sent back so far.
func sent(proxies []*netem.Proxy, from, to int) int64 {
	var n int64
	for _, p := range proxies[from:to] {
		n += p.Counts().Down
	}
	return n
}

// With half the nodes far, a read that has measured them fetches its slivers from the near
// half and decodes; with NearReadMaxBytes negative it streams the systematic slivers from
// whoever holds them, far ones included. Ranges still stream. A near node down: the read
// still succeeds.
func TestReadPrefersNearNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a network of its own")
	}
	tn, proxies := nearNetwork(t)
	ctx := ctxFor(t)
	// Both clients are steady: the store leaves no far node without its slivers (a far node
	// that missed them would answer the streaming read 404 and it would decode from near
	// nodes), and neither client calls a node stalled (a round trip of 2 s, more on a loaded
	// machine with the TLS handshake, would pass the default ReadStallTimeout: the streaming
	// read would fall back to decoding from near nodes, a near read slowed by load would ask
	// far ones).
	near := newClientWith(t, tn, steady)
	streaming := newClientWith(t, tn, func(c *client.Config) {
		steady(c)
		c.Communication.NearReadMaxBytes = -1
	})

	data := testData(64<<10, newSeed())
	res, err := near.StoreBytes(ctx, data, client.StoreOptions{Epochs: 2})
	if err != nil {
		t.Fatal(err)
	}
	read := func(c *client.Client) (nearBytes, farBytes int64) {
		t.Helper()
		n0, f0 := sent(proxies, 0, 3), sent(proxies, 3, 6)
		got, err := c.ReadBytes(ctx, res.BlobID)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatal("read back different bytes")
		}
		return sent(proxies, 0, 3) - n0, sent(proxies, 3, 6) - f0
	}
	// A read measures the cost of a decode (the store measured the nodes); then the near
	// client reads from the near nodes. The streaming client streams every time.
	read(near)
	var nearN, nearF int64
	for range 3 {
		n, f := read(near)
		nearN, nearF = nearN+n, nearF+f
	}
	strN, strF := read(streaming)
	t.Logf("3 reads of %d KiB by the near-first client: %d KiB from near nodes, %d KiB from far; 1 by the streaming client: %d KiB near, %d KiB far",
		len(data)>>10, nearN>>10, nearF>>10, strN>>10, strF>>10)
	if nearF*10 > nearN {
		t.Errorf("the near-first client fetched %d bytes from far nodes, %d from near ones", nearF, nearN)
	}
	if strF*10 < strN {
		t.Errorf("the streaming client fetched only %d bytes from far nodes, %d from near ones: the far half holds about half the systematic slivers (fewer than 3 of 22 with probability 6e-5)", strF, strN)
	}

	// A range read streams the rows that hold it, wherever they are.
	var buf bytes.Buffer
	if err := near.ReadRange(ctx, res.BlobID, 1000, 5000, &buf); err != nil || !bytes.Equal(buf.Bytes(), data[1000:6000]) {
		t.Fatalf("range read: %v", err)
	}

	// A near node stops: the read still returns the blob (from the other near nodes and, as
	// needed, far ones).
	tn.Nodes[0].Stop()
	got, err := near.ReadBytes(ctx, res.BlobID)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read with a near node down: %v", err)
	}
}
