package nodeclient

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/floelabs/floe/internal/nodetls"
)

// TestTransports: a node at a loopback address is talked to over plain HTTP (HTTP/1.1, or
// HTTP/2 by prior knowledge), through its local socket if it has one, or over TLS with
// TLSOnLoopback; an upload body arrives whole every way.
func TestTransports(t *testing.T) {
	f := startFake(t)
	type seen struct {
		tls, unix bool
		proto     int
		sum       [32]byte
	}
	got := make(chan seen, 1)
	f.mux.HandleFunc("PUT /upload", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		la, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		got <- seen{tls: r.TLS != nil, unix: la != nil && la.Network() == "unix", proto: r.ProtoMajor, sum: sha256.Sum256(b)}
		w.WriteHeader(http.StatusCreated)
	})
	body := make([]byte, 5<<20+3)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range body {
		body[i] = byte(r.Uint32())
	}
	check := func(t *testing.T, opts Options, tls, unix bool, protoMajor int) {
		t.Helper()
		c := f.clientWith(t, opts)
		for range 2 { // a second request on the same connection
			resp, err := c.Do(context.Background(), &Request{Method: "PUT", Path: "/upload", Body: Bytes(body), Limit: 1 << 10})
			if err != nil {
				t.Fatal(err)
			}
			resp.Release()
			s := <-got
			if s.tls != tls || s.unix != unix || s.proto != protoMajor {
				t.Fatalf("the node saw TLS %v, Unix socket %v, HTTP/%d; want %v, %v, HTTP/%d", s.tls, s.unix, s.proto, tls, unix, protoMajor)
			}
			if s.sum != sha256.Sum256(body) {
				t.Fatal("the node received another body than the one sent")
			}
		}
	}
	// Without a local socket, loopback TCP.
	for _, tc := range []struct {
		name      string
		opts      Options
		tls       bool
		protoMajr int
	}{
		{"plain HTTP/1.1", Options{}, false, 1},
		{"plain HTTP/2", Options{HTTP2: true}, false, 2},
		{"TLS HTTP/1.1", Options{TLSOnLoopback: true}, true, 1},
		{"TLS HTTP/2", Options{TLSOnLoopback: true, HTTP2: true}, true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) { check(t, tc.opts, tc.tls, false, tc.protoMajr) })
	}
	// With the node's local socket: plain HTTP goes there, unless NoLocalSocket.
	ul, err := net.Listen("unix", nodetls.LocalSocket(f.node.Address))
	if err != nil {
		t.Fatal(err)
	}
	go f.srv.Serve(nodetls.NewListener(ul, f.srv.TLSConfig, nodetls.ListenerOptions{}))
	t.Run("local socket HTTP/1.1", func(t *testing.T) { check(t, Options{}, false, true, 1) })
	t.Run("local socket HTTP/2", func(t *testing.T) { check(t, Options{HTTP2: true}, false, true, 2) })
	t.Run("NoLocalSocket", func(t *testing.T) { check(t, Options{NoLocalSocket: true}, false, false, 1) })
	t.Run("TLS on loopback", func(t *testing.T) { check(t, Options{TLSOnLoopback: true}, true, false, 1) })
}

