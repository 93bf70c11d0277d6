package storagenode

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"testing"
)

func TestBigReadConn(t *testing.T) {
	// Bytes written in pieces of every size reach a reader that reads in pieces of every size
	// (smaller and larger than the buffer) unchanged, then EOF; the buffer goes back to the
	// pool once drained.
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
	var got []byte
	sizes := []int{1, 7, 16 << 10, bigReadSize, bigReadSize + 1, 100}
	for i := 0; ; i++ {
		p := make([]byte, sizes[i%len(sizes)])
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
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, not the %d written", len(got), len(want))
	}
	if bc.buf != nil {
		t.Fatal("the buffer is held after EOF")
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
