package daemon

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	api "github.com/floelabs/floe/api/daemon"
)

// startServer serves a daemon through its HTTPServer (the connection bounds the CLI uses) on
// 127.0.0.1 and returns its base URL.
func startServer(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := s.HTTPServer()
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return s, "http://" + ln.Addr().String()
}

// rawConn opens a connection and writes head (a request line and headers) and body to it.
func rawConn(t *testing.T, base, head string, body []byte) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write(append([]byte(head+"\r\n"), body...)); err != nil {
		t.Fatal(err)
	}
	return c
}

// readResponse reads one response from c within timeout.
func readResponse(t *testing.T, c net.Conn, timeout time.Duration) result {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(timeout))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{resp.StatusCode, resp.Header, b}
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A PUT whose body trickles in holds no publisher slot (other stores go through while it
// lasts), holds receive budget for what arrived (not for its Content-Length), and ends with 408
// once it falls under the minimum rate.
func TestSlowBodyHoldsNoSlot(t *testing.T) {
	m := newMem()
	s, base := startServer(t, Config{Publisher: true, Blobs: m, PublisherConcurrent: 1, PublisherBuffered: 1,
		BodyRateWindow: 500 * time.Millisecond, MinBodyRate: 1024})
	var slow []net.Conn
	for range 4 {
		slow = append(slow, rawConn(t, base, "PUT /v1/blobs HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n", []byte("ab")))
	}
	// Announcing the largest body reserves one first chunk, not the announced length.
	slow = append(slow, rawConn(t, base, fmt.Sprintf("PUT /v1/blobs HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n", api.DefaultMaxBodySize), []byte("ab")))
	waitFor(t, "the slow bodies to be received", func() bool { return s.recv.inUse() == 4*1000+recvChunk })

	for i := range 3 {
		if r := do(t, "PUT", base+"/v1/blobs", []byte{byte(i)}, nil); r.code != 200 {
			t.Fatalf("store %d next to slow bodies: %d %s", i, r.code, r.body)
		}
	}
	start := time.Now()
	r := readResponse(t, slow[0], 10*time.Second)
	wantError(t, r, 408, api.ReasonRequestTimeout)
	t.Logf("slow body cut after %v", time.Since(start))
	waitFor(t, "the receive budget to be given back", func() bool { return s.recv.inUse() == 0 })
	if n := m.storeCalls(); n != 3 {
		t.Errorf("%d stores, want 3", n)
	}
}

// A body that keeps moving above the minimum rate completes, however long it takes.
func TestSlowButMovingBody(t *testing.T) {
	m := newMem()
	_, base := startServer(t, Config{Publisher: true, Blobs: m, BodyRateWindow: time.Second, MinBodyRate: 512})
	data := bytes.Repeat([]byte("x"), 8*600)
	c := rawConn(t, base, fmt.Sprintf("PUT /v1/blobs HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n", len(data)), nil)
	start := time.Now()
	for p := range slices.Chunk(data, 600) {
		time.Sleep(250 * time.Millisecond)
		if _, err := c.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	if r := readResponse(t, c, 10*time.Second); r.code != 200 {
		t.Fatalf("a moving body of %v: %d %s", time.Since(start), r.code, r.body)
	}
	if d := time.Since(start); d < time.Second {
		t.Fatalf("the body took %v, not longer than the window: the test proves nothing", d)
	}
}

// Bodies being received are bounded in bytes: past MaxReceiveBuffer a PUT gets 429 with
// Retry-After, and the budget comes back when a body is done.
func TestReceiveBudget(t *testing.T) {
	m := newMem()
	s, base := startServer(t, Config{Publisher: true, Blobs: m, MaxBodySize: 100 << 10, MaxReceiveBuffer: 128 << 10})
	held := rawConn(t, base, fmt.Sprintf("PUT /v1/blobs HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n", 100<<10), make([]byte, 70<<10))
	waitFor(t, "the held body to grow", func() bool { return s.recv.inUse() == 100<<10 })
	r := do(t, "PUT", base+"/v1/blobs", make([]byte, 64<<10), nil)
	wantError(t, r, 429, api.ReasonTooManyRequests)
	if r.hdr.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After")
	}
	if r := do(t, "PUT", base+"/v1/blobs", make([]byte, 1<<10), nil); r.code != 200 {
		t.Fatalf("a small body within the budget: %d %s", r.code, r.body)
	}
	held.Close()
	waitFor(t, "the budget to come back", func() bool { return s.recv.inUse() == 0 })
	if r := do(t, "PUT", base+"/v1/blobs", make([]byte, 64<<10), nil); r.code != 200 {
		t.Fatalf("after the held body: %d %s", r.code, r.body)
	}
	if _, err := New(Config{Publisher: true, Blobs: m, MaxBodySize: 100 << 10, MaxReceiveBuffer: 99 << 10}); err == nil {
		t.Errorf("a receive buffer smaller than a body was accepted")
	}
}

// A client that does not read its response is disconnected after WriteStallTimeout, so that it
// does not keep its aggregator slot.
func TestNonReadingGet(t *testing.T) {
	m := newMem()
	big := make([]byte, 16<<20) // more than the sockets' buffers hold
	rand.Read(big)
	bigID := m.put(big)
	smallID := m.put([]byte("small"))
	s, base := startServer(t, Config{Aggregator: true, Blobs: m, AggregatorConcurrent: 1, AggregatorBuffered: 1,
		WriteStallTimeout: 500 * time.Millisecond})
	for range 2 {
		c := rawConn(t, base, "GET /v1/blobs/"+bigID.String()+" HTTP/1.1\r\nHost: x\r\n", nil)
		c.(*net.TCPConn).SetReadBuffer(4096)
	}
	waitFor(t, "both reads to be admitted", func() bool { return len(s.agg.queue) == 2 })
	start := time.Now()
	var refused int
	for {
		r := do(t, "GET", base+"/v1/blobs/"+smallID.String(), nil, nil)
		if r.code == 200 {
			break
		}
		if r.code != 429 {
			t.Fatalf("read next to stalled readers: %d %s", r.code, r.body)
		}
		if r.hdr.Get("Retry-After") == "" {
			t.Fatalf("429 without Retry-After")
		}
		refused++
		if time.Since(start) > 10*time.Second {
			t.Fatalf("the stalled readers kept their slots for %v (%d reads refused)", time.Since(start), refused)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("stalled readers released their slots after %v (%d reads refused meanwhile)", time.Since(start), refused)
	waitFor(t, "the slots to be free", func() bool { return len(s.agg.queue) == 0 })
}

// A body shorter than its Content-Length is a bad request, not an internal error.
func TestShortBody(t *testing.T) {
	m := newMem()
	_, base := startServer(t, Config{Publisher: true, Blobs: m})
	c := rawConn(t, base, "PUT /v1/blobs HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n", make([]byte, 50))
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	wantError(t, readResponse(t, c, 10*time.Second), 400, api.ReasonMalformedRequest)
	if m.storeCalls() != 0 {
		t.Errorf("a short body was stored")
	}
}

func TestBodyErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want error
	}{
		{io.ErrUnexpectedEOF, errShortBody},
		{fmt.Errorf("read tcp: %w", os.ErrDeadlineExceeded), errBodyTimeout},
	} {
		if got := bodyError(tc.err); !errors.Is(got, tc.want) {
			t.Errorf("bodyError(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// The slots and the receive buffer are visible as metrics.
func TestLimitMetrics(t *testing.T) {
	m := newMem()
	m.block = make(chan struct{})
	reg := prometheus.NewRegistry()
	s, base := startServer(t, Config{Publisher: true, Aggregator: true, Blobs: m, Registry: reg, PublisherConcurrent: 1})
	done := make(chan int, 2)
	for i := range 2 {
		go func() { done <- do(t, "PUT", base+"/v1/blobs", []byte{byte(i)}, nil).code }()
	}
	c := rawConn(t, base, "PUT /v1/blobs HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n", []byte("ab"))
	waitFor(t, "one store running, one queued, one body arriving", func() bool {
		return len(s.pub.queue) == 2 && s.recv.inUse() == 100
	})
	want := map[string]float64{"floe_daemon_publisher_running": 1, "floe_daemon_publisher_queued": 1,
		"floe_daemon_aggregator_running": 0, "floe_daemon_aggregator_queued": 0, "floe_daemon_receive_buffer_bytes": 100}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if v, ok := want[mf.GetName()]; ok {
			if got := mf.GetMetric()[0].GetGauge().GetValue(); got != v {
				t.Errorf("%s = %v, want %v", mf.GetName(), got, v)
			}
			delete(want, mf.GetName())
		}
	}
	if len(want) != 0 {
		t.Errorf("metrics missing: %v", want)
	}
	c.Close()
	close(m.block)
	for range 2 {
		if code := <-done; code != 200 {
			t.Errorf("store: %d", code)
		}
	}
}
