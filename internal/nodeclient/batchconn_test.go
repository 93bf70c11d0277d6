package nodeclient

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/tls"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"testing"

	"github.com/floelabs/floe/internal/nodetls"
)

// countingConn counts the writes made to it.
type countingConn struct {
	net.Conn
	writes atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

func TestBatchedTLSConn(t *testing.T) {
	// A body written through ReadFrom and Write reaches the TLS server whole, in about one
	// write of the TCP connection per batchSize bytes rather than one per 16 KiB record.
	r := rand.New(rand.NewPCG(5, 6))
	body := make([]byte, 3*batchSize+777)
	for i := range body {
		body[i] = byte(r.Uint32())
	}
	c, cc, got := batchedPipe(t)
	before := cc.writes.Load()
	half := len(body) / 2
	if n, err := c.ReadFrom(io.LimitReader(bytes.NewReader(body[:half]), int64(half))); err != nil || n != int64(half) {
		t.Fatalf("ReadFrom: %d, %v", n, err)
	}
	if n, err := c.Write(body[half:]); err != nil || n != len(body)-half {
		t.Fatalf("Write: %d, %v", n, err)
	}
	writes := cc.writes.Load() - before
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if b := <-got; !bytes.Equal(b, body) {
		t.Fatalf("the server read %d bytes, not the %d sent", len(b), len(body))
	}
	if most := int64(len(body)/batchSize + 2); writes > most {
		t.Fatalf("%d writes for %d bytes, want at most %d", writes, len(body), most)
	}
}

// batchedPipe connects a batchedTLSConn, writing through a countingConn, to a TLS server on
// 127.0.0.1 that reads until the connection closes and then sends what it read on got.
func batchedPipe(t *testing.T) (c *batchedTLSConn, cc *countingConn, got <-chan []byte) {
	t.Helper()
	key, err := nodetls.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := nodetls.SelfSigned(key, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	read := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			read <- nil
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(tls.Server(c, nodetls.ServerConfig(cert)))
		read <- b
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	cc = &countingConn{Conn: raw}
	cfg, err := nodetls.ClientConfig(mustKeyBytes(t, &key.PublicKey), "127.0.0.1", nil)
	if err != nil {
		t.Fatal(err)
	}
	pool := &batchPool{}
	bc := &batchingConn{Conn: cc, pool: pool}
	tc := tls.Client(bc, cfg)
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	return &batchedTLSConn{Conn: tc, raw: bc, pool: pool}, cc, read
}

func mustKeyBytes(t *testing.T, pk *ecdsa.PublicKey) []byte {
	t.Helper()
	b, err := nodetls.PublicKeyBytes(pk)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pieces writes its parts one Write each (like an upload body's WriteTo).
type pieces [][]byte

func (p pieces) Read([]byte) (int, error) { panic("pieces is read through WriteTo") }

func (p pieces) WriteTo(w io.Writer) (int64, error) {
	var n int64
	for _, b := range p {
		k, err := w.Write(b)
		n += int64(k)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func TestBatchedTLSConnWriterTo(t *testing.T) {
	// A body that writes itself out in pieces of mixed sizes (frame headers, sliver data)
	// reaches the server whole, in about one write of the TCP connection per batchSize bytes;
	// a body longer than its limit is cut there with an error.
	r := rand.New(rand.NewPCG(7, 8))
	var body pieces
	var want []byte
	for len(want) < 5*batchSize {
		size := r.IntN(12)
		if r.IntN(3) == 0 {
			size = r.IntN(3 * batchSize / 2)
		}
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		body = append(body, b)
		want = append(want, b...)
	}
	c, cc, got := batchedPipe(t)
	before := cc.writes.Load()
	if n, err := c.ReadFrom(io.LimitReader(body, int64(len(want)))); err != nil || n != int64(len(want)) {
		t.Fatalf("ReadFrom: %d, %v", n, err)
	}
	writes := cc.writes.Load() - before
	extra := pieces{[]byte("0123456789")}
	if n, err := c.ReadFrom(io.LimitReader(extra, 4)); n != 4 || !errors.Is(err, errBodyTooLong) {
		t.Fatalf("ReadFrom of a body longer than its limit: %d, %v", n, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	want = append(want, "0123"...)
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("the server read %d bytes, not the %d sent", len(b), len(want))
	}
	if most := int64(len(want)/batchSize + 2); writes > most {
		t.Fatalf("%d writes for %d bytes, want at most %d", writes, len(want), most)
	}
}
