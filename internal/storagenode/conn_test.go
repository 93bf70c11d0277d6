package storagenode

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestBigReadConn(t *testing.T) {
	// Bytes written in pieces of every size reach a reader that reads in pieces of every size
	// (smaller and larger than the buffer) unchanged, then EOF; the buffer goes back to the
	// pool once drained. PeekByte shows the first byte without consuming it. Serving plain
	// HTTP, a read of plainDirectRead bytes or more with nothing buffered takes no buffer.
	for _, plain := range []bool{false, true} {
		testBigReadConn(t, plain)
	}
}

func testBigReadConn(t *testing.T, plain bool) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := newBigReadListener(raw)
	defer ln.Close()
	r := rand.New(rand.NewPCG(1, 2))
	want := make([]byte, 3*bigReadSize+12345)
	for i := range want {
		want[i] = byte(r.Uint32())
	}
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return
		}
		defer c.Close()
		for rest := want; len(rest) > 0; {
			k := min(len(rest), 1+r.IntN(bigReadSize/2))
			if _, err := c.Write(rest[:k]); err != nil {
				return
			}
			rest = rest[k:]
		}
	}()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	bc := c.(*bigReadConn)
	if b, err := bc.PeekByte(); err != nil || b != want[0] {
		t.Fatalf("PeekByte: %#x, %v; want %#x", b, err, want[0])
	}
	if plain {
		bc.ServingPlain()
	}
	var got []byte
	sizes := []int{1, 7, 16 << 10, bigReadSize, bigReadSize + 1, 100, plainDirectRead}
	for i := 0; ; i++ {
		p := make([]byte, sizes[i%len(sizes)])
		empty := bc.buf == nil
		k, err := bc.Read(p)
		got = append(got, p[:k]...)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if k == 0 {
			t.Fatal("a read returned no bytes and no error")
		}
		if bc.buf != nil && bc.r == bc.w {
			t.Fatal("a drained buffer is still held")
		}
		if plain && empty && len(p) >= plainDirectRead && bc.buf != nil {
			t.Fatalf("serving plain HTTP, a read of %d bytes went through the buffer", len(p))
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, not the %d written", len(got), len(want))
	}
	if bc.buf != nil {
		t.Fatal("the buffer is held after EOF")
	}
}

func TestBigReadConnWrites(t *testing.T) {
	// What the node writes (responses, several megabytes so that the socket's buffer fills and
	// the writer must wait for the poller) reaches the other end unchanged.
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := newBigReadListener(raw)
	defer ln.Close()
	r := rand.New(rand.NewPCG(3, 4))
	want := make([]byte, 8<<20+777)
	for i := range want {
		want[i] = byte(r.Uint32())
	}
	got := make(chan []byte, 1)
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		got <- b
	}()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	for rest := want; len(rest) > 0; {
		k := min(len(rest), 1<<20+13)
		n, err := c.Write(rest[:k])
		if err != nil || n != k {
			t.Fatalf("write: %d of %d bytes, %v", n, k, err)
		}
		rest = rest[k:]
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("the other end read %d bytes, not the %d written", len(b), len(want))
	}
}

func TestControlPlaneHTTPClient(t *testing.T) {
	// Requests and responses of several megabytes go through the node's control-plane HTTP
	// client (raw reads and writes) unchanged, over one kept-alive connection.
	body := bytes.Repeat([]byte("floe-"), 1<<20)
	var conns int
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, err := io.ReadAll(r.Body)
		if err != nil || !bytes.Equal(got, body) {
			http.Error(w, "request body changed", http.StatusBadRequest)
			return
		}
		_, _ = w.Write(body)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns++
		}
	}
	srv.Start()
	defer srv.Close()
	hc := ControlPlaneHTTPClient()
	for range 3 {
		resp, err := hc.Post(srv.URL, "application/octet-stream", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(got, body) {
			t.Fatalf("status %d, %d bytes back (%v)", resp.StatusCode, len(got), err)
		}
	}
	if conns != 1 {
		t.Fatalf("%d connections for three requests, want one kept alive", conns)
	}
}

func TestPprofOnlyWhenAsked(t *testing.T) {
	tn := newTestNet(t, 4, 1)
	plain := tn.startNode(0, nil)
	profiled := tn.startNode(0, func(c *Config) { c.Pprof = true })
	for _, c := range []struct {
		node *testNode
		code int
	}{{plain, http.StatusNotFound}, {profiled, http.StatusOK}} {
		resp, err := http.Get("http://" + c.node.MetricsAddr() + "/debug/pprof/cmdline")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.code {
			t.Fatalf("GET /debug/pprof/cmdline with Pprof %v: %d, want %d", c.node == profiled, resp.StatusCode, c.code)
		}
	}
}
