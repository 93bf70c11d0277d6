package rawsock

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"testing"
	"time"
)

// pair returns the two ends of a TCP connection on 127.0.0.1.
func pair(t *testing.T) (a, b net.Conn) { return connPair(t, "tcp", "127.0.0.1:0") }

// connPair returns the two ends of a connection to a listener of network at addr.
func connPair(t *testing.T, network, addr string) (a, b net.Conn) {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err = net.Dial(network, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func TestReadWrite(t *testing.T) {
	// Far more bytes than the socket buffers hold, written in large pieces (which the writer
	// must push through EAGAIN) while the other end reads in small and large pieces, arrive
	// unchanged, then EOF.
	a, b := pair(t)
	r := rand.New(rand.NewPCG(3, 4))
	want := make([]byte, 6<<20+12345)
	for i := range want {
		want[i] = byte(r.Uint32())
	}
	write, read := Writer(a), Reader(b)
	done := make(chan error, 1)
	go func() {
		for rest := want; len(rest) > 0; {
			k := min(len(rest), 1+r.IntN(2<<20))
			n, err := write(rest[:k])
			if err != nil {
				done <- err
				return
			}
			if n != k {
				done <- io.ErrShortWrite
				return
			}
			rest = rest[k:]
		}
		done <- a.Close()
	}()
	var got []byte
	sizes := []int{7, 100, 64 << 10, 1 << 20}
	for i := 0; ; i++ {
		p := make([]byte, sizes[i%len(sizes)])
		k, err := read(p)
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
	}
	if err := <-done; err != nil {
		t.Fatalf("writing: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, not the %d written", len(got), len(want))
	}
}

func TestDeadlines(t *testing.T) {
	// The write deadline ends a write that waits for room with a timeout error; the bytes
	// it moved reach the other end.
	a, b := pair(t)
	read, write := Reader(b), Writer(a)
	if err := b.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 10)
	_, err := read(p)
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read past the deadline: %v, want a timeout", err)
	}
	// Long enough for the first write to start on a loaded machine.
	if err := a.SetWriteDeadline(time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	// Nobody reads b: a write larger than the socket buffers must time out.
	n, err := write(make([]byte, 64<<20))
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("write past the deadline: %d bytes, %v; want a timeout", n, err)
	}
	if n <= 0 || n >= 64<<20 {
		t.Fatalf("write past the deadline moved %d bytes, want some, not all", n)
	}
	if err := b.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	if k, err := read(p); err != nil || k == 0 {
		t.Fatalf("read after the deadline was cleared: %d, %v", k, err)
	}
}

func TestClosedPeer(t *testing.T) {
	// Writing to a connection whose peer has gone fails with an error (not a signal).
	a, b := pair(t)
	b.Close()
	write := Writer(a)
	var err error
	for range 100 {
		if _, err = write(make([]byte, 1<<20)); err != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err == nil {
		t.Fatal("writes to a closed peer kept succeeding")
	}
}

func TestNotASocket(t *testing.T) {
	// A connection that is not an operating-system socket is written as it is.
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go func() { _, _ = Writer(a)([]byte("pipe")) }()
	p := make([]byte, 4)
	if _, err := io.ReadFull(b, p); err != nil || string(p) != "pipe" {
		t.Fatalf("read through a pipe: %q, %v", p, err)
	}
}

func TestReadClosed(t *testing.T) {
	// An empty read returns at once; a read waiting for bytes ends with net.ErrClosed when its
	// own connection is closed; a read of a pipe (not a socket) reads it as it is.
	_, b := pair(t)
	read := Reader(b)
	if k, err := read(nil); k != 0 || err != nil {
		t.Fatalf("empty read: %d, %v", k, err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := read(make([]byte, 10))
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	b.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read of a closed connection: %v, want net.ErrClosed", err)
	}

	p, q := net.Pipe()
	defer p.Close()
	defer q.Close()
	go func() { _, _ = p.Write([]byte("pipe")) }()
	buf := make([]byte, 4)
	if k, err := Reader(q)(buf); err != nil || string(buf[:k]) != "pipe"[:k] || k == 0 {
		t.Fatalf("read through a pipe: %q, %v", buf[:k], err)
	}
}
