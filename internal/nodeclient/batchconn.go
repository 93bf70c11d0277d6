package nodeclient

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/floelabs/floe/internal/rawsock"
)

// Uploads over HTTP/1.1 write their TLS records in batches. crypto/tls writes each record
// (at most 16 KiB) with a write(2) of its own, and net/http hands it the body 32 KiB at a
// time: storing 256 MiB made the client some 70,000 write calls (0.44 CPU s), and woke the
// receiving node for each. A connection now takes the body in pieces of up to batchSize
// (ReadFrom), encrypts each piece's records into a buffer under TLS (batchingConn) and sends
// them with one write. Writes TLS makes on its own (the handshake, alerts) go out at once.

// batchSize is the most body bytes encrypted before a write.
const batchSize = 256 << 10

// batchPool recycles the buffers of batchingConn and batchedTLSConn.ReadFrom.
type batchPool struct{ p sync.Pool }

func (bp *batchPool) get() *[]byte {
	if b, ok := bp.p.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, batchSize+batchSize/8)
	return &b
}

func (bp *batchPool) put(b *[]byte) {
	*b = (*b)[:0]
	bp.p.Put(b)
}

// batchingConn is the TCP connection under TLS: between hold and release it keeps what TLS
// writes, and release sends it in one write.
type batchingConn struct {
	net.Conn
	pool  *batchPool
	write func([]byte) (int, error) // writes to Conn (rawsock.Writer); nil: Conn.Write

	mu   sync.Mutex
	held *[]byte // nil: writes go out at once
}

func (c *batchingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held == nil {
		return c.out(p)
	}
	*c.held = append(*c.held, p...)
	return len(p), nil
}

func (c *batchingConn) hold() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held == nil {
		c.held = c.pool.get()
	}
}

// heldLen returns how many bytes are held.
func (c *batchingConn) heldLen() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held == nil {
		return 0
	}
	return len(*c.held)
}

// flush sends what was kept and goes on holding.
func (c *batchingConn) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held == nil || len(*c.held) == 0 {
		return nil
	}
	_, err := c.out(*c.held)
	*c.held = (*c.held)[:0]
	return err
}

// release sends what was kept and writes at once again.
func (c *batchingConn) release() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.held
	if b == nil {
		return nil
	}
	c.held = nil
	defer c.pool.put(b)
	_, err := c.out(*b)
	return err
}

// out writes p to the TCP connection.
func (c *batchingConn) out(p []byte) (int, error) {
	if c.write != nil {
		return c.write(p)
	}
	return c.Conn.Write(p)
}

// batchedTLSConn is a TLS connection whose writes go out in one write(2) each.
type batchedTLSConn struct {
	*tls.Conn
	raw  *batchingConn
	pool *batchPool
}

func (c *batchedTLSConn) Write(p []byte) (int, error) {
	var n int
	for n < len(p) {
		k := min(len(p)-n, batchSize)
		c.raw.hold()
		_, err := c.Conn.Write(p[n : n+k])
		if rerr := c.raw.release(); err == nil {
			err = rerr
		}
		if err != nil {
			return n, err
		}
		n += k
	}
	return n, nil
}

// ReadFrom copies r to the connection in pieces of up to batchSize.
func (c *batchedTLSConn) ReadFrom(r io.Reader) (int64, error) {
	if lr, ok := r.(*io.LimitedReader); ok {
		if wt, ok := lr.R.(io.WriterTo); ok {
			return c.writeFrom(wt, lr.N)
		}
	}
	bp := c.pool.get()
	defer c.pool.put(bp)
	buf := (*bp)[:batchSize]
	var total int64
	for {
		k, err := io.ReadFull(r, buf)
		if k > 0 {
			if _, werr := c.Write(buf[:k]); werr != nil {
				return total, werr
			}
			total += int64(k)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// writeFrom has wt write at most limit bytes to the connection, encrypted from wt's own
// buffers: net/http hands a request body to ReadFrom as an io.LimitedReader at its
// Content-Length, and copying an upload body into a buffer first cost the client a copy of
// every sliver (a tenth of its CPU in a store). wt's writes, large (sliver data) or small
// (frame headers), are encrypted into the held batch, which goes out whenever it holds
// batchSize bytes.
func (c *batchedTLSConn) writeFrom(wt io.WriterTo, limit int64) (int64, error) {
	c.raw.hold()
	n, err := wt.WriteTo(&batchWriter{c: c, left: limit})
	if rerr := c.raw.release(); err == nil {
		err = rerr
	}
	return n, err
}

// errBodyTooLong: a body wrote more than its Content-Length.
var errBodyTooLong = errors.New("nodeclient: request body longer than its length")

// batchWriter writes through TLS into the held batch of c, at most left bytes.
type batchWriter struct {
	c    *batchedTLSConn
	left int64
}

func (w *batchWriter) Write(p []byte) (int, error) {
	var err error
	if int64(len(p)) > w.left {
		p, err = p[:w.left], errBodyTooLong
	}
	n := 0
	for n < len(p) {
		room := batchSize - w.c.raw.heldLen()
		if room <= 0 {
			if err := w.c.raw.flush(); err != nil {
				return n, err
			}
			continue
		}
		k := min(len(p)-n, room)
		if _, err := w.c.Conn.Write(p[n : n+k]); err != nil {
			return n, err
		}
		n += k
		w.left -= int64(k)
	}
	return n, err
}

// dialBatchedTLS returns a DialTLSContext for an HTTP/1.1 transport: it dials with d, runs the
// TLS handshake with cfg (bounded by timeout) and returns a batchedTLSConn.
func dialBatchedTLS(d *net.Dialer, cfg *tls.Config, pool *batchPool, timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		raw, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		bc := &batchingConn{Conn: raw, pool: pool, write: rawsock.Writer(raw)}
		cfg := cfg.Clone()
		cfg.NextProtos = []string{"http/1.1"}
		tc := tls.Client(bc, cfg)
		hctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		if err := tc.HandshakeContext(hctx); err != nil {
			raw.Close()
			return nil, err
		}
		return &batchedTLSConn{Conn: tc, raw: bc, pool: pool}, nil
	}
}
