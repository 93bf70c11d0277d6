package netem

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"
)

// echoServer accepts on 127.0.0.1 and copies every connection's bytes back to it, half-closing
// when the peer half-closes.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				io.Copy(c, c)
				c.(*net.TCPConn).CloseWrite()
			}()
		}
	}()
	return ln.Addr().String()
}

// startProxy serves a proxy on 127.0.0.1 with cfg and closes it at the end of the test.
func startProxy(t *testing.T, cfg Config) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(ln, cfg)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- p.Serve() }()
	t.Cleanup(func() {
		if err := p.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			t.Errorf("close: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return p
}

func dial(t *testing.T, p *Proxy) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// roundTrip writes msg and reads as many bytes back, returning how long that took.
func roundTrip(t *testing.T, c net.Conn, msg []byte) time.Duration {
	t.Helper()
	start := time.Now()
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatal("echo differs")
	}
	return time.Since(start)
}

// A round trip through the proxy takes at least the sum of the two one-way delays, and the
// first one after connecting a round trip more (the handshake), with both delays counted.
func TestDelay(t *testing.T) {
	up, down := 30*time.Millisecond, 50*time.Millisecond
	p := startProxy(t, Config{Target: echoServer(t), Up: Link{Delay: up}, Down: Link{Delay: down}, Handshake: true})
	start := time.Now()
	c := dial(t, p)
	first := roundTrip(t, c, []byte("ping"))
	first += time.Since(start) - first // include the connect
	if first < 2*(up+down) {
		t.Errorf("first round trip took %v, want at least %v (handshake + request)", first, 2*(up+down))
	}
	for range 3 {
		if d := roundTrip(t, c, []byte("ping again")); d < up+down {
			t.Errorf("round trip took %v, want at least %v", d, up+down)
		}
	}
	c.Close()
	p.Close() // waits for the connection to end: its counts are final
	if got := p.Counts(); got.Up != 4+3*10 || got.Down != got.Up || got.Conns != 1 {
		t.Errorf("counts %+v, want 34 bytes each way on 1 connection", got)
	}
	by := p.CountsByPeer()
	if len(by) != 1 || by["127.0.0.1"].Down != 34 {
		t.Errorf("counts by peer %+v, want 34 bytes down for 127.0.0.1", by)
	}
}

// Without a delay nothing is held back beyond the copy: the bytes arrive intact.
func TestNoDelayIntact(t *testing.T) {
	p := startProxy(t, Config{Target: echoServer(t)})
	c := dial(t, p)
	for _, n := range []int{1, Segment, 100 << 10} {
		msg := make([]byte, n)
		for i := range msg {
			msg[i] = byte(i * 7)
		}
		roundTrip(t, c, msg)
	}
}

// transfer writes size random bytes through c while reading the echo, and checks the echo.
func transfer(t *testing.T, c *net.TCPConn, size int, seed uint64) error {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, seed))
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		if err == nil {
			err = c.CloseWrite()
		}
		errc <- err
	}()
	h := sha256.New()
	n, rerr := io.Copy(h, c)
	werr := <-errc
	if rerr != nil || werr != nil {
		return errors.Join(rerr, werr)
	}
	if n != int64(size) || !bytes.Equal(h.Sum(nil), sha256Sum(data)) {
		t.Fatalf("echoed %d bytes differing from the %d sent", n, size)
	}
	return nil
}