// TestPlainConnWriterTo: a body that writes itself out in pieces of mixed sizes (frame
// headers, sliver data) reaches the server whole, each large piece in a write of its own
// and the small ones gathered; a body longer than its limit is cut there with an error; a
// body that cannot write itself is copied.
func TestPlainConnWriterTo(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	var body pieces
	var want []byte
	large, small := 0, 0
	for len(want) < 5*batchSize {
		size := r.IntN(12)
		if r.IntN(3) == 0 {
			size = smallWrite + r.IntN(batchSize)
			large++
		} else {
			small += size
		}
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		body = append(body, b)
		want = append(want, b...)
	}
	ln, read := readAllOnce(t, "tcp", "127.0.0.1:0")
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	var writes atomic.Int64
	var pool batchPool
	c := &plainConn{Conn: raw, pool: &pool, write: func(p []byte) (int, error) {
		writes.Add(1)
		return raw.Write(p)
	}}
	if n, err := c.ReadFrom(io.LimitReader(body, int64(len(want)))); err != nil || n != int64(len(want)) {
		t.Fatalf("ReadFrom: %d, %v", n, err)
	}
	if most := int64(2*large + small/batchSize + 2); writes.Load() > most {
		t.Fatalf("%d writes for %d large and %d bytes of small pieces, want at most %d", writes.Load(), large, small, most)
	}
	extra := pieces{[]byte("0123456789")}
	if n, err := c.ReadFrom(io.LimitReader(extra, 4)); n != 4 || !errors.Is(err, errBodyTooLong) {
		t.Fatalf("ReadFrom of a body longer than its limit: %d, %v", n, err)
	}
	tail := bytes.Repeat([]byte("tail"), 100000)
	if n, err := c.ReadFrom(io.MultiReader(bytes.NewReader(tail))); err != nil || n != int64(len(tail)) {
		t.Fatalf("ReadFrom of a plain reader: %d, %v", n, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	want = append(want, "0123"...)
	want = append(want, tail...)
	if b := <-read; !bytes.Equal(b, want) {
		t.Fatalf("the server read %d bytes, not the %d sent", len(b), len(want))
	}
}

// TestPlainRefusedFromRemote: a node refuses plain HTTP from an address that is not its own
// machine's (here: a listener told that 127.0.0.1 is remote) with a 400 naming https.
func TestPlainRefusedFromRemote(t *testing.T) {
	f := startFake(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: f.mux, TLSConfig: nodetls.ServerConfig(f.cert)}
	go srv.Serve(nodetls.NewListener(ln, srv.TLSConfig, nodetls.ListenerOptions{AllowPlain: func(net.Addr) bool { return false }}))
	defer srv.Close()
	f.mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	n := f.node
	n.Address = ln.Addr().String()
	p := NewPool(Options{})
	defer p.Close()
	c, err := p.Client(n)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Do(context.Background(), &Request{Method: "GET", Path: "/v1/health", Limit: 1 << 10})
	var ne *Error
	if !errors.As(err, &ne) || ne.Status != 400 {
		t.Fatalf("plain request to a node that refuses it: %v, want a 400", err)
	}
	tp := NewPool(Options{TLSOnLoopback: true})
	defer tp.Close()
	if c, err = tp.Client(n); err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(context.Background(), &Request{Method: "GET", Path: "/v1/health", Limit: 1 << 10})
	if err != nil {
		t.Fatalf("TLS request to the same node: %v", err)
	}
	resp.Release()
}

// retained is a body of pieces that stay unchanged until the server has read them: large
// pieces go to WriteRetained where the writer has it.
type retained [][]byte

func (p retained) Read([]byte) (int, error) { panic("retained is read through WriteTo") }

func (p retained) WriteTo(w io.Writer) (int64, error) {
	var n int64
	for _, b := range p {
		var k int
		var err error
		if rw, ok := w.(RetainingWriter); ok {
			k, err = rw.WriteRetained(b)
		} else {
			k, err = w.Write(b)
		}
		n += int64(k)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// TestPlainConnRetained: a body that writes its large pieces with WriteRetained over a Unix
// socket (spliced where the build splices) reaches the server whole, mixed with small
// pieces; one longer than its limit is cut there with an error.
func TestPlainConnRetained(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	var body retained
	var want []byte
	for len(want) < 24<<20 {
		size := r.IntN(12)
		if r.IntN(3) == 0 {
			size = r.IntN(2 << 20)
		}
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		body = append(body, b)
		want = append(want, b...)
	}
	_, read := readAllOnce(t, "unix", nodetls.LocalSocket("retained.test:1"))
	var pool batchPool
	raw, err := dialPlain(&net.Dialer{}, &pool, true)(context.Background(), "tcp", "retained.test:1")
	if err != nil {
		t.Fatal(err)
	}
	c := raw.(*plainConn)
	if c.RemoteAddr().Network() != "unix" {
		t.Fatalf("dialled over %s, want the local socket", c.RemoteAddr().Network())
	}
	if n, err := c.ReadFrom(io.LimitReader(body, int64(len(want)))); err != nil || n != int64(len(want)) {
		t.Fatalf("ReadFrom: %d, %v", n, err)
	}
	long := retained{bytes.Repeat([]byte{7}, 3*spliceMin)}
	if n, err := c.ReadFrom(io.LimitReader(long, 2*spliceMin)); n != 2*spliceMin || !errors.Is(err, errBodyTooLong) {
		t.Fatalf("ReadFrom of a body longer than its limit: %d, %v", n, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	want = append(want, long[0][:2*spliceMin]...)
	if b := <-read; !bytes.Equal(b, want) {
		t.Fatalf("the server read %d bytes, not the %d sent", len(b), len(want))
	}
}

// readAllOnce listens on network at addr (closed at the test's end), accepts one connection
// and sends all it reads from it, up to its end, on the channel (nil if the accept failed).
func readAllOnce(t *testing.T, network, addr string) (net.Listener, <-chan []byte) {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	read := make(chan []byte, 1)
	go func() {
		s, err := ln.Accept()
		if err != nil {
			read <- nil
			return
		}
		defer s.Close()
		b, _ := io.ReadAll(s)
		read <- b
	}()
	return ln, read
}
