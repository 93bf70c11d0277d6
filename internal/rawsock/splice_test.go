package rawsock

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// unixPair returns the two ends of a Unix stream connection.
func unixPair(t *testing.T) (a, b net.Conn) {
	return connPair(t, "unix", filepath.Join(t.TempDir(), "s"))
}

// newSplicerOrNot returns c's Splicer, failing the test if one is given where splicing is not
// supported or none where it is; nil means the build does not splice.
func newSplicerOrNot(t *testing.T, c net.Conn) *Splicer {
	t.Helper()
	s := NewSplicer(c)
	if (s != nil) != spliceSupported {
		t.Fatalf("NewSplicer gave a splicer: %v; this build splices: %v", s != nil, spliceSupported)
	}
	if s != nil {
		t.Cleanup(func() { s.Close() })
	}
	return s
}

func TestSplicer(t *testing.T) {
	// Far more bytes than the pipe and the socket buffers hold, spliced in pieces of every
	// size and page alignment, mixed with plain writes, arrive unchanged over Unix and TCP
	// connections, then EOF.
	for _, tc := range []struct {
		name string
		pair func(*testing.T) (net.Conn, net.Conn)
	}{{"unix", unixPair}, {"tcp", pair}} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := tc.pair(t)
			s := newSplicerOrNot(t, a)
			if s == nil {
				return
			}
			r := rand.New(rand.NewPCG(5, 6))
			want := make([]byte, 9<<20+4321)
			for i := range want {
				want[i] = byte(r.Uint32())
			}
			write := Writer(a)
			done := make(chan error, 1)
			go func() {
				for rest := want; len(rest) > 0; {
					k := min(len(rest), 1+r.IntN(3<<20))
					var n int
					var err error
					if r.IntN(4) == 0 {
						n, err = write(rest[:k])
					} else {
						n, err = s.Write(rest[:k])
					}
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
			got, err := io.ReadAll(b)
			if err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatalf("writing: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("read %d bytes, not the %d written", len(got), len(want))
			}
		})
	}
}

func TestSplicerErrors(t *testing.T) {
	a, _ := unixPair(t)
	s := newSplicerOrNot(t, a)
	if s == nil {
		return
	}
	// Nobody reads b: a write larger than the pipe and the socket buffers times out at the
	// write deadline, having moved some bytes, and the splicer is broken from then on (its
	// pipe may hold bytes that never reached the socket).
	if err := a.SetWriteDeadline(time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	n, err := s.Write(make([]byte, 64<<20))
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("splice past the deadline: %d bytes, %v; want a timeout", n, err)
	}
	if n <= 0 || n >= 64<<20 {
		t.Fatalf("splice past the deadline moved %d bytes, want some, not all", n)
	}
	if err := a.SetWriteDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err2 := s.Write([]byte("more")); err2 == nil {
		t.Fatal("a splicer whose write failed wrote again")
	}

	// A peer that has gone: an error, not a signal.
	c, d := unixPair(t)
	s2 := newSplicerOrNot(t, c)
	d.Close()
	if _, err := s2.Write(make([]byte, 1<<20)); err == nil {
		t.Fatal("a splice to a closed peer succeeded")
	}

	// After Close, writes fail; the connection stays open.
	e, f := unixPair(t)
	s3 := newSplicerOrNot(t, e)
	if _, err := s3.Write(bytes.Repeat([]byte{1}, 100<<10)); err != nil {
		t.Fatal(err)
	}
	s3.Close()
	if _, err := s3.Write([]byte{1}); !errors.Is(err, errSplicerClosed) {
		t.Fatalf("write after Close: %v, want %v", err, errSplicerClosed)
	}
	if _, err := Writer(e)([]byte{2}); err != nil {
		t.Fatalf("the connection after its splicer closed: %v", err)
	}
	got := make([]byte, 100<<10+1)
	if _, err := io.ReadFull(f, got); err != nil || got[0] != 1 || got[len(got)-1] != 2 {
		t.Fatalf("read: %v", err)
	}
}

// BenchmarkUnixWrite: bytes written to a Unix socket in 800 KiB pieces (a sliver of a 256 MiB
// blob at n = 1000 is about 600 KB) with write(2) and spliced, read at the other end; the CPU
// of both ends is what to compare (go test -bench UnixWrite -benchtime 1152x, then
// /usr/bin/time or perf stat).
func BenchmarkUnixWrite(b *testing.B) {
	for _, mode := range []string{"write", "splice"} {
		b.Run(mode, func(b *testing.B) {
			ln, err := net.Listen("unix", filepath.Join(b.TempDir(), "s"))
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			a, err := net.Dial("unix", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer a.Close()
			c, err := ln.Accept()
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			_ = a.(*net.UnixConn).SetWriteBuffer(4 << 20)
			const piece = 800 << 10
			buf := make([]byte, 64*piece)
			for i := range buf {
				buf[i] = byte(i)
			}
			write := Writer(a)
			if mode == "splice" {
				s := NewSplicer(a)
				if s == nil {
					b.Skip("this build does not splice (not Linux, or the race detector)")
				}
				defer s.Close()
				write = s.Write
			}
			read := Reader(c)
			done := make(chan error, 1)
			total := b.N * piece
			go func() {
				p := make([]byte, piece)
				for got := 0; got < total; {
					n, err := read(p)
					if err != nil {
						done <- err
						return
					}
					got += n
				}
				done <- nil
			}()
			b.SetBytes(piece)
			b.ResetTimer()
			for i := range b.N {
				off := (i % 64) * piece
				if _, err := write(buf[off : off+piece]); err != nil {
					b.Fatal(err)
				}
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		})
	}
}