func sha256Sum(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

// Bytes cross delayed, paced, lossy links intact and in order, with a half-close passed on,
// and the pacing holds the transfer to the link's rate.
func TestPacedLossyIntact(t *testing.T) {
	const size = 2 << 20
	const rate = 8 << 20 // bytes per second
	p := startProxy(t, Config{Target: echoServer(t), Seed: 7,
		Up:   Link{Delay: 5 * time.Millisecond, Rate: rate, Loss: 0.002, Stall: 20 * time.Millisecond},
		Down: Link{Delay: 5 * time.Millisecond, Rate: rate, Loss: 0.002, Stall: 20 * time.Millisecond}})
	c := dial(t, p)
	start := time.Now()
	if err := transfer(t, c, size, 1); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	c.Close()
	p.Close()
	got := p.Counts()
	if got.Up != size || got.Down != size {
		t.Errorf("counts %+v, want %d each way", got, size)
	}
	// About 2 * 1448 segments at 0.2%: some losses, each a stall.
	if got.Stalls == 0 {
		t.Errorf("no stalls at 0.2%% loss over %d segments", 2*size/Segment)
	}
	// The echo's last byte leaves after every byte went up at the rate: at least size/rate.
	if minimum := time.Duration(size) * time.Second / rate; took < minimum {
		t.Errorf("%d bytes at %d B/s took %v, less than %v", size, rate, took, minimum)
	}
	t.Logf("%d bytes each way in %v with %d stalls", size, took, got.Stalls)
}

// A lost segment stalls the stream by the stall time.
func TestLossStalls(t *testing.T) {
	stall := 40 * time.Millisecond
	p := startProxy(t, Config{Target: echoServer(t), Up: Link{Loss: 1, Stall: stall}})
	c := dial(t, p)
	if d := roundTrip(t, c, []byte("x")); d < stall {
		t.Errorf("a round trip with a lost segment took %v, want at least %v", d, stall)
	}
	c.Close()
	p.Close()
	if got := p.Counts().Stalls; got != 1 {
		t.Errorf("%d stalls, want 1", got)
	}
}

// A reset ends the connection abruptly on both sides: the transfer fails, it is counted, and
// the proxy goes on serving new connections.
func TestReset(t *testing.T) {
	p := startProxy(t, Config{Target: echoServer(t), Down: Link{Reset: 0.01}, Seed: 3})
	c := dial(t, p)
	if err := transfer(t, c, 4<<20, 2); err == nil {
		t.Fatal("a transfer of 2897 segments at 1% resets was not reset")
	}
	p.Close()
	if got := p.Counts().Resets; got != 1 {
		t.Errorf("%d resets, want 1", got)
	}
	p2 := startProxy(t, Config{Target: echoServer(t)})
	roundTrip(t, dial(t, p2), []byte("still works"))
}

// The window bounds the bytes in flight: with a delay, throughput is at most a window per
// one-way delay, as on a path whose bandwidth-delay product is the window.
func TestWindowBoundsThroughput(t *testing.T) {
	const window = 256 << 10
	delay := 50 * time.Millisecond
	sink, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	got := make(chan int64, 1)
	go func() {
		c, err := sink.Accept()
		if err != nil {
			got <- -1
			return
		}
		defer c.Close()
		n, _ := io.Copy(io.Discard, c)
		got <- n
	}()
	p := startProxy(t, Config{Target: sink.Addr().String(), Up: Link{Delay: delay}, Window: window})
	c := dial(t, p)
	const size = 2 << 20
	start := time.Now()
	if _, err := c.Write(make([]byte, size)); err != nil {
		t.Fatal(err)
	}
	c.CloseWrite()
	if n := <-got; n != size {
		t.Fatalf("sink got %d bytes, want %d", n, size)
	}
	took := time.Since(start)
	// The proxy holds at most window bytes (plus its last read) for delay each; the kernel's
	// socket buffers add to it, so the bound is loose: at least size/(2*window) delays.
	if minimum := time.Duration(size/(2*window)) * delay; took < minimum {
		t.Errorf("%d bytes through a %d-byte window at %v took %v, less than %v", size, window, delay, took, minimum)
	}
}

// Close ends connections in flight, and a dial failure to the target closes the accepted one.
func TestCloseAndDialFailure(t *testing.T) {
	p := startProxy(t, Config{Target: echoServer(t), Down: Link{Delay: time.Hour}})
	c := dial(t, p)
	if _, err := c.Write([]byte("never echoed")); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := c.Read(make([]byte, 1)); done <- err }()
	time.Sleep(20 * time.Millisecond)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil {
		t.Error("read through a closed proxy succeeded")
	}

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	p2 := startProxy(t, Config{Target: dead})
	c2 := dial(t, p2)
	c2.SetReadDeadline(time.Now().Add(time.Minute))
	if _, err := c2.Read(make([]byte, 1)); err == nil {
		t.Error("read through a proxy whose target is down succeeded")
	}
}

func TestInvalidConfig(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, cfg := range []Config{{}, {Target: "x:1", Up: Link{Loss: 2}}, {Target: "x:1", Down: Link{Delay: -1}}} {
		if _, err := New(ln, cfg); err == nil {
			t.Errorf("New accepted %+v", cfg)
		}
	}
}
